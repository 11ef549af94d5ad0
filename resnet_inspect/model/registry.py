"""Which module builds each block type: one line per block type."""

from __future__ import annotations

from ..spec import Block
from .basic import BasicBlock
from .block import ResidualBlock
from .bottleneck import Bottleneck
from .sk_basic import SelectiveKernelBasic
from .sk_bottleneck import SelectiveKernelBottleneck

BLOCKS: dict[Block, type[ResidualBlock]] = {
    Block.BASIC: BasicBlock,
    Block.BOTTLENECK: Bottleneck,
    Block.SK_BASIC: SelectiveKernelBasic,
    Block.SK_BOTTLENECK: SelectiveKernelBottleneck,
}

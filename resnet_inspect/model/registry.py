"""Which module builds each block type: one line per block type."""

from __future__ import annotations

from ..spec import Block
from .basic import BasicBlock
from .block import ResidualBlock
from .bottleneck import Bottleneck
from .res2net import Res2NetBlock
from .resnest import ResNestBottleneck

BLOCKS: dict[Block, type[ResidualBlock]] = {
    Block.BASIC: BasicBlock,
    Block.BOTTLENECK: Bottleneck,
    Block.RESNEST: ResNestBottleneck,
    Block.RES2NET: Res2NetBlock,
}

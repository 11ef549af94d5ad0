"""Which module builds each block type: one line per block type."""

from __future__ import annotations

from ..spec import Block, ResNetSpec
from .basic import BasicBlock
from .block import ResidualBlock
from .bottleneck import Bottleneck
from .preact_basic import PreActBasicBlock
from .preact_bottleneck import PreActBottleneck

BLOCKS: dict[Block, type[ResidualBlock]] = {
    Block.BASIC: BasicBlock,
    Block.BOTTLENECK: Bottleneck,
}
# pre-activation (spec.preact): the same block types, normalised before each conv
PREACT_BLOCKS: dict[Block, type[ResidualBlock]] = {
    Block.BASIC: PreActBasicBlock,
    Block.BOTTLENECK: PreActBottleneck,
}


def block_class(spec: ResNetSpec) -> type[ResidualBlock]:
    return (PREACT_BLOCKS if spec.preact else BLOCKS)[spec.block]

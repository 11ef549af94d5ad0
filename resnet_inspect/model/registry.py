"""Which module builds each block type: one line per block type."""

from __future__ import annotations

from ..spec import Block, ResNetSpec
from .basic import BasicBlock
from .block import ResidualBlock
from .bottleneck import Bottleneck
from .preact_basic import PreActBasicBlock
from .preact_bottleneck import PreActBottleneck
from .res2net import Res2NetBlock
from .resnest import ResNestBottleneck
from .sk_basic import SelectiveKernelBasic
from .sk_bottleneck import SelectiveKernelBottleneck

BLOCKS: dict[Block, type[ResidualBlock]] = {
    Block.BASIC: BasicBlock,
    Block.BOTTLENECK: Bottleneck,
    Block.RESNEST: ResNestBottleneck,
    Block.RES2NET: Res2NetBlock,
    Block.SK_BASIC: SelectiveKernelBasic,
    Block.SK_BOTTLENECK: SelectiveKernelBottleneck,
}
# pre-activation (spec.preact): the same block types, normalised before each conv
PREACT_BLOCKS: dict[Block, type[ResidualBlock]] = {
    Block.BASIC: PreActBasicBlock,
    Block.BOTTLENECK: PreActBottleneck,
}


def block_class(spec: ResNetSpec) -> type[ResidualBlock]:
    return (PREACT_BLOCKS if spec.preact else BLOCKS)[spec.block]

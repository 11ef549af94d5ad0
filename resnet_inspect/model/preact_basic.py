"""Pre-activation basic block (He et al. 2016, "Identity mappings"; timm's PreActBasic):
norm and ReLU, then each 3x3 conv; nothing after the sum."""

from __future__ import annotations

from torch import nn

from ..spec import Block
from .block import BlockContext, ResidualBlock
from .layers import make_conv, make_norm_act


class PreActBasicBlock(ResidualBlock):
    kind = Block.BASIC
    pre = ("norm1",)  # a projection shortcut reads the pre-activated input, as timm's
    main = ("conv1", "norm2", "conv2", "drop_path")
    post = ()
    zero_init_name = "conv2"  # the branch ends in a conv, not a norm (timm's zero_init_last)

    def __init__(self, ctx: BlockContext, downsample: nn.Module | None) -> None:
        super().__init__()
        spec, planes = ctx.spec, ctx.planes
        self.add_optional_parts(ctx, planes)  # drop path only: resnetv2 has no aa or attention
        self.norm1 = make_norm_act(spec.norm, ctx.in_ch)
        self.conv1 = make_conv(spec.conv, ctx.in_ch, planes, 3, ctx.stride, ctx.first_dilation)
        self.norm2 = make_norm_act(spec.norm, planes)
        self.conv2 = make_conv(spec.conv, planes, planes, 3, dilation=ctx.dilation)
        self.downsample = downsample

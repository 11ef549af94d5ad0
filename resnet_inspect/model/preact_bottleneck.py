"""Pre-activation bottleneck (He et al. 2016, "Identity mappings"; timm's PreActBottleneck):
norm and ReLU before each of 1x1 reduce, 3x3 (which strides), 1x1 expand; nothing after the
sum."""

from __future__ import annotations

from torch import nn

from ..spec import Block
from .block import BlockContext, ResidualBlock
from .layers import make_conv, make_norm_act


class PreActBottleneck(ResidualBlock):
    kind = Block.BOTTLENECK
    pre = ("norm1",)  # a projection shortcut reads the pre-activated input, as timm's
    main = ("conv1", "norm2", "conv2", "norm3", "conv3", "drop_path")
    post = ()
    zero_init_name = "conv3"  # the branch ends in a conv, not a norm (timm's zero_init_last)

    def __init__(self, ctx: BlockContext, downsample: nn.Module | None) -> None:
        super().__init__()
        spec, width = ctx.spec, ctx.spec.inner_width(ctx.stage)
        self.add_optional_parts(ctx, width)  # drop path only: resnetv2 has no aa or attention
        self.norm1 = make_norm_act(spec.norm, ctx.in_ch)
        self.conv1 = make_conv(spec.conv, ctx.in_ch, width, 1)
        self.norm2 = make_norm_act(spec.norm, width)
        self.conv2 = make_conv(spec.conv, width, width, 3, ctx.stride, ctx.first_dilation)
        self.norm3 = make_norm_act(spec.norm, width)
        self.conv3 = make_conv(spec.conv, width, ctx.out_ch, 1)
        self.downsample = downsample

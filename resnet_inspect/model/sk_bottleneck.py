"""Selective-kernel bottleneck (timm's SelectiveKernelBottleneck): 1x1 reduce, a
selective-kernel conv in place of the (grouped) 3x3, 1x1 expand. The selective-kernel conv
always takes the block's stride."""

from __future__ import annotations

from torch import nn

from ..spec import Block
from .block import BlockContext, ResidualBlock, make_attn
from .layers import DropPath, conv1x1
from .selective_kernel import ConvNorm, SelectiveKernel


class SelectiveKernelBottleneck(ResidualBlock):
    kind = Block.SK_BOTTLENECK
    main = ("conv1", "conv2", "conv3", "se", "drop_path")
    post = ("act",)
    zero_init_name = "conv3.bn"

    def __init__(self, ctx: BlockContext, downsample: nn.Module | None) -> None:
        super().__init__()
        spec, bias = ctx.spec, ctx.bias
        width, first = spec.sk_out_channels(ctx.stage), spec.first_width(ctx.stage)
        self.conv1 = ConvNorm(conv1x1(ctx.in_ch, first, bias=bias), spec.norm, act=True)
        self.conv2 = SelectiveKernel(
            first, width, stride=ctx.stride, dilation=ctx.first_dilation, groups=spec.groups,
            attn_channels=spec.sk_channels(width), split=spec.sk_split, norm=spec.norm, bias=bias,
            aa=spec.aa,
        )  # fmt: skip
        self.conv3 = ConvNorm(conv1x1(width, ctx.out_ch, bias=bias), spec.norm, act=False)
        self.aa = None  # the selective-kernel paths filter their own strided outputs
        self.se = make_attn(spec, ctx.out_ch, spec.nominal_out_channels(ctx.stage))
        self.drop_path = DropPath(ctx.drop_path) if ctx.drop_path > 0 else None
        self.downsample = downsample
        self.act = nn.ReLU(inplace=True)

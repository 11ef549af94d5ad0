"""Selective-kernel basic block (timm's SelectiveKernelBasic): the first 3x3 conv becomes a
selective-kernel conv (two paths, see selective_kernel.py), the second stays a 3x3."""

from __future__ import annotations

from torch import nn

from ..spec import Block
from .block import BlockContext, ResidualBlock, make_attn
from .layers import DropPath, conv3x3
from .selective_kernel import ConvNorm, SelectiveKernel


class SelectiveKernelBasic(ResidualBlock):
    kind = Block.SK_BASIC
    main = ("conv1", "conv2", "se", "drop_path")
    post = ("act",)
    zero_init_name = "conv2.bn"

    def __init__(self, ctx: BlockContext, downsample: nn.Module | None) -> None:
        super().__init__()
        spec = ctx.spec
        first = spec.sk_out_channels(ctx.stage)
        self.conv1 = SelectiveKernel(
            ctx.in_ch, first, stride=ctx.stride, dilation=ctx.first_dilation, groups=1,
            attn_channels=spec.sk_channels(first), split=spec.sk_split, norm=spec.norm,
            bias=ctx.bias, aa=spec.aa,
        )  # fmt: skip
        self.conv2 = ConvNorm(conv3x3(first, ctx.out_ch, dilation=ctx.dilation, bias=ctx.bias), spec.norm, act=False)
        self.aa = None  # the selective-kernel paths filter their own strided outputs
        self.se = make_attn(spec, ctx.out_ch, spec.nominal_out_channels(ctx.stage))
        self.drop_path = DropPath(ctx.drop_path) if ctx.drop_path > 0 else None
        self.downsample = downsample
        self.act = nn.ReLU(inplace=True)

"""Bottleneck: 1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand (ResNet-50 and up)."""

from __future__ import annotations

from torch import nn

from ..spec import Block, StrideIn
from .block import BlockContext, ResidualBlock
from .layers import conv1x1, conv3x3, make_norm


class Bottleneck(ResidualBlock):
    kind = Block.BOTTLENECK
    main = ("conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "aa", "conv3", "bn3", "se", "drop_path")
    post = ("relu3",)
    zero_init_name = "bn3"

    def __init__(self, ctx: BlockContext, downsample: nn.Module | None) -> None:
        super().__init__()
        spec, bias = ctx.spec, ctx.bias
        first, width, out = ctx.channels  # first: SENet-154 halves it; all three: pruned nets
        # v1.5 (torchvision) strides on the 3x3; the paper's v1 strides on the first 1x1.
        s1, s3 = (ctx.stride, 1) if spec.stride_in is StrideIn.CONV1X1 else (1, ctx.stride)
        # anti-aliasing takes the 3x3's stride (timm's blocks; with stride_in=1x1 the 1x1 keeps it)
        if self.add_optional_parts(ctx, width) and spec.stride_in is StrideIn.CONV3X3:
            s3 = 1
        self.conv1 = conv1x1(ctx.in_ch, first, s1, bias=bias)
        self.bn1 = make_norm(spec.norm, first, spec.bn_eps)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(first, width, s3, spec.groups, ctx.first_dilation, bias=bias)
        self.bn2 = make_norm(spec.norm, width, spec.bn_eps)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = conv1x1(width, out, bias=bias)
        self.bn3 = make_norm(spec.norm, out, spec.bn_eps)
        self.downsample = downsample
        self.relu3 = nn.ReLU(inplace=True)

"""BasicBlock: two 3x3 convs (ResNet-18/34 and the CIFAR nets)."""

from __future__ import annotations

from torch import nn

from ..spec import Block
from .block import BlockContext, ResidualBlock
from .layers import conv3x3, make_norm


class BasicBlock(ResidualBlock):
    kind = Block.BASIC
    main = ("conv1", "bn1", "relu1", "aa", "conv2", "bn2", "branch_relu", "se", "drop_path")
    post = ("relu2",)
    zero_init_name = "bn2"

    def __init__(self, ctx: BlockContext, downsample: nn.Module | None) -> None:
        super().__init__()
        norm = ctx.spec.norm
        first, planes = ctx.channels  # first: planes // reduce_first, unless pruned
        stride = 1 if self.add_optional_parts(ctx, first) else ctx.stride
        self.conv1 = conv3x3(ctx.in_ch, first, stride, dilation=ctx.first_dilation, bias=ctx.bias)
        self.bn1 = make_norm(norm, first, ctx.spec.bn_eps)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(first, planes, dilation=ctx.dilation, bias=ctx.bias)
        self.bn2 = make_norm(norm, planes, ctx.spec.bn_eps)
        # legacy SENet's SEResNetBlock: a ReLU ends the branch, before the gate and the sum
        self.branch_relu = nn.ReLU(inplace=True) if ctx.spec.branch_relu else None
        self.downsample = downsample
        self.relu2 = nn.ReLU(inplace=True)

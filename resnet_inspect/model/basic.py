"""BasicBlock: two 3x3 convs (ResNet-18/34 and the CIFAR nets)."""

from __future__ import annotations

from torch import nn

from ..spec import Block
from .block import BlockContext, ResidualBlock
from .layers import conv3x3, make_norm


class BasicBlock(ResidualBlock):
    kind = Block.BASIC
    main = ("conv1", "bn1", "relu1", "conv2", "bn2")
    post = ("relu2",)
    last_norm_name = "bn2"

    def __init__(self, ctx: BlockContext, downsample: nn.Module | None) -> None:
        super().__init__()
        norm, planes = ctx.spec.norm, ctx.planes
        self.conv1 = conv3x3(ctx.in_ch, planes, ctx.stride, dilation=ctx.first_dilation, bias=ctx.bias)
        self.bn1 = make_norm(norm, planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, dilation=ctx.dilation, bias=ctx.bias)
        self.bn2 = make_norm(norm, planes)
        self.downsample = downsample
        self.relu2 = nn.ReLU(inplace=True)

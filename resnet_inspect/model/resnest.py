"""ResNeSt's block (Zhang et al. 2020, "ResNeSt: Split-Attention Networks"), in timm's layout.

A bottleneck whose 3x3 is split attention: ``radix`` branches of the 3x3 (one grouped conv
computes them all, ``groups x radix`` groups), summed, globally pooled, squeezed by ``fc1`` and
expanded by ``fc2`` into one weight per branch and channel, a softmax across the branches, and
the branches summed by those weights. With ``avd`` a 3x3/2 average pool takes the block's
stride from the 3x3 conv, before it (``avd_first``) or after it.

State-dict names are timm's (``conv2.conv``, ``conv2.bn0``, ``conv2.fc1``, ``conv2.bn1``,
``conv2.fc2``), so its checkpoints load strictly. One difference, in training only: timm's
block applies stochastic depth to the shortcut's input; this one drops the residual branch,
as every other block here (and the stochastic-depth paper) does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..spec import Block, ResNetSpec
from .block import BlockContext, ResidualBlock
from .layers import conv1x1, make_norm


class RadixSoftmax(nn.Module):
    """The branch weights from ``fc2``'s output (N x radix*C x 1 x 1, grouped: the channels of
    each group together): per group and channel, a softmax across the radix branches, returned
    branch by branch (the channels of branch 0 first). One branch: a sigmoid gate."""

    def __init__(self, radix: int, groups: int) -> None:
        super().__init__()
        self.radix, self.groups = radix, groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.radix == 1:
            return torch.sigmoid(x)
        n = x.shape[0]
        by_branch = x.view(n, self.groups, self.radix, -1).transpose(1, 2)
        return F.softmax(by_branch, dim=1).reshape(n, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"radix={self.radix}, groups={self.groups}"


class SplitAttention(nn.Module):
    """Split attention over ``radix`` branches of a 3x3 conv (timm's SplitAttn, as ``conv2``)."""

    def __init__(self, spec: ResNetSpec, stage: int, stride: int, dilation: int, bias: bool) -> None:
        super().__init__()
        channels, radix, groups = spec.inner_width(stage), spec.radix, spec.groups
        hidden = spec.attn_channels(stage)
        self.channels, self.radix = channels, radix
        # every branch at once: groups x radix groups, radix x channels outputs
        self.conv = nn.Conv2d(channels, channels * radix, 3, stride, padding=dilation,
                              dilation=dilation, groups=groups * radix, bias=bias)  # fmt: skip
        self.bn0 = make_norm(spec.norm, channels * radix)
        self.act0 = nn.ReLU(inplace=True)
        self.fc1 = nn.Conv2d(channels, hidden, 1, groups=groups)
        self.bn1 = make_norm(spec.norm, hidden)
        self.act1 = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels * radix, 1, groups=groups)
        self.rsoftmax = RadixSoftmax(radix, groups)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """One weight per branch and channel, from the channel means of the branches' sum."""
        hidden = self.act1(self.bn1(self.fc1(x.mean((2, 3), keepdim=True))))
        return self.rsoftmax(self.fc2(hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act0(self.bn0(self.conv(x)))
        if self.radix == 1:
            return x * self.attention(x)
        branches = torch.split(x, self.channels, dim=1)
        total = branches[0]
        for branch in branches[1:]:
            total = total + branch
        weights = torch.split(self.attention(total), self.channels, dim=1)
        out = branches[0] * weights[0]
        for branch, weight in zip(branches[1:], weights[1:], strict=True):
            out = out + branch * weight
        return out


class ResNestBottleneck(ResidualBlock):
    kind = Block.RESNEST
    main = ("conv1", "bn1", "relu1", "avd_first", "conv2", "avd_last", "conv3", "bn3", "se", "drop_path")
    post = ("relu3",)
    zero_init_name = "bn3"

    def __init__(self, ctx: BlockContext, downsample: nn.Module | None) -> None:
        super().__init__()
        spec, bias = ctx.spec, ctx.bias
        width = spec.inner_width(ctx.stage)
        # avd: a 3x3 average pool takes the stride of the 3x3 conv (only where the block strides)
        pool = nn.AvgPool2d(3, ctx.stride, padding=1) if spec.avd and ctx.stride > 1 else None
        self.conv1 = conv1x1(ctx.in_ch, width, bias=bias)
        self.bn1 = make_norm(spec.norm, width)
        self.relu1 = nn.ReLU(inplace=True)
        self.avd_first = pool if spec.avd_first else None
        conv_stride = 1 if pool is not None else ctx.stride
        self.conv2 = SplitAttention(spec, ctx.stage, conv_stride, ctx.first_dilation, bias)
        self.avd_last = None if spec.avd_first else pool
        self.conv3 = conv1x1(width, ctx.out_ch, bias=bias)
        self.bn3 = make_norm(spec.norm, ctx.out_ch)
        self.add_optional_parts(ctx, width)  # no anti-aliasing: the spec refuses aa here
        self.downsample = downsample
        self.relu3 = nn.ReLU(inplace=True)

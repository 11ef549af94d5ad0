"""The selective-kernel conv (Li et al. 2019, "Selective Kernel Networks"), in timm's layout.

Two paths see the same input (or half of its channels each, with ``sk_split``): a 3x3 conv
and a 3x3 of twice the dilation, timm's stand-in for the paper's 5x5. Each path is a conv,
its norm and a ReLU. An attention reads the sum of the paths (channel means, a 1x1 reduce,
norm, ReLU, a 1x1 to one weight per path and channel) and a softmax across the paths mixes
them. Module names are timm's (``paths.i.conv``/``.bn``, ``attn.fc_reduce``/``.bn``/
``.fc_select``), so its state_dicts load strictly.
"""

from __future__ import annotations

import torch
from torch import nn

from ..spec import SK_PATHS, AntiAlias, Norm
from .layers import conv3x3, make_aa, make_norm


class ConvNorm(nn.Module):
    """A conv, its norm, optionally a ReLU and an anti-aliasing filter after them: timm's
    ConvNormAct (its ``conv`` and ``bn``; the ReLU is a separate, parameter-free child)."""

    def __init__(self, conv: nn.Conv2d, norm: Norm, act: bool, aa: nn.Module | None = None) -> None:
        super().__init__()
        self.conv = conv
        self.bn = make_norm(norm, conv.out_channels)
        self.act = nn.ReLU(inplace=True) if act else None
        self.aa = aa

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        if self.act is not None:
            x = self.act(x)
        return x if self.aa is None else self.aa(x)


class SelectiveKernelPaths(nn.ModuleList):
    """The paths (timm's ModuleList ``paths``), called: each on its input, stacked on a new
    dimension 1, so the trace shows the stack as this module's work and its N x paths x C x
    H x W output."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.stack([path(x) for path, x in zip(self, inputs, strict=True)], dim=1)


class SelectiveKernelAttn(nn.Module):
    """Softmax weights over the paths, per channel, from the sum of the paths: a tensor of
    N x paths x C x 1 x 1. Its norm is a BatchNorm whatever the spec's norm, and its convs
    have no bias, as in timm (which does not hand its norm layer to the attention)."""

    def __init__(self, channels: int, attn_channels: int) -> None:
        super().__init__()
        self.fc_reduce = nn.Conv2d(channels, attn_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(attn_channels)
        self.act = nn.ReLU(inplace=True)
        self.fc_select = nn.Conv2d(attn_channels, channels * SK_PATHS, 1, bias=False)

    def forward(self, paths: torch.Tensor) -> torch.Tensor:
        x = paths.sum(1).mean((2, 3), keepdim=True)
        x = self.fc_select(self.act(self.bn(self.fc_reduce(x))))
        n, c, h, w = x.shape
        return torch.softmax(x.view(n, SK_PATHS, c // SK_PATHS, h, w), dim=1)


class SelectiveKernel(nn.Module):
    """The paths, stacked on a new dimension 1, weighted by the attention and summed."""

    def __init__(
        self, in_ch: int, out_ch: int, *, stride: int, dilation: int, groups: int, attn_channels: int,
        split: bool, norm: Norm, bias: bool, aa: AntiAlias,
    ) -> None:  # fmt: skip
        super().__init__()
        self.in_channels, self.split = in_ch, split
        path_in = in_ch // SK_PATHS if split else in_ch
        # timm's ConvNormAct hands a stride > 1 to the filter after the norm and ReLU
        use_aa = aa is not AntiAlias.NONE and stride > 1
        self.paths = SelectiveKernelPaths(
            ConvNorm(
                conv3x3(path_in, out_ch, 1 if use_aa else stride, groups, dilation * (i + 1), bias),
                norm, act=True, aa=make_aa(aa, out_ch, stride) if use_aa else None,
            )
            for i in range(SK_PATHS)
        )  # fmt: skip
        self.attn = SelectiveKernelAttn(out_ch, attn_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs = torch.split(x, self.in_channels // SK_PATHS, 1) if self.split else (x,) * SK_PATHS
        paths = self.paths(*inputs)
        return torch.sum(paths * self.attn(paths), dim=1)

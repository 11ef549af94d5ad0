"""The layers blocks and stems are made of: convolutions, normalisation, option-A shortcuts."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..spec import GROUP_NORM_GROUPS, Norm


def conv3x3(
    in_ch: int, out_ch: int, stride: int = 1, groups: int = 1, dilation: int = 1, bias: bool = False
) -> nn.Conv2d:
    # padding = dilation keeps the spatial size at stride 1 for any dilation
    return nn.Conv2d(
        in_ch, out_ch, 3, stride, padding=dilation, groups=groups, bias=bias, dilation=dilation
    )


def conv1x1(in_ch: int, out_ch: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 1, stride, bias=bias)


def make_norm(norm: Norm, channels: int) -> nn.Module:
    if norm is Norm.BATCH:
        return nn.BatchNorm2d(channels)
    if norm is Norm.GROUP:
        return nn.GroupNorm(GROUP_NORM_GROUPS, channels)
    return nn.Identity()


class ZeroPadShortcut(nn.Module):
    """The paper's option A: an identity that subsamples by the stride and pads the new
    channels with zeros. No parameters."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.in_ch, self.out_ch, self.stride = in_ch, out_ch, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.out_ch - self.in_ch))

    def extra_repr(self) -> str:
        return f"{self.in_ch}, {self.out_ch}, stride={self.stride}"


class AvgPool2x2Same(nn.Module):
    """A 2x2 average at stride 1 that keeps the size: zero-pad one pixel right and below, then
    average. timm's avg_down shortcut in a dilated stage (its ``AvgPool2dSame``), where the
    pool that would have strided still smooths. No parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.pad(x, (0, 1, 0, 1)), 2, 1)

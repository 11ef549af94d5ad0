"""The layers blocks and stems are made of: convolutions, normalisation, option-A shortcuts."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..spec import GROUP_NORM_GROUPS, AntiAlias, Norm


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


class SqueezeExcite(nn.Module):
    """Squeeze-excitation (Hu et al. 2018) in timm's layout (``fc1``, ``fc2``, biased 1x1
    convs): the channel means, squeezed to ``squeezed`` channels, ReLU, expanded, a sigmoid
    gate that scales each channel."""

    def __init__(self, channels: int, squeezed: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * torch.sigmoid(gate)


def eca_kernel(channels: int) -> int:
    """ECA's adaptive kernel (Wang et al. 2020, with timm's gamma 2, beta 1): |log2(C) + 1| / 2,
    made odd upwards, at least 3."""
    t = int(abs(math.log(channels, 2) + 1) / 2)  # math.log(c, 2) as timm, not log2: same rounding
    return max(t if t % 2 else t + 1, 3)


class EfficientChannelAttention(nn.Module):
    """ECA: the channel means, a 1-D conv across neighbouring channels (no bias), a sigmoid gate.
    One weight ``conv.weight`` of 1x1xk, as timm saves it."""

    def __init__(self, channels: int, kernel: int | None = None) -> None:
        super().__init__()
        k = kernel or eca_kernel(channels)
        self.conv = nn.Conv1d(1, 1, k, padding=(k - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x.mean((2, 3)).view(x.shape[0], 1, -1))
        # the gate as N x C x 1 x 1: it broadcasts over the spatial dimensions
        return x * torch.sigmoid(y).view(x.shape[0], -1, 1, 1)


_BINOMIAL_3 = (0.25, 0.5, 0.25)  # (1, 2, 1) / 4


class BlurPool(nn.Module):
    """A 3x3 binomial blur, then subsampling by ``stride`` (Zhang 2019; timm's BlurPool2d):
    reflect padding, a depthwise conv with fixed weights. The filter is a constant, not a
    parameter or a saved buffer, so it adds no state-dict keys (timm's is not persistent)."""

    def __init__(self, channels: int, stride: int = 2) -> None:
        super().__init__()
        self.channels, self.stride = channels, stride
        self._filters: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}

    def _filter(self, x: torch.Tensor) -> torch.Tensor:
        key = (x.device, x.dtype)
        if key not in self._filters:
            taps = [[a * b for b in _BINOMIAL_3] for a in _BINOMIAL_3]
            self._filters[key] = torch.tensor([[taps]] * self.channels, dtype=x.dtype, device=x.device)
        return self._filters[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = (self.stride - 1 + 2) // 2  # timm's get_padding(3, stride)
        x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
        return F.conv2d(x, self._filter(x), stride=self.stride, groups=self.channels)

    def extra_repr(self) -> str:
        return f"{self.channels}, stride={self.stride}"


def make_aa(aa: AntiAlias, channels: int, stride: int) -> nn.Module:
    """The anti-aliasing filter that takes a strided conv's stride (timm's create_aa)."""
    if aa is AntiAlias.AVG:
        return nn.AvgPool2d(stride)  # kernel = stride: 2x2 at 2, an identity at 1
    return BlurPool(channels, stride)


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016) on a residual branch: in training, each sample's
    branch is dropped with probability ``rate`` and the kept ones scaled by 1/(1-rate); at
    inference an identity that runs no operation. No parameters."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"rate={self.rate:.3g}"

"""The layers blocks and stems are made of: convolutions, normalisation, option-A shortcuts."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..spec import GROUP_NORM_GROUPS, AntiAlias, Conv, Norm


def conv3x3(
    in_ch: int, out_ch: int, stride: int = 1, groups: int = 1, dilation: int = 1, bias: bool = False
) -> nn.Conv2d:
    # padding = dilation keeps the spatial size at stride 1 for any dilation
    return nn.Conv2d(
        in_ch, out_ch, 3, stride, padding=dilation, groups=groups, bias=bias, dilation=dilation
    )


def conv1x1(in_ch: int, out_ch: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 1, stride, bias=bias)


def make_norm(norm: Norm, channels: int, eps: float = 1e-5) -> nn.Module:
    """The norm after a conv; ``eps`` is the batch norm's (spec.bn_eps)."""
    if norm is Norm.BATCH:
        return nn.BatchNorm2d(channels, eps=eps)
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


# --- pre-activation (timm's resnetv2.py): weight-standardised convs and norms that activate -------
BIT_STD_EPS = 1e-8  # BiT's weight standardisation (timm's _create_resnetv2_bit)


class StdConv2d(nn.Conv2d):
    """A conv whose filters are standardised on every forward (Qiao et al. 2019; BiT): each
    output channel's weights to mean 0 and variance 1 (the population variance, plus ``eps``),
    computed as a batch norm over the filters. It calls ``torch.batch_norm`` (nn.BatchNorm2d
    calls F.batch_norm), which the cost table prices as weight standardisation."""

    def __init__(self, *args: Any, eps: float = BIT_STD_EPS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = self.weight.reshape(1, self.out_channels, -1)
        w = torch.batch_norm(flat, None, None, None, None, True, 0.0, self.eps, False)
        return F.conv2d(x, w.reshape(self.weight.shape), self.bias, self.stride, self.padding,
                        self.dilation, self.groups)  # fmt: skip


def make_conv(conv: Conv, in_ch: int, out_ch: int, kernel: int, stride: int = 1,
              dilation: int = 1, bias: bool = False) -> nn.Conv2d:  # fmt: skip
    """A square conv with timm's symmetric padding, ((stride - 1) + dilation * (k - 1)) // 2."""
    pad = ((stride - 1) + dilation * (kernel - 1)) // 2
    cls = StdConv2d if conv is Conv.STD else nn.Conv2d
    return cls(in_ch, out_ch, kernel, stride, padding=pad, dilation=dilation, bias=bias)


class BatchNormAct(nn.BatchNorm2d):
    """Batch norm then ReLU, one module with the batch norm's keys (timm's BatchNormAct2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(super().forward(x), inplace=True)


class GroupNormAct(nn.GroupNorm):
    """GroupNorm (32 groups) then ReLU, with the group norm's keys (timm's GroupNormAct)."""

    def __init__(self, channels: int) -> None:
        super().__init__(GROUP_NORM_GROUPS, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(super().forward(x), inplace=True)


def _per_channel(p: torch.Tensor) -> torch.Tensor:
    return p.view(1, -1, 1, 1)


class EvoNormS0(nn.Module):
    """EvoNorm-S0 (Liu et al. 2020): x * sigmoid(v * x) divided by the standard deviation of
    its group (32 groups, population variance + eps), then a per-channel scale and shift.
    Keys ``weight``, ``bias``, ``v`` as timm's EvoNorm2dS0."""

    def __init__(self, channels: int, groups: int = GROUP_NORM_GROUPS, eps: float = 1e-5) -> None:
        super().__init__()
        self.groups, self.eps = groups, eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.v = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[0], x.shape[1]
        var = x.reshape(n, self.groups, -1).var(dim=2, unbiased=False, keepdim=True)
        std = (var + self.eps).sqrt().expand(n, self.groups, c // self.groups).reshape(n, c, 1, 1)
        x = x * torch.sigmoid(x * _per_channel(self.v)) / std
        return x * _per_channel(self.weight) + _per_channel(self.bias)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, groups={self.groups}, eps={self.eps}"


class FilterResponseNormTLU(nn.Module):
    """Filter response normalisation (Singh & Krishnan 2020): x divided by the root mean square
    over each channel's plane (+ eps), a per-channel scale and shift, then the thresholded
    linear unit max(x, tau). Keys ``weight``, ``bias``, ``tau`` as timm's FilterResponseNormTlu2d."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.tau = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * torch.rsqrt((x * x).mean(dim=(2, 3), keepdim=True) + self.eps)
        x = x * _per_channel(self.weight) + _per_channel(self.bias)
        return torch.maximum(x, _per_channel(self.tau))

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


def make_norm_act(norm: Norm, channels: int) -> nn.Module:
    """A pre-activation block's norm, with its activation (ReLU, or the norm's own)."""
    if norm is Norm.BATCH:
        return BatchNormAct(channels)
    if norm is Norm.GROUP:
        return GroupNormAct(channels)
    if norm is Norm.EVONORM:
        return EvoNormS0(channels)
    if norm is Norm.FRN:
        return FilterResponseNormTLU(channels)
    raise ValueError(f"norm={norm.value} has no pre-activation form")  # refused by the spec


# --- CLIP's attention pool (Radford et al. 2021; OpenAI's clip/model.py AttentionPool2d) ----------
class AttentionPool2d(nn.Module):
    """The attention-pool head (head=attn): the grid's mean token, prepended to the grid's
    tokens, all with a learned positional embedding, queries them in ``heads`` heads; the
    result goes through ``c_proj``. Keys as OpenAI's: ``positional_embedding`` ((grid^2 + 1) x
    C), ``q_proj``, ``k_proj``, ``v_proj``, ``c_proj``. The embedding fixes the input size.

    Written out in plain operations (linear, matmul, softmax), not one fused attention call,
    so that the trace's cost table counts each one; only the mean token's query is computed,
    as it is the only output (OpenAI's forward queries ``x[:1]``)."""

    def __init__(self, channels: int, grid: int, heads: int, out_features: int) -> None:
        super().__init__()
        self.grid, self.heads = grid, heads
        # OpenAI's initialisation: normal, scaled by 1/sqrt(C)
        self.positional_embedding = nn.Parameter(torch.randn(grid * grid + 1, channels) / channels**0.5)
        self.k_proj = nn.Linear(channels, channels)
        self.q_proj = nn.Linear(channels, channels)
        self.v_proj = nn.Linear(channels, channels)
        # out_features=0 (num_classes=0): no c_proj, the pooled token is the output, as timm's
        # AttentionPool2d(out_features=0) for resnet50_clip(num_classes=0)
        self.c_proj: nn.Linear | None = nn.Linear(channels, out_features) if out_features else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        if (h, w) != (self.grid, self.grid):
            raise RuntimeError(
                f"the attention pool is made for a {self.grid}x{self.grid} grid of features (its "
                f"positional embedding), got {h}x{w}: give the input size the variant is made for "
                "(img_size)"
            )
        tokens = x.flatten(2).permute(0, 2, 1)  # N x HW x C
        tokens = torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)
        tokens = tokens + self.positional_embedding
        d = c // self.heads
        q = self.q_proj(tokens[:, :1]).view(n, 1, self.heads, d).transpose(1, 2)  # N x heads x 1 x d
        k = self.k_proj(tokens).view(n, -1, self.heads, d).transpose(1, 2)  # N x heads x L x d
        v = self.v_proj(tokens).view(n, -1, self.heads, d).transpose(1, 2)
        weights = torch.softmax(torch.matmul(q * d**-0.5, k.transpose(2, 3)), dim=-1)
        pooled = torch.matmul(weights, v).transpose(1, 2).reshape(n, c)
        return self.c_proj(pooled) if self.c_proj is not None else pooled

    def extra_repr(self) -> str:
        return f"grid={self.grid}, heads={self.heads}"

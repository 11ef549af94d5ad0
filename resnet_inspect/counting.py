"""What each operator costs: MACs and FLOPs from a module and its input and output shapes.

Two quantities, never mixed up:

* **MACs**: multiply-accumulates of convolution and linear layers only (the convention of
  the ResNet paper, torchvision's published ``_ops`` and fvcore's "flops"). Taken from the
  formulas of ``torch.utils.flop_counter`` (which counts 2 per multiply-add) halved.
* **FLOPs**: every floating-point operation of an inference forward pass:

  ============  ====================================================================
  convolution   2 per MAC, plus 1 per output element when the layer has a bias
  linear        2 per MAC, plus 1 per output element for the bias
  batch_norm    2 per element (eval mode: the statistics fold into a scale and a shift)
  group_norm    8 per element (mean 1, variance 3, normalise 2, scale and shift 2)
  relu          1 per element
  max_pool      kernel area - 1 comparisons per output element
  avg_pool      kernel area per output element (adds and one divide); global pooling:
                1 per input element
  add           1 per output element of every residual addition
  pad           0 (option-A shortcuts only move data)
  ============  ====================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn
from torch.utils.flop_counter import conv_flop_count, mm_flop

OPERATORS = (
    "convolution", "linear", "batch_norm", "group_norm", "relu", "max_pool", "avg_pool", "add",
    "pad",
)  # fmt: skip


@dataclass(frozen=True)
class Count:
    operator: str | None
    macs: int
    flops: int


NOTHING = Count(None, 0, 0)


def _pair(v: int | tuple[int, ...]) -> int:
    # every kernel, stride and dilation in a ResNet is square
    return v if isinstance(v, int) else v[0]


def geometry(module: nn.Module) -> dict[str, int | None]:
    """kernel, stride, dilation and groups of a conv or pooling layer (None elsewhere)."""
    if isinstance(module, nn.Conv2d):
        return dict(
            kernel=_pair(module.kernel_size), stride=_pair(module.stride),
            dilation=_pair(module.dilation), groups=module.groups,
        )  # fmt: skip
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        dilation = _pair(module.dilation) if isinstance(module, nn.MaxPool2d) else 1
        stride = module.stride if module.stride is not None else module.kernel_size
        return dict(kernel=_pair(module.kernel_size), stride=_pair(stride), dilation=dilation, groups=None)
    return dict(kernel=None, stride=None, dilation=None, groups=None)


def count_module(module: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> Count:
    """The work ``module`` itself does (not its submodules) for one forward call."""
    out = math.prod(out_shape) if out_shape else 0
    if isinstance(module, nn.Conv2d):
        w_shape = [module.out_channels, module.in_channels // module.groups, *module.kernel_size]
        macs = conv_flop_count(list(in_shape), w_shape, list(out_shape)) // 2
        return Count("convolution", macs, 2 * macs + (out if module.bias is not None else 0))
    if isinstance(module, nn.Linear):
        rows = math.prod(in_shape[:-1])
        macs = mm_flop([rows, module.in_features], [module.in_features, module.out_features]) // 2
        return Count("linear", macs, 2 * macs + (out if module.bias is not None else 0))
    if isinstance(module, nn.BatchNorm2d):
        return Count("batch_norm", 0, 2 * out)
    if isinstance(module, nn.GroupNorm):
        return Count("group_norm", 0, 8 * out)
    if isinstance(module, nn.ReLU):
        return Count("relu", 0, out)
    if isinstance(module, nn.MaxPool2d):
        return Count("max_pool", 0, out * (_pair(module.kernel_size) ** 2 - 1))
    if isinstance(module, nn.AvgPool2d):
        return Count("avg_pool", 0, out * _pair(module.kernel_size) ** 2)
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return Count("avg_pool", 0, math.prod(in_shape))
    return _count_composite(module, out)


def _count_composite(module: nn.Module, out: int) -> Count:
    from .model import ZeroPadShortcut, _Residual

    if isinstance(module, _Residual):
        return Count("add", 0, out)  # the residual addition, one per output element
    if isinstance(module, ZeroPadShortcut):
        return Count("pad", 0, 0)
    return NOTHING

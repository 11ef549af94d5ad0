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
from typing import TYPE_CHECKING

from torch import nn
from torch.utils.flop_counter import conv_flop_count, mm_flop

if TYPE_CHECKING:
    from .tracing import Trace

OPERATORS = (
    "convolution", "linear", "batch_norm", "group_norm", "relu", "max_pool", "avg_pool", "add",
    "pad",
)  # fmt: skip


# What each operator contributes to FLOPs, as the tables and --help state it.
OPERATOR_RULES = {
    "convolution": "2/MAC, +1/output if bias",
    "linear": "2/MAC, +1/output (bias)",
    "batch_norm": "2/element (scale, shift)",
    "group_norm": "8/element",
    "relu": "1/element",
    "max_pool": "k*k-1 per output",
    "avg_pool": "k*k per output; global: 1/input",
    "add": "1/element (residual sum)",
    "pad": "0 (moves data)",
}


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


# --- fvcore, as a second opinion on real tensors -----------------------------------------------
FVCORE_MAC_OPS = ("conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum")


@dataclass(frozen=True)
class FvcoreCount:
    """fvcore's numbers for one module: its conv/linear part (MACs) and its whole "flops",
    which add fvcore's own rules for batch norm and adaptive pooling (and skip ReLU, max-pool
    and the residual additions)."""

    macs: int
    fvcore_flops: int
    by_operator: tuple[tuple[str, int], ...]


def fvcore_memory_bytes(trace: Trace) -> int:
    """What running fvcore for real needs, in float32: the parameters, the input and every
    activation (its JIT trace keeps them alive). Derived from the meta-device trace."""
    from .units import DTYPE_BYTES

    activations = trace.totals.activation_bytes // DTYPE_BYTES[trace.dtype]
    return 4 * (trace.totals.params + activations + math.prod(trace.input_shape))


def check_fvcore_fits(trace: Trace, share_of_available: float = 0.8) -> None:
    """Refuse, before allocating anything, an input fvcore could not run on here."""
    need, have = fvcore_memory_bytes(trace), available_memory_bytes()
    if need > share_of_available * have:
        from .errors import RuntimeFailure
        from .units import shape_text

        raise RuntimeFailure(
            f"--counter fvcore runs on real tensors and would need ~{need / 2**30:.1f} GiB for "
            f"--input {shape_text(trace.input_shape)} ({have / 2**30:.1f} GiB available); "
            "use --counter torch, which counts on the meta device"
        )


def available_memory_bytes() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def fvcore_counts(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, FvcoreCount]:
    """Run fvcore's FlopCountAnalysis on ``model`` (built on the meta device: its memory is
    made real here, uninitialised, which counting does not read) with a zero input."""
    import torch

    from .errors import RuntimeFailure

    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError:
        raise RuntimeFailure(
            "--counter fvcore: fvcore is not installed here (pip install fvcore), "
            "or use --counter torch"
        ) from None
    import warnings

    model = model.to_empty(device="cpu").eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fvcore's JIT tracing warns about torch.jit itself
            analysis = FlopCountAnalysis(model, torch.zeros(input_shape))
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            table = analysis.by_module_and_operator()
    except (RuntimeError, MemoryError) as exc:
        raise RuntimeFailure(f"--counter fvcore failed: {str(exc).splitlines()[0]}") from None
    out = {}
    for name, ops in table.items():
        macs = sum(v for op, v in ops.items() if op in FVCORE_MAC_OPS)
        out[name] = FvcoreCount(macs, sum(ops.values()), tuple(sorted(ops.items())))
    return out

"""fvcore's FlopCountAnalysis as a second opinion on real tensors (``flops --counter fvcore``).

fvcore counts one fused multiply-add as one "flop": its conv and linear numbers are MACs,
which the tests and the flops table compare with the cost table's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:
    from ..tracing import Trace

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
    from ..units import DTYPE_BYTES

    activations = trace.totals.activation_bytes // DTYPE_BYTES[trace.dtype]
    return 4 * (trace.totals.params + activations + math.prod(trace.input_shape))


def check_fvcore_fits(trace: Trace, share_of_available: float = 0.8) -> None:
    """Refuse, before allocating anything, an input fvcore could not run on here."""
    need, have = fvcore_memory_bytes(trace), available_memory_bytes()
    if need > share_of_available * have:
        from ..errors import RuntimeFailure
        from ..units import shape_text

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

    from ..errors import RuntimeFailure

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

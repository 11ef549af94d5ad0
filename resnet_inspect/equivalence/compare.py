"""Two models' outputs on the same random inputs, compared by scale-aware measures.

The measure is the relative L2 difference ``||a - b|| / ||b||`` (``b``: the reference's
output), with the cosine similarity beside it, as torch.ao's numeric suite compares a model
with its quantised shadow: one absolute tolerance would be too loose for small outputs and too
tight for large ones. Two outputs are *equal* when the relative difference is at most
:data:`TOLERANCE` for the dtype compared.

The tolerance. Two models that compute the same function with the same weights differ only by
rounding where they order the same arithmetic differently. One float32 rounding is at most
2**-24 (6e-8) relative; measured (tests/test_equivalence.py, benchmarks/identify_function.py):
a hand-written resnet50 at 224x224 that runs its convolutions in channels_last (oneDNN blocks
the sums differently) differs from resnet50 by 3.7e-7 at the output; renamed copies, functional
calls and ``x.mean((2, 3))`` for adaptive pooling by exactly 0. The smallest departure that
changes the function met in the tests, a conv bias (standard deviation 0.1) in the stem of resnet18,
leaves 1.4e-2 (224x224) to 3.0e-2 (32x32). 1e-4 sits two decades from each: about 1,600 float32
roundings, and a change that moves the output by 0.01 % is called a difference. float32
rather than float64: a float64 resnet50 pass takes 1.6 times as long on this tool's 2-core
CPU, and float32 already separates the two cases; in float64 the same reasoning gives 1e-10.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

TOLERANCE = {"float32": 1e-4, "float64": 1e-10}
DEFAULT_INPUTS = 3
# What a CPU comparison may hold: both models' parameters and, for the localisation, every
# mapped module's input and output on one input: tracing/realpass's budget and its estimate of
# the activations a pass keeps (256 times the input covers the common ResNets).
COMPARE_BUDGET_BYTES = 1 << 30
ACTIVATIONS_PER_INPUT = 256


def relative_l2(mine: torch.Tensor, reference: torch.Tensor) -> float:
    """``||mine - reference|| / ||reference||`` in float64, both scaled first by the largest
    magnitude either holds (the ratio does not change; no square overflows, even near
    float64's largest values); 0 for two zero (or identical) tensors, inf where only the
    reference is zero, the shapes differ, or a value is not finite and the two are not
    identical."""
    return measures(mine, reference)[0]


def cosine(mine: torch.Tensor, reference: torch.Tensor) -> float:
    """The cosine of the angle between the two, in float64, after the same scaling (the angle
    does not change; no product overflows); NaN where the shapes differ or a value is not
    finite."""
    return measures(mine, reference)[1]


def measures(mine: torch.Tensor, reference: torch.Tensor) -> tuple[float, float]:
    """:func:`relative_l2` and :func:`cosine` from one float64 copy of each tensor: the
    localisation measures every mapped module's output, so each pass over the values counts.
    The largest magnitude, taken in the tensors' own dtype, also tells whether every value is
    finite (a NaN or an inf makes it so)."""
    if mine.shape != reference.shape:
        return math.inf, math.nan
    a, b = mine.detach(), reference.detach()
    la, lb = _largest(a), _largest(b)
    if not (math.isfinite(la) and math.isfinite(lb)):
        return (0.0 if bool(torch_equal(a, b)) else math.inf), math.nan
    scale = max(la, lb)
    if scale == 0.0:
        return 0.0, 1.0
    import torch

    # copies (``double()`` of a float64 tensor is the tensor itself), scaled in place
    a, b = (t.to(torch.float64, copy=True).flatten().div_(scale) for t in (a, b))
    norm_a, norm_b = float(a.norm()), float(b.norm())
    dot = float(a @ b)
    num = float(a.sub_(b).norm())
    rel = (0.0 if num == 0.0 else math.inf) if norm_b == 0.0 else num / norm_b
    den = norm_a * norm_b
    return rel, (dot / den if den else (1.0 if norm_a == norm_b else 0.0))


def torch_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal in every element, NaN to NaN and inf to inf at the same places."""
    import torch

    same_nans = torch.equal(a.isnan(), b.isnan())
    return same_nans and torch.equal(a.nan_to_num(0.0), b.nan_to_num(0.0))


def _largest(t: torch.Tensor) -> float:
    """The largest magnitude; NaN where a value is NaN (torch's max propagates it)."""
    return float(t.abs().max()) if t.numel() else 0.0


def tensors(output: Any) -> list[torch.Tensor]:
    """The tensors in a module's output: a tensor, or those in a tuple, list or dict."""
    import torch

    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, (tuple, list)):
        return [t for o in output for t in tensors(o)]
    if isinstance(output, dict):
        return [t for o in output.values() for t in tensors(o)]
    return []


def difference(mine: Any, reference: Any) -> tuple[float, float]:
    """The largest relative L2 difference and the smallest cosine over the outputs' tensors."""
    a, b = tensors(mine), tensors(reference)
    if len(a) != len(b) or not b:
        return math.inf, math.nan
    both = [measures(x, y) for x, y in zip(a, b, strict=True)]
    return max(r for r, _ in both), min(c for _, c in both)


@dataclass(frozen=True)
class OutputComparison:
    """What was compared and what came out: ``equal`` when every input's relative L2
    difference is at most ``tolerance``."""

    metric: str
    inputs: int
    dtype: str
    input_shape: tuple[int, ...]
    tolerance: float
    largest_difference: float  # relative L2, over the inputs
    smallest_cosine: float
    output_shape: tuple[int, ...] | None  # the reference's
    user_output_shape: tuple[int, ...] | None
    seed: int
    # inputs on which an output overflowed ``dtype`` (inf or NaN where the other's is finite)
    # and both models were run again in float64 for the difference (see compare_outputs)
    in_float64: int = 0

    @property
    def dtype_text(self) -> str:
        """``float32``; ``float32 (2 of 3 inputs in float64: float32 overflowed)``."""
        if not self.in_float64:
            return self.dtype
        return (f"{self.dtype} ({self.in_float64} of {self.inputs} input{'s' if self.inputs != 1 else ''} "
                f"in float64: {self.dtype} overflowed)")  # fmt: skip

    @property
    def equal(self) -> bool:
        return self.largest_difference <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "inputs": self.inputs, "dtype": self.dtype,
                "input_shape": list(self.input_shape), "tolerance": self.tolerance,
                "largest_difference": _finite(self.largest_difference),
                "smallest_cosine": _finite(self.smallest_cosine), "equal": self.equal, "seed": self.seed,
                "inputs_in_float64": self.in_float64}  # fmt: skip


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def random_inputs(
    input_shape: Sequence[int], count: int, seed: int, dtype: str = "float32"
) -> list[torch.Tensor]:
    import torch

    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(tuple(input_shape), generator=gen, dtype=getattr(torch, dtype))
        for _ in range(count)
    ]


def compare_outputs(
    mine: Callable[[torch.Tensor], Any] | nn.Module, reference: Callable[[torch.Tensor], Any] | nn.Module,
    inputs: Sequence[torch.Tensor], seed: int = 0, known: Sequence[Any] = (),
) -> OutputComparison:  # fmt: skip
    """Run both on every input (inference mode) and compare their outputs; ``known``: the
    outputs of ``mine`` on the first inputs, computed already (the proof's alignment pass),
    not computed again. Where an output holds inf or NaN (a float32 overflow: a shortcut
    multiplied in grows without bound) and the two are not identical, both models are run
    again on that input in float64, on copies, so that the difference is a number where the
    function's values are (counted in ``in_float64``)."""
    import torch

    worst, least_cos, again = 0.0, 1.0, 0
    shapes: tuple[tuple[int, ...] | None, tuple[int, ...] | None] = (None, None)
    wide: tuple[Any, Any] | None = None
    with torch.inference_mode():
        for i, x in enumerate(inputs):
            a = known[i] if i < len(known) else mine(x.clone())
            b = reference(x.clone())
            rel, cos = difference(a, b)
            if math.isinf(rel) and _overflowed(a, b) and x.dtype == torch.float32:
                wide = wide or _float64(mine, reference)
                if wide is not None:
                    try:
                        rel, cos = difference(wide[0](x.double()), wide[1](x.double()))
                        again += 1
                    except Exception:  # the user's forward in float64 (a float32 constant)
                        pass
            worst = max(worst, rel) if not math.isnan(rel) else math.inf
            least_cos = min(least_cos, cos) if not math.isnan(cos) else math.nan
            shapes = (_shape(b), _shape(a))
    dtype = str(inputs[0].dtype).removeprefix("torch.")
    return OutputComparison("relative L2", len(inputs), dtype, tuple(inputs[0].shape), TOLERANCE[dtype],
                            worst, least_cos, shapes[0], shapes[1], seed, again)  # fmt: skip


def _overflowed(mine: Any, reference: Any) -> bool:
    """Whether a value of either output is not finite."""
    return any(not bool(t.isfinite().all()) for t in (*tensors(mine), *tensors(reference)))


def _float64(mine: Any, reference: Any) -> tuple[Any, Any] | None:
    """Float64 copies of both models (None where either is not a module, or cannot be copied)."""
    import copy

    from torch import nn

    if not (isinstance(mine, nn.Module) and isinstance(reference, nn.Module)):
        return None
    try:
        return copy.deepcopy(mine).double().eval(), copy.deepcopy(reference).double().eval()
    except Exception:  # a user's module that cannot be copied
        return None


def _shape(output: Any) -> tuple[int, ...] | None:
    found = tensors(output)
    return tuple(found[0].shape) if found else None


def bytes_needed(params: int, input_shape: Sequence[int], element_bytes: int = 4) -> int:
    """What comparing two models of ``params`` parameters each on ``input_shape`` holds: both
    models, and one pass's activations captured for the localisation (see above)."""
    return (
        2 * params * element_bytes
        + ACTIVATIONS_PER_INPUT * math.prod(input_shape) * element_bytes * 2
    )

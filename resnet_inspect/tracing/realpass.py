"""When the meta device cannot run a forward, and what a real pass on the CPU would cost.

The meta device has shapes but no values. A forward whose control flow reads a value
(``if x.sum() > 0``, ``.item()``, ``.tolist()``, a tensor used as a count) or calls an operator
whose output shape depends on values (``x[x > 0]``, ``nonzero``) or that torch cannot run on
meta at all (``unique``) fails there, although the model and its input are fine. Such a
failure is told apart from a real shape error (which fails on any device) by the function that
raised and by torch's own words, and the trace's caller may then run the pass on the CPU with
real tensors, if that fits :data:`REAL_PASS_BUDGET_BYTES`.
"""

from __future__ import annotations

import math

from ..errors import RuntimeFailure
from ..units import human_bytes, shape_text
from .recorder import Failure

# what each value-reading function does, as a sentence's object: "layer1.0 calls bool() on a tensor"
VALUE_READS = {
    "Tensor.__bool__": "bool() on a tensor",
    "Tensor.item": ".item()",
    "Tensor.tolist": ".tolist()",
    "Tensor.numpy": ".numpy()",
    "Tensor.__int__": "int() on a tensor",
    "Tensor.__float__": "float() on a tensor",
    "Tensor.__complex__": "complex() on a tensor",
    "Tensor.__index__": "__index__() on a tensor (one used as an index or a count)",
    "torch.allclose": "torch.allclose",
    "torch.equal": "torch.equal",
}
# torch 2.13's words for "a meta tensor has no values" (item, bool, int, float, index,
# allclose; tolist; numpy) and for "this output's shape depends on values" (nonzero, boolean
# masks, repeat_interleave), and for an operator without a meta kernel (unique, equal)
_NO_VALUES = ("cannot be called on meta tensors", "cannot copy out of meta tensor",
              "can't convert meta device type tensor")  # fmt: skip
_VALUE_SHAPED = ("data-independent implementation does not exist", "meta tensor without output_size")
_NO_META_KERNEL = ("attempted to run this operator with meta tensors",)

# A real pass needs the parameters, the input and, because the recorder keeps every tensor it
# saw referenced until the pass ends (so that no id is reused), the sum of all activations,
# not only their peak. Only those up to the failure are known. This tool's own traces put that
# sum at 50 (resnet18), 213 (resnet50), 441 (resnet152) and 613 (resnext101_32x8d) times the
# input; 256 covers the common ResNets (resnet50 at 4x3x224x224: estimated 714 MB, measured
# 627 MB more resident memory than the meta trace) and a deeper one overshoots it at most
# 2.4 times. One GiB runs in seconds on a laptop's CPU and fits any machine this tool runs on
# (resnet50 at 16x3x224x224 traces in 17 s on 2 shared cores); a larger input is refused, not
# attempted.
REAL_PASS_BUDGET_BYTES = 1 << 30
UNSEEN_ACTIVATIONS_PER_INPUT = 256


class MetaCannotTrace(RuntimeFailure):
    """The forward cannot run on the meta device (see the module's docstring); ``reason`` says
    why in words ("layer1.0 calls bool() on a tensor"), ``seen_bytes`` are the
    activations of the pass up to the failure (float32)."""

    def __init__(self, reason: str, seen_bytes: int) -> None:
        super().__init__(f"cannot be traced with meta tensors: {reason}; build the model on the "
                         "CPU to trace it with real tensors")  # fmt: skip
        self.reason = reason
        self.seen_bytes = seen_bytes


def meta_failure_reason(exc: BaseException, failure: Failure | None) -> str | None:
    """Why ``exc`` happened on the meta device only, in words; None for any other failure
    (a shape that does not fit fails on every device and is the input's fault)."""
    text = str(exc).lower()
    if "meta" not in text:
        return None
    known = failure if failure is not None and failure.exception is exc else None
    function = _function_words(known.function) if known is not None else ""
    where = (known.owner or "the model's own forward") if known is not None else "the forward"
    if function in VALUE_READS or any(p in text for p in _NO_VALUES):
        what = VALUE_READS.get(function, f"{function or 'a function'}, which reads a value")
        # bool() on a tensor is an if or a while; .item() and the like may only be logging
        does = "the forward's control flow depends on values" if function == "Tensor.__bool__" \
            else "the forward reads a tensor's values"
        return f"{does} ({where} calls {what})"
    if any(p in text for p in _VALUE_SHAPED):
        return (f"an output's shape depends on values ({where} calls {function or 'an operator'}, "
                "a boolean mask or nonzero)")  # fmt: skip
    if any(p in text for p in _NO_META_KERNEL):
        return f"torch has no meta kernel for an operator ({where} calls {function or 'it'})"
    return None


def _function_words(name: str) -> str:
    """The recorder's name of a torch function; a wrapper's local (torch.unique's
    ``boolean_dispatch.<locals>.fn``) names nothing a user wrote."""
    return "" if "<locals>" in name else name


def real_pass_bytes(params: int, input_shape: tuple[int, ...], seen_bytes: int) -> int:
    """Bytes a real float32 pass on the CPU would need: parameters, and the larger of the
    activations seen before the failure and the estimate from the input (see above)."""
    input_bytes = math.prod(input_shape) * 4
    return params * 4 + max(seen_bytes, UNSEEN_ACTIVATIONS_PER_INPUT * input_bytes)


def too_big(label: str, reason: str, input_shape: tuple[int, ...], needed: int) -> RuntimeFailure:
    """The one error where the meta device cannot trace and a real pass is too big: not bad
    input (exit 1), but a smaller input is the remedy, so it names the input argument."""
    return RuntimeFailure(
        f"{label}: cannot be traced with meta tensors, and a real pass on the CPU at input_shape "
        f"{shape_text(input_shape)} would need about {human_bytes(needed)}, more than the "
        f"{human_bytes(REAL_PASS_BUDGET_BYTES)} allowed: try a smaller input_shape; cause: {reason}",
        subject="input_shape",
    )  # fmt: skip


def real_pass_note(reason: str) -> str:
    """What every report says of a trace that ran on the CPU with real tensors."""
    return f"traced on the CPU with real tensors: {reason}; results are for one random input"

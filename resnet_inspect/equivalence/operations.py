"""A model's operations, read: one pass under the trace's recorder, each call classified and
put in words (``Step``: "ReLU", "LeakyReLU(0.1)", "a max-pool (3x3, stride 2)"), and the
residual units read from the data flow (``Unit``: what runs before the paths part, the
branch, the shortcut, how they combine, what follows). ``words.py`` compares two such
readings; this module only reads one.

What is read is what ran: a module defined and never called is not seen. Arguments the
recorder does not keep (``F.leaky_relu``'s slope, passed by position) are read from the call
itself, beside the recorder, or from the module that made it where that is torch's own.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..collector import collector_paused
from ..tracing.graph import CallGraph
from ..tracing.recorder import Recorded, Recorder
from ..tracing.tracer import evaluating


# --- one pass ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One recorded call, classified: what kind of operation, in words, and its data flow."""

    index: int
    kind: str  # conv, norm, act, combine, pool, dropout, flatten, view, linear, other
    what: str  # in words: "ReLU", "LeakyReLU(0.1)", "a max-pool (3x3, stride 2)", "subtracts"
    owner: str  # the module that ran it, from the pass's root ("" the root's own forward)
    ins: tuple[int, ...]  # the activations it read (tensors computed from the input), by id
    outs: tuple[int, ...]
    call: Recorded
    detail: str = ""  # a dropout's p, a pool's output size: what the words may add

    @property
    def inplace(self) -> bool:
        return bool(set(self.outs) & set(self.ins))


@dataclass(frozen=True)
class Pass:
    steps: tuple[Step, ...]
    spans: Mapping[str, tuple[int, int]]  # each module's first call: [first step, after its last)
    inputs: Mapping[str, tuple[int, ...]]  # the tensors each module was first passed, by id
    numel: Mapping[int, int]  # elements of every activation
    nonnegative_inputs: frozenset[int]  # inputs known to hold no negative value


def record_shapes(model: nn.Module, input_shape: tuple[int, ...]) -> Pass:
    """A pass on the meta device; a forward that reads values (which meta cannot run) gets
    one seeded random CPU input instead."""
    try:
        return record(model, [torch.empty(input_shape, device="meta")])
    except Exception:
        x = torch.randn(input_shape, generator=torch.Generator().manual_seed(0))
        return record(model, [x])


def meta_pass(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[Pass, CallGraph]:
    """One pass of ``model`` on a meta input, as :func:`operation_departures` reads it, and
    its call graph, which the structure reader (``identification.structure``) reads: identify
    runs each model once for both. Raises what the forward raises."""
    recorder = Recorder(shape_rules=True)
    found = record(model, [torch.empty(input_shape, device="meta")], recorder)
    return found, recorder.freeze()


@collector_paused()
def record(
    model: nn.Module, args: Sequence[torch.Tensor], recorder: Recorder | None = None
) -> Pass:
    # seen before the pass: an in-place call in the forward may change them
    known = frozenset(id(a) for a in args if not a.is_meta and bool((a >= 0).all()))
    recorder = recorder or Recorder(shape_rules=all(a.is_meta for a in args))
    spans: dict[str, tuple[int, int]] = {}
    inputs: dict[str, tuple[int, ...]] = {"": tuple(id(a) for a in args)}
    scalars = _Scalars()
    with _hooks(model, recorder, spans, inputs), torch.no_grad():
        for a in args:
            recorder.seed(a)
        with scalars, recorder:  # the recorder on top: each call reaches it first, then this
            model(*args)
    spans[""] = (0, len(recorder.calls))
    graph = recorder.freeze()
    modules = dict(model.named_modules())
    seen = scalars.seen
    steps = tuple(_step(i, c, graph.fields, modules, seen) for i, c in enumerate(graph.calls))
    return Pass(steps, spans, inputs, graph.numel, known)


@contextmanager
def _hooks(
    model: nn.Module, recorder: Recorder, spans: dict[str, tuple[int, int]],
    inputs: dict[str, tuple[int, ...]],
) -> Iterator[None]:  # fmt: skip
    """The recorder told which module runs (as the trace's hooks do), and each module's first
    call noted: which steps it made and which tensors it was passed. On the way out the hooks
    are removed and every module's own train/eval mode is restored."""
    handles, starts = [], []

    for name, module in model.named_modules():
        if not name:
            continue

        def pre(_m: nn.Module, args: Any, name: str = name) -> None:
            recorder.enter(name, args)
            starts.append(len(recorder.calls))
            inputs.setdefault(name, tuple(id(a) for a in args if isinstance(a, torch.Tensor)))

        def post(_m: nn.Module, _args: Any, _out: Any, name: str = name) -> None:
            recorder.leave()
            spans.setdefault(name, (starts.pop(), len(recorder.calls)))

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    with evaluating(model, handles):
        yield


# --- each call in words -------------------------------------------------------------------------
_ACTIVATIONS = {
    "relu": "ReLU", "leaky_relu": "LeakyReLU", "gelu": "GELU", "silu": "SiLU", "elu": "ELU",
    "selu": "SELU", "celu": "CELU", "relu6": "ReLU6", "hardtanh": "Hardtanh", "mish": "Mish",
    "hardswish": "Hardswish", "hardsigmoid": "Hardsigmoid", "sigmoid": "Sigmoid", "tanh": "Tanh",
    "softplus": "Softplus", "prelu": "PReLU", "rrelu": "RReLU",
}  # fmt: skip
_NORMS = {"batch_norm": "BatchNorm", "group_norm": "GroupNorm", "layer_norm": "LayerNorm",
          "instance_norm": "InstanceNorm"}  # fmt: skip
_COMBINE = {"add": "adds", "__add__": "adds", "__iadd__": "adds", "sub": "subtracts",
            "__sub__": "subtracts", "__isub__": "subtracts", "__rsub__": "subtracts",
            "rsub": "subtracts", "mul": "multiplies", "__mul__": "multiplies",
            "__imul__": "multiplies"}  # fmt: skip
_DROPOUT = ("dropout", "dropout1d", "dropout2d", "dropout3d", "feature_dropout", "alpha_dropout")


def _short(name: str) -> str:
    """A torch function's own name: ``Tensor.__isub__`` -> ``__isub__``, ``relu_`` -> ``relu``."""
    short = name.rsplit(".", 1)[-1]
    return short if short.startswith("__") else short.rstrip("_")


# An activation's own numbers, by parameter name, in the order its words give them; read
# from the call itself (by position or keyword, else torch's default), as the recorder keeps
# only the keywords of a call it has no cost rule for.
_ACTIVATION_PARAMETERS = {
    "leaky_relu": ("negative_slope",), "elu": ("alpha",), "celu": ("alpha",),
    "hardtanh": ("min_val", "max_val"),
}  # fmt: skip


class _Scalars(TorchFunctionMode):
    """While a pass runs: the parameters of each parametrised activation called (see
    :data:`_ACTIVATION_PARAMETERS`), by the id of the tensor it returned (the recorder keeps
    every tensor alive for the pass, so the id is that call's)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[int, tuple[float, ...]] = {}

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        names = _ACTIVATION_PARAMETERS.get(_short(getattr(func, "__name__", "")))
        if names and isinstance(out, torch.Tensor):
            values = _bound(func, args, kwargs, names)
            if values is not None:
                self.seen[id(out)] = values
        return out


def _bound(func: Any, args: Any, kwargs: Any, names: tuple[str, ...]) -> tuple[float, ...] | None:
    """The named parameters of a call of ``func`` (a Python function with a signature, as
    torch.nn.functional's are), as numbers; None where it cannot tell."""
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return None
    bound.apply_defaults()
    values = [bound.arguments.get(n) for n in names]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    return tuple(float(v) for v in values)  # type: ignore[arg-type]


def _step(
    index: int, c: Recorded, activations: Mapping[int, Any], modules: Mapping[str, nn.Module],
    scalars: Mapping[int, tuple[float, ...]] | None = None,
) -> Step:  # fmt: skip
    ins = tuple(i for i in c.input_ids if i in activations)
    outs = c.output_ids or (c.output_id,)
    values = (scalars or {}).get(c.output_id)
    kind, what, detail = _classify(c, modules.get(c.owner), len(ins), values)
    return Step(index, kind, what, c.owner, ins, outs, c, detail)


def _classify(
    c: Recorded, module: nn.Module | None, activations: int, values: tuple[float, ...] | None = None
) -> tuple[str, str, str]:
    short, args = _short(c.name), c.call.args
    if c.name == "convolution":
        return "conv", "conv", ""
    if c.name in _NORMS or short in _NORMS:
        return "norm", _NORMS.get(c.name, _NORMS.get(short, short)), ""
    if short in _ACTIVATIONS:
        return "act", _activation(short, module, values), ""
    if c.name in ("max_pool", "avg_pool") or _adaptive_max(c, module):
        return "pool", _pool(c, module), "x".join(map(str, c.call.output_shape[-2:]))
    if _global_mean(c):  # x.mean((2, 3)): global average pooling, written as a mean
        return "pool", "adaptive average pooling", "1x1"
    if short in _DROPOUT:
        p = getattr(module, "p", None) if _torch_own(module) else None
        return "dropout", "dropout", f" (p={p:g})" if isinstance(p, float) else ""
    if c.name == "reshape" and ("shape" in args or "start_dim" in args):
        return ("view", "x.view", "") if "shape" in args else ("flatten", "torch.flatten", "")
    if c.name == "linear":
        return "linear", "linear", ""
    shapes = c.call.input_shapes
    combine = _COMBINE.get(c.name, _COMBINE.get(short))
    if (
        combine
        and activations == 2
        and len(shapes) == 2
        and shapes[0] == shapes[1] == c.call.output_shape
    ):
        return "combine", combine, ""
    return "other", short, ""


def _global_mean(c: Recorded) -> bool:
    """A mean over both spatial dimensions of a 4-d map, as a head's pooling writes it."""
    shapes, dim = c.call.input_shapes, c.call.args.get("dim")
    if _short(c.name) != "mean" or len(shapes) != 1 or len(shapes[0]) != 4:
        return False
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    return {int(d) % 4 for d in dims if isinstance(d, int)} == {2, 3} and len(dims) == 2


def _torch_own(module: nn.Module | None) -> bool:
    return module is not None and type(module).__module__.startswith("torch.nn.")


def _activation(
    short: str, module: nn.Module | None, values: tuple[float, ...] | None = None
) -> str:
    """An activation in words, with its parameters: ``LeakyReLU(0.1)``, ``Hardtanh(0, 6)``.
    torch's own module names itself (``ReLU6``, a Hardtanh); else the numbers the call was
    given (``values``, by position or keyword: ``F.leaky_relu(x, 0.1)``)."""
    if _torch_own(module) and short in ("leaky_relu", "hardtanh", "elu", "celu", "relu6"):
        name = type(module).__name__
        slope = getattr(module, "negative_slope", getattr(module, "alpha", None))
        return f"{name}({slope:g})" if isinstance(slope, float) else name
    if values:
        return f"{_ACTIVATIONS[short]}({', '.join(f'{v:g}' for v in values)})"
    return _ACTIVATIONS[short]


def _adaptive_max(c: Recorded, module: nn.Module | None) -> bool:
    """torch's adaptive max-pooling reaches the recorder as a ``boolean_dispatch`` wrapper: known
    by torch's own module that called it, or, called in a forward, by a 1x1 output."""
    if "adaptive_max_pool" in c.name:
        return True
    if "boolean_dispatch" not in c.name:
        return False
    if _torch_own(module):
        return type(module).__name__.startswith("AdaptiveMaxPool")
    return len(c.call.output_shape) == 4 and c.call.output_shape[-2:] == (1, 1)


def _pool(c: Recorded, module: nn.Module | None) -> str:
    if c.name not in ("max_pool", "avg_pool"):
        return "adaptive max-pooling"
    if "output_size" in c.call.args:
        return "adaptive average pooling"
    geometry = c.operator.geometry(c.call) if c.operator and c.operator.geometry else None
    k, s = (geometry.kernel, geometry.stride) if geometry else (None, None)
    kind = "a max-pool" if c.name == "max_pool" else "an average pool"
    return f"{kind} ({k}x{k}, stride {s})" if k else kind


# --- residual units ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Unit:
    """A residual unit, read from the data flow: the steps in the order they ran."""

    name: str
    start: int
    inputs: tuple[int, ...]
    pre: tuple[Step, ...]  # on the input, before the paths part (read by both)
    branch: tuple[Step, ...]
    shortcut: tuple[Step, ...]  # () for the identity
    combine: Step
    post: tuple[Step, ...]  # on the combined result
    branch_first: bool  # the branch is the combine's first operand (x - shortcut)
    steps: tuple[Step, ...]  # every step the unit's module made


def residual_units(p: Pass) -> list[Unit]:
    """Every residual unit, in the order they ran: for each combine of two activations, the
    innermost module that made it and ran a convolution (one unit per module: its last)."""
    last: dict[str, Step] = {}
    for s in p.steps:
        if s.kind != "combine":
            continue
        holders = [(b - a, -n.count("."), n) for n, (a, b) in p.spans.items()
                   if a <= s.index < b and any(t.kind == "conv" for t in p.steps[a:b])]  # fmt: skip
        if holders:
            last[min(holders)[2]] = s
    units = [_unit(p, name, s) for name, s in last.items()]
    return sorted(units, key=lambda u: u.combine.index)


def _unit(p: Pass, name: str, combine: Step) -> Unit:
    start, end = p.spans[name]
    x, y = (_chain(p, t, combine.index, start) for t in combine.ins[:2])
    n = 0
    while n < min(len(x), len(y)) and x[n] is y[n]:
        n += 1
    x_main = (count_of(x[n:], "conv"), len(x)) >= (count_of(y[n:], "conv"), len(y))
    branch, shortcut = (x[n:], y[n:]) if x_main else (y[n:], x[n:])
    post, current = [], set(combine.outs)
    for s in p.steps[combine.index + 1 : end]:
        if current & set(s.ins):
            post.append(s)
            current = set(s.outs)
    return Unit(name, start, p.inputs.get(name, ()), x[:n], branch, shortcut, combine,
                 tuple(post), x_main, p.steps[start:end])  # fmt: skip


def _chain(p: Pass, tensor: int, before: int, start: int) -> tuple[Step, ...]:
    """The steps that made ``tensor`` within the unit, back to its input, in the order they
    ran; at each step the path follows its largest activation input (the feature map, not a
    gate)."""
    found: list[Step] = []
    while True:
        made = next((s for s in reversed(p.steps[start:before]) if tensor in s.outs), None)
        if made is None:
            break
        found.append(made)
        if not made.ins:
            break
        tensor = max(made.ins, key=lambda i: p.numel.get(i, 0))
        before = made.index
    return tuple(reversed(found))


def count_of(steps: Sequence[Step], kind: str) -> int:
    return sum(s.kind == kind for s in steps)


def steps_of(steps: Sequence[Step], kind: str) -> list[Step]:
    return [s for s in steps if s.kind == kind]

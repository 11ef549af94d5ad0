"""Departures in words: how a user's module computes differently from the reference's.

Both modules run once under the trace's recorder (``tracing/recorder.py``), which sees every
torch call in order, the module running it, and the tensors it read and wrote. From that
record each residual unit (the innermost module that runs a convolution and combines two
activations of one shape: the residual sum) is read as its parts: what runs on the input
before the paths part (``pre``), the branch, the shortcut, how the two are combined, and
what runs on the result (``post``). The user's units are paired with the reference's in the
order they run, and the steps around them (the stem before the first, the head after the
last) likewise; each difference is said in words that name the user's module and what the
reference does there.

What is compared is what ran: a module defined and never called is not seen. Arguments the
recorder does not keep (``F.leaky_relu``'s slope, passed by position) are read from the
call itself, beside the recorder, or from the module that made it where that is torch's own.
Names come from user code: every text is escaped (``units.printable``) before it leaves this
module.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..collector import collector_paused
from ..tracing.graph import CallGraph
from ..tracing.recorder import Recorded, Recorder
from ..tracing.tracer import evaluating
from ..units import printable
from .align import Alignment, Call


@dataclass(frozen=True)
class Departure:
    """One way the user's model computes differently from the reference, in words."""

    text: str  # "a ReLU on the branch before the sum (resnet18 applies it after)"
    where: str  # the user's module name, "layer1.0" ("" for the whole model)
    changes_function: bool  # False: dropout (eval), a shared module, x.view vs flatten...
    # what it is about, where identify's structural reading says the same fact another way:
    # "stem", "head", "pool" (the head's), "stride", "shortcut", "norm"; "" for the rest
    topic: str = field(default="", compare=False)


def describe_departure(
    where: str, mine: nn.Module, theirs: nn.Module, args: tuple[torch.Tensor, ...], reference: str
) -> tuple[str, ...]:
    """The module `mine` (the user's, named `where`) was found to give a different output from
    `theirs` (the reference's matching module) on the same input `args` (real CPU tensors). Say in
    words how, from the operations each runs: e.g. "layer1.0: a ReLU on the branch before the sum
    (resnet18 applies it after)". Empty if it cannot tell."""
    try:
        ours = _record(mine, [a.detach().clone() for a in args])
        ref = _record(theirs, [a.detach().clone() for a in args])
    except Exception:  # the user's forward failed on its own input: nothing to say from it
        return ()
    found = _departures(ours, ref, where, printable(reference))
    ranked = sorted(found, key=lambda d: not d.changes_function)  # what changes the output first
    return tuple(f"{d.where}: {d.text}" if d.where else d.text for d in ranked)


def operation_departures(
    mine: nn.Module, theirs: nn.Module, input_shape: tuple[int, ...], reference: str,
    passes: tuple[_Pass | None, _Pass] | None = None,
) -> tuple[Departure, ...]:  # fmt: skip
    """Whole-model: every departure of `mine` from `theirs` visible in the operations they run
    (a meta-device pass of each), including those that do not change the eval-mode function,
    each marked. ``passes``: those two passes made already (:func:`meta_pass`, the user's
    None where it raised on meta: it is made here then, as without them)."""
    if passes is None:
        ours, ref = _record_shapes(mine, input_shape), _record_shapes(theirs, input_shape)
    else:
        ours, ref = passes[0] or _record_shapes(mine, input_shape), passes[1]
    ref_name = printable(reference)
    return tuple(_departures(ours, ref, "", ref_name)) + _shared_modules(mine, theirs, ref_name)


# --- one pass ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Step:
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
class _Pass:
    steps: tuple[_Step, ...]
    spans: Mapping[str, tuple[int, int]]  # each module's first call: [first step, after its last)
    inputs: Mapping[str, tuple[int, ...]]  # the tensors each module was first passed, by id
    numel: Mapping[int, int]  # elements of every activation
    nonnegative_inputs: frozenset[int]  # inputs known to hold no negative value


def _record_shapes(model: nn.Module, input_shape: tuple[int, ...]) -> _Pass:
    """A pass on the meta device; a forward that reads values (which meta cannot run) gets
    one seeded random CPU input instead."""
    try:
        return _record(model, [torch.empty(input_shape, device="meta")])
    except Exception:
        x = torch.randn(input_shape, generator=torch.Generator().manual_seed(0))
        return _record(model, [x])


def meta_pass(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[_Pass, CallGraph]:
    """One pass of ``model`` on a meta input, as :func:`operation_departures` reads it, and
    its call graph, which the structure reader (``identification.structure``) reads: identify
    runs each model once for both. Raises what the forward raises."""
    recorder = Recorder(shape_rules=True)
    found = _record(model, [torch.empty(input_shape, device="meta")], recorder)
    return found, recorder.freeze()


@collector_paused()
def _record(
    model: nn.Module, args: Sequence[torch.Tensor], recorder: Recorder | None = None
) -> _Pass:
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
    return _Pass(steps, spans, inputs, graph.numel, known)


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
) -> _Step:  # fmt: skip
    ins = tuple(i for i in c.input_ids if i in activations)
    outs = c.output_ids or (c.output_id,)
    values = (scalars or {}).get(c.output_id)
    kind, what, detail = _classify(c, modules.get(c.owner), len(ins), values)
    return _Step(index, kind, what, c.owner, ins, outs, c, detail)


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
class _Unit:
    """A residual unit, read from the data flow: the steps in the order they ran."""

    name: str
    start: int
    inputs: tuple[int, ...]
    pre: tuple[_Step, ...]  # on the input, before the paths part (read by both)
    branch: tuple[_Step, ...]
    shortcut: tuple[_Step, ...]  # () for the identity
    combine: _Step
    post: tuple[_Step, ...]  # on the combined result
    branch_first: bool  # the branch is the combine's first operand (x - shortcut)
    steps: tuple[_Step, ...]  # every step the unit's module made


def _units(p: _Pass) -> list[_Unit]:
    """Every residual unit, in the order they ran: for each combine of two activations, the
    innermost module that made it and ran a convolution (one unit per module: its last)."""
    last: dict[str, _Step] = {}
    for s in p.steps:
        if s.kind != "combine":
            continue
        holders = [(b - a, -n.count("."), n) for n, (a, b) in p.spans.items()
                   if a <= s.index < b and any(t.kind == "conv" for t in p.steps[a:b])]  # fmt: skip
        if holders:
            last[min(holders)[2]] = s
    units = [_unit(p, name, s) for name, s in last.items()]
    return sorted(units, key=lambda u: u.combine.index)


def _unit(p: _Pass, name: str, combine: _Step) -> _Unit:
    start, end = p.spans[name]
    x, y = (_chain(p, t, combine.index, start) for t in combine.ins[:2])
    n = 0
    while n < min(len(x), len(y)) and x[n] is y[n]:
        n += 1
    x_main = (_count(x[n:], "conv"), len(x)) >= (_count(y[n:], "conv"), len(y))
    branch, shortcut = (x[n:], y[n:]) if x_main else (y[n:], x[n:])
    post, current = [], set(combine.outs)
    for s in p.steps[combine.index + 1 : end]:
        if current & set(s.ins):
            post.append(s)
            current = set(s.outs)
    return _Unit(name, start, p.inputs.get(name, ()), x[:n], branch, shortcut, combine,
                 tuple(post), x_main, p.steps[start:end])  # fmt: skip


def _chain(p: _Pass, tensor: int, before: int, start: int) -> tuple[_Step, ...]:
    """The steps that made ``tensor`` within the unit, back to its input, in the order they
    ran; at each step the path follows its largest activation input (the feature map, not a
    gate)."""
    found: list[_Step] = []
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


def _count(steps: Sequence[_Step], kind: str) -> int:
    return sum(s.kind == kind for s in steps)


def _of(steps: Sequence[_Step], kind: str) -> list[_Step]:
    return [s for s in steps if s.kind == kind]


# --- the departures -------------------------------------------------------------------------------
def _departures(ours: _Pass, ref: _Pass, prefix: str, reference: str) -> list[Departure]:
    """Units paired in order, and the stem before them and the head after them."""
    mu, tu = _units(ours), _units(ref)
    found: list[Departure] = []
    if len(mu) != len(tu):
        found.append(_count_departure(mu, tu, prefix, reference))
        if not mu or not tu:  # no sum on one side: nothing to pair the other's steps around
            return found
    stem = _Region(
        ours, prefix, " in the stem" if mu else "", 0, mu[0].start if mu else len(ours.steps)
    )
    found += _region(stem, ref.steps[: tu[0].start if tu else len(ref.steps)], reference)
    for m, t in zip(mu, tu, strict=False):
        found += _unit_departures(ours, m, t, prefix, reference)
    if mu and tu:
        head = _Region(ours, prefix, " in the head", _end(ours, mu[-1]), len(ours.steps))
        found += _region(head, ref.steps[_end(ref, tu[-1]) :], reference)
    return found


def _end(p: _Pass, unit: _Unit) -> int:
    return p.spans[unit.name][1]


def _at(prefix: str, name: str) -> str:
    return printable(".".join(n for n in (prefix, name) if n))


def _count_departure(mu: list[_Unit], tu: list[_Unit], prefix: str, reference: str) -> Departure:
    if not mu:
        text = f"no residual sum: the output is the branch alone ({reference} adds a shortcut)"
    elif not tu:
        text = f"a residual sum where {reference} has none"
    else:
        text = f"{len(mu)} residual sums where {reference} has {len(tu)}"
    return Departure(text, printable(prefix), True)


@dataclass(frozen=True)
class _Region:
    """The steps outside the units: the stem (before the first) or the head (after the last).
    Steps between two units (none in a ResNet: a stage only runs its blocks) are not compared."""

    p: _Pass
    prefix: str
    label: str  # " in the stem", " in the head", "" (a module with no unit)
    start: int
    end: int

    @property
    def steps(self) -> tuple[_Step, ...]:
        return self.p.steps[self.start : self.end]


def _region(region: _Region, theirs: Sequence[_Step], reference: str) -> list[Departure]:
    mine, prefix, label = region.steps, region.prefix, region.label
    topic = {" in the stem": "stem", " in the head": "head"}.get(label, "")
    found = _common(mine, theirs, prefix, None, reference)
    pools = _pools(mine, theirs, prefix, label, reference)
    found += [replace(d, topic="pool" if topic == "head" else topic) for d in pools]
    for kind in ("conv", "norm", "act", "linear"):
        extra = _extra_or_missing(_of(mine, kind), _of(theirs, kind), prefix, label, reference)
        found += [replace(d, topic=topic) for d in extra]
    if not found and _kinds(mine) != _kinds(theirs):
        where = label.strip() or "this module"
        text = f"{where} runs {_words(mine)} where {reference}'s runs {_words(theirs)}"
        found.append(Departure(text, printable(prefix), True, topic))
    return found


def _common(
    mine: Sequence[_Step], theirs: Sequence[_Step], prefix: str, unit: _Unit | None, reference: str
) -> list[Departure]:
    """What any stretch of steps is compared by: the activations, the convs' biases, dropout,
    and how the features are flattened. Within a unit the words go to the unit and name its
    modules from it ("conv1"); elsewhere they go to the module that ran the step."""

    def where(s: _Step) -> str:
        return _at(prefix, s.owner if unit is None else unit.name)

    def name(s: _Step) -> str:
        return printable(_rel(s.owner, unit.name)) if unit is not None else _at(prefix, s.owner)

    found: list[Departure] = []
    seen: set[tuple[str, str]] = set()
    for m, t in zip(_of(mine, "act"), _of(theirs, "act"), strict=False):
        if m.what != t.what and (m.what, t.what) not in seen:
            seen.add((m.what, t.what))
            found.append(Departure(f"{m.what} where {reference} has {t.what}", where(m), True))
    with_bias = [m for m, t in zip(_of(mine, "conv"), _of(theirs, "conv"), strict=False)
                 if _bias(m) and not _bias(t)]  # fmt: skip
    if with_bias:
        found.append(_bias_departure([name(s) or "the forward" for s in with_bias],
                                     sum(_bias(s) for s in with_bias), where(with_bias[0]), reference))  # fmt: skip
    extra = len(_of(mine, "dropout")) - len(_of(theirs, "dropout"))
    for d in _of(mine, "dropout")[: max(extra, 0)]:
        before = next((s for s in reversed(mine) if s.index < d.index), None)
        after = f" after {_at(prefix, before.owner) or 'the input'}" if before is not None else ""
        text = f"dropout{d.detail}{after} (no effect in eval; it changes training)"
        found.append(Departure(text, where(d), False))
    m_flat, t_flat = (
        _of(mine, "view") + _of(mine, "flatten"),
        _of(theirs, "view") + _of(theirs, "flatten"),
    )
    for m, t in zip(m_flat, t_flat, strict=False):
        if m.kind == "view" and t.kind == "flatten":
            text = (f"x.view (or reshape) where {reference} calls torch.flatten: the same values "
                    "(view refuses a tensor whose strides do not allow it)")  # fmt: skip
            found.append(Departure(text, where(m), False))
    return found


def _bias_departure(names: list[str], params: int, where: str, reference: str) -> Departure:
    """Convs paired in order: a bias where the reference has none (+ its parameters)."""
    if len(names) == 1:
        text = f"{names[0]} has a bias (+{params:,} parameters) where {reference}'s has none"
    else:
        text = (
            f"{_listed(names)} have biases (+{params:,} parameters) where {reference}'s have none"
        )
    return Departure(text, where, True)


def _rel(owner: str, unit: str) -> str:
    """A module's name from its unit's: ``layer1.0.conv2`` in ``layer1.0`` is ``conv2``."""
    if not unit:
        return owner
    return owner[len(unit) + 1 :] if owner.startswith(unit + ".") else ""


def _bias(s: _Step) -> int:
    """The bias's parameters of a conv call (its third tensor argument), 0 for none."""
    shapes = s.call.call.input_shapes
    has = s.call.call.args.get("bias") is not None and len(shapes) > 2
    return shapes[2][0] if has and shapes[2] else 0


def _listed(names: Sequence[str], most: int = 4) -> str:
    shown = list(names[:most]) + ([f"{len(names) - most} more"] if len(names) > most else [])
    return ", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]


def _pools(
    mine: Sequence[_Step], theirs: Sequence[_Step], prefix: str, label: str, reference: str
) -> list[Departure]:
    mp, tp = _of(mine, "pool"), _of(theirs, "pool")
    found = [_pool_departure(m, t, prefix, label, reference)
             for m, t in zip(mp, tp, strict=False) if m.what != t.what]  # fmt: skip
    return found + _extra_or_missing(mp, tp, prefix, label, reference)


def _extra_or_missing(
    mine: Sequence[_Step], theirs: Sequence[_Step], prefix: str, label: str, reference: str
) -> list[Departure]:
    """Steps of one kind past the other's count: "a Sigmoid in the head where resnet34 has
    none", "no max-pool (3x3, stride 2) in the stem (resnet18 has one)"."""
    found = [Departure(f"{_a(m.what)}{label} where {reference} has none", _at(prefix, m.owner), True)
             for m in mine[len(theirs) :]]  # fmt: skip
    found += [Departure(f"no {_bare(t.what)}{label} ({reference} has one)", printable(prefix), True)
              for t in theirs[len(mine) :]]  # fmt: skip
    return found


def _a(what: str) -> str:
    if what.startswith(("a ", "an ")):
        return what
    return ("an " if what[:1] in "AEIOaeio" else "a ") + what


def _bare(what: str) -> str:
    return what.split(" ", 1)[1] if what.startswith(("a ", "an ")) else what


def _pool_departure(m: _Step, t: _Step, prefix: str, label: str, reference: str) -> Departure:
    where, window = _at(prefix, m.owner), m.call.call.args.get("kernel_size")
    if m.what.startswith("an average pool") and t.what.startswith("a max-pool"):
        return Departure(f"an average pool{label} where {reference} has a max-pool", where, True)
    if m.what == "adaptive max-pooling" and t.what == "adaptive average pooling":
        return Departure(f"adaptive max-pooling{label} where {reference} averages", where, True)
    if window is not None and t.what.startswith("adaptive"):
        size = m.call.call.input_shapes[0][-2:]
        same = m.detail == t.detail and all(
            k == s for k, s in zip(_pair(window), size, strict=False)
        )
        k = "x".join(map(str, _pair(window)))
        kind = "average" if m.call.name == "avg_pool" else "max"
        text = f"a fixed {k} {kind} pool{label} where {reference} pools adaptively to {t.detail}"
        if same:
            text += f": the same here, where the map is {'x'.join(map(str, size))}, but not at other input sizes"
        else:
            text += f": a {m.detail} output where {reference}'s is {t.detail}"
        return Departure(text, where, not same)
    return Departure(f"{m.what}{label} where {reference} has {t.what}", where, True)


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[-1]))


def _kinds(steps: Sequence[_Step]) -> list[str]:
    return [s.what for s in steps if s.kind not in ("other", "view", "flatten")]


def _words(steps: Sequence[_Step], none: str = "nothing") -> str:
    named = _kinds(steps)
    return ", ".join(named) if named else none


# --- a unit against the reference's ---------------------------------------------------------
def _unit_departures(p: _Pass, m: _Unit, t: _Unit, prefix: str, reference: str) -> list[Departure]:
    where = _at(prefix, m.name)
    found = _common(m.steps, t.steps, prefix, m, reference)
    rules = ((_combine_rule, ""), (_activation_rules, ""), (_norm_rules, "norm"), (_stride_rule, "stride"))
    for rule, topic in rules:
        found += [Departure(text, where, True, topic) for text in rule(m, t, reference)]
    found += _pre_rule(p, m, t, where, reference)
    if not found and _kinds(m.shortcut) != _kinds(t.shortcut):
        found.append(Departure(_shortcut_words(m, t, reference), where, True, "shortcut"))
    if not found and _kinds(m.branch + m.post) != _kinds(t.branch + t.post):
        text = (f"the block runs {_words(m.branch)}, {m.combine.what} the shortcut, then "
                f"{_words(m.post)}, where {reference}'s runs {_words(t.branch)}, "
                f"{t.combine.what} it, then {_words(t.post)}")  # fmt: skip
        found.append(Departure(text, where, True))
    return found


def _shortcut_words(m: _Unit, t: _Unit, reference: str) -> str:
    mine, theirs = _words(m.shortcut, "the identity"), _words(t.shortcut, "the identity")
    if _count(m.shortcut, "conv") and not t.shortcut:
        return f"a projection shortcut ({mine}) where {reference}'s is the identity"
    if _count(t.shortcut, "conv") and not m.shortcut:
        return f"the identity as the shortcut where {reference} projects it ({theirs})"
    return f"the shortcut runs {mine} where {reference}'s runs {theirs}"


_COMBINED = {"adds": "adds it", "subtracts": "subtracts it", "multiplies": "multiplies by it"}


def _combine_rule(m: _Unit, t: _Unit, reference: str) -> list[str]:
    if m.combine.what == t.combine.what:
        return []
    theirs = _COMBINED[t.combine.what]
    if m.combine.what == "subtracts":
        how = (
            "the shortcut is subtracted from the branch"
            if m.branch_first
            else "the branch is subtracted from the shortcut"
        )
        return [f"{how} where {reference} {theirs}"]
    if m.combine.what == "multiplies":
        return [f"the branch is multiplied by the shortcut where {reference} {theirs}"]
    return [f"the shortcut is added where {reference} {theirs}"]


def _activation_rules(m: _Unit, t: _Unit, reference: str) -> list[str]:
    m_before = m.branch[-1] if m.branch and m.branch[-1].kind == "act" else None
    t_before = t.branch and t.branch[-1].kind == "act"
    t_after, m_after = _of(t.post, "act"), _of(m.post, "act")
    if m_before is not None and not t_before:
        there = "applies it after" if t_after else "has none there"
        also = "" if m_after or not t_after else ", and none after it"
        return [f"a {m_before.what} on the branch before the sum ({reference} {there}){also}"]
    if t_after and not m_after:
        return [f"no {t_after[0].what} after the sum ({reference} applies one)"]
    if m_after and not t_after:
        return [f"a {m_after[0].what} after the sum ({reference} has none there)"]
    return []


def _norm_rules(m: _Unit, t: _Unit, reference: str) -> list[str]:
    found: list[str] = []
    moved = _count(m.post, "norm") > _count(t.post, "norm")
    if moved:
        norm = _of(m.post, "norm")[0].what
        found.append(f"a {norm} after the sum ({reference} normalises the branch before it)")
    for path, theirs, name in (
        (m.branch, t.branch, "branch"),
        (m.shortcut, t.shortcut, "shortcut"),
    ):
        for i, (mc, tc) in enumerate(zip(_of(path, "conv"), _of(theirs, "conv"), strict=False)):
            norm = _norm_after(theirs, tc)
            if (
                norm
                and not _norm_after(path, mc)
                and not (moved and name == "branch" and mc is _of(path, "conv")[-1])
            ):
                conv = printable(_rel(mc.owner, m.name)) or f"the {name}'s conv {i + 1}"
                found.append(f"no {norm} after {conv} ({reference} normalises that conv's output)")
    return found


def _norm_after(path: Sequence[_Step], conv: _Step) -> str:
    """The norm that takes the conv's output on this path, "" for none."""
    i = path.index(conv)
    following = path[i + 1] if i + 1 < len(path) else None
    return following.what if following is not None and following.kind == "norm" else ""


def _stride_rule(m: _Unit, t: _Unit, reference: str) -> list[str]:
    ms = [_stride(s) for s in _of(m.branch, "conv")]
    ts = [_stride(s) for s in _of(t.branch, "conv")]
    if ms == ts or sorted(ms) != sorted(ts) or max(ms) == 1:
        return []
    i, j = ms.index(max(ms)), ts.index(max(ts))
    conv = printable(_rel(_of(m.branch, "conv")[i].owner, m.name)) or "a conv"
    return [f"the stride {max(ms)} is on {conv}, the branch's {_ordinal(i)} conv, where "
            f"{reference} strides its {_ordinal(j)}"]  # fmt: skip


def _stride(s: _Step) -> int:
    stride = s.call.call.args.get("stride", 1)
    return int(stride if isinstance(stride, int) else stride[0])


def _ordinal(i: int) -> str:
    return {0: "1st", 1: "2nd", 2: "3rd"}.get(i, f"{i + 1}th")


def _pre_rule(p: _Pass, m: _Unit, t: _Unit, where: str, reference: str) -> list[Departure]:
    """Steps on the unit's input that both paths read: an in-place one changes the shortcut."""
    if _kinds(m.pre) == _kinds(t.pre) or not m.pre:
        return []
    first = m.pre[0]
    if not first.inplace:
        text = f"{_words(m.pre)} on the block input before the paths part, where {reference} has {_words(t.pre)}"
        return [Departure(text, where, True)]
    text = (f"an in-place {first.what} on the block input changes the shortcut (the residual "
            "reads the modified tensor)")  # fmt: skip
    same = first.what == "ReLU" and all(_nonnegative(p, i, m.start) for i in first.ins)
    if same:
        text += "; no effect here: the block's input holds no negative value (a ReLU's output)"
    return [Departure(text, where, not same)]


def _nonnegative(p: _Pass, tensor: int, before: int) -> bool:
    """Whether a tensor is known to hold no negative value: a ReLU made it (perhaps through a
    max-pool, dropout or a reshape after it), or it is an input seen to be so."""
    made = next((s for s in reversed(p.steps[:before]) if tensor in s.outs), None)
    if made is None:
        return tensor in p.nonnegative_inputs
    if made.kind == "act":
        return made.what == "ReLU"
    passes_on = made.kind in ("dropout", "view", "flatten") or made.what.startswith("a max-pool")
    if passes_on:
        return bool(made.ins) and _nonnegative(p, made.ins[0], made.index)
    return False


# --- modules registered at several places ------------------------------------------------------
def _shared_modules(mine: nn.Module, theirs: nn.Module, reference: str) -> tuple[Departure, ...]:
    """A module registered under several names (one ReLU handed to every block): one object.
    Without parameters the function is the same; with them, the weights are tied."""
    ref_shared = {type(m) for m, _ in _shared(theirs)}
    found = []
    for module, names in _shared(mine):
        if type(module) in ref_shared:
            continue
        kind = printable(type(module).__name__)
        weights = sum(t.numel() for t in module.parameters())
        places = f"{len(names)} places ({_listed([printable(n) for n in names], 3)})"
        if weights:
            text = (f"one {kind} module at {places}: its {weights:,} parameters are tied, where "
                    f"{reference} has a {kind} of its own at each place")  # fmt: skip
        else:
            text = (f"one {kind} module at {places}: the same function, but forward hooks, "
                    "activation statistics and quantisation observers on it see every place together, "
                    f"where {reference} has one module per place")  # fmt: skip
        found.append(Departure(text, printable(names[0]), bool(weights)))
    return tuple(found)


def _shared(model: nn.Module) -> list[tuple[nn.Module, list[str]]]:
    names: dict[int, tuple[nn.Module, list[str]]] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        if name:
            names.setdefault(id(module), (module, []))[1].append(name)
    return [entry for entry in names.values() if len(entry[1]) > 1]


# --- where two call sequences part ----------------------------------------------------------
@dataclass(frozen=True)
class Parting:
    """Where the alignment failed, said as a departure at the user's module (``departure``),
    and what a claim that the function differs rests on (``basis``); ``departure.
    changes_function`` is False where the missing norm could be folded into the conv before
    it (a conv with a bias): the two may then compute the same function in eval mode."""

    departure: Departure
    basis: str


def parting_departure(alignment: Alignment, reference: str) -> Parting | None:
    """The parametrised call only one side makes, where two sequences first part: "layer1.0:
    no BatchNorm after conv2 (resnet18 has bn2)" or "a BatchNorm (bn3) after conv2 where
    resnet18 has none". ``alignment``: the reference's calls as ``a_calls``, the user's as
    ``b_calls``. Said only where both hold: skipping that one call pairs the next two (so it
    is that call, at that place), and one side makes more calls of its kind and weight shape
    than the other (so a layer exists on one side only: a count, not an order). None where
    they part otherwise (a different order, other shapes)."""
    u = alignment.unaligned
    if u is None or not u.index:
        return None
    a, b, i = alignment.a_calls, alignment.b_calls, u.index
    more = Counter(map(_key, a))
    more.subtract(Counter(map(_key, b)))
    ref = printable(reference)
    before = b[i - 1]
    if i < len(a) and _pairs(a[i + 1 :], b[i:]) and more[_key(a[i])] > 0:
        call, other = a[i], b[i - 1]  # the reference's call i has no counterpart
        kind, after, theirs = _kind_words(call.kind), _leaf(before.name), _leaf(call.name)
        text = f"no {kind} after {after} ({ref} has {theirs})"
        place, whose, n = _parent(before.name), f"{ref}'s", more[_key(call)]
        counts = (n + _count_calls(b, call), _count_calls(b, call))
    elif i < len(b) and _pairs(a[i:], b[i + 1 :]) and more[_key(b[i])] < 0:
        call, other = b[i], a[i - 1]  # the user's call i has no counterpart
        text = f"{_a(_kind_words(call.kind))} ({_leaf(call.name)}) after {_leaf(before.name)} where {ref} has none"
        place, whose = _parent(call.name), "its"
        counts = (_count_calls(a, call), _count_calls(b, call))
    else:
        return None
    shape = "x".join(map(str, call.weight or ()))
    basis = (f"a parametrised layer on one side only: {whose} {call.text()}; {ref} makes {counts[0]} "
             f"{call.kind} call{'s' if counts[0] != 1 else ''} of weight {shape}, it {counts[1]}")  # fmt: skip
    foldable = _norm(call.kind) and "bias" in dict(other.tensors)
    if foldable:  # a conv with a bias and no norm: a BatchNorm folded into it (eval mode)
        text += (f"; {_leaf(other.name)} has a bias, into which a BatchNorm folds in eval mode: "
                 "the two may compute the same function")  # fmt: skip
    departure = Departure(printable(text), printable(place), not foldable, "norm")
    return Parting(departure, printable(basis))


def _key(call: Call) -> tuple[str, Any]:
    return call.kind, call.weight if call.weight is not None else call.tensors


def _count_calls(calls: Sequence[Call], like: Call) -> int:
    return sum(_key(c) == _key(like) for c in calls)


def _pairs(a: Sequence[Call], b: Sequence[Call], again: int = 2) -> bool:
    """The next ``again`` calls pair (or all that are left, where both end there)."""
    n = min(len(a), len(b), again)
    if n < again and len(a) != len(b):
        return False
    return all(x.matches(y) for x, y in zip(a[:n], b[:n], strict=True))


def _parent(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""


def _leaf(name: str) -> str:
    return name.rsplit(".", 1)[-1] or "(the model)"


def _norm(kind: str) -> bool:
    return "Norm" in kind


def _kind_words(kind: str) -> str:
    """``BatchNorm2d`` -> ``BatchNorm`` (as the words reader names norms), else the class."""
    return kind[:-2] if _norm(kind) and kind[-2:] in ("1d", "2d", "3d") else kind

"""trace(model, input_shape) -> Trace: ONE forward pass on the meta device, every module's facts.

The meta device carries shapes and dtypes but no data, so the pass allocates nothing and does
no arithmetic: a 256x3x2048x2048 input costs what 1x3x224x224 costs. Hooks tell the
:class:`~.recorder.Recorder` which module is running and keep each module's input and output;
the recorder prices every call by the cost table and follows the receptive field along the
tensors. When the pass ends the recorder hands over a frozen :class:`~.graph.CallGraph`;
the records are built once from it and the hooks' view, and frozen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from ..choices import parse_choice
from ..collector import collector_paused
from ..errors import InspectError, SpecError, UsageError
from ..model import Network, build_model
from ..spec import ResNetSpec
from ..units import DTYPE_BYTES, DType, shape_text
from . import costs
from .costs import RF, Geometry
from .graph import CallGraph
from .memory import Seen, peak_activations, saved_for_backward
from .realpass import MetaCannotTrace, meta_failure_reason
from .recorder import Counted, Recorded, Recorder
from .records import (
    LayerRecord,
    OperatorTotal,
    OutputRecord,
    Totals,
    Trace,
    stage_members,
    stage_of,
)


@contextmanager
def _hooks(model: nn.Module, seen: dict[str, Seen], recorder: Recorder) -> Iterator[None]:
    """Hooks on every module for one pass; on the way out, whatever happened, the hooks are
    removed and every module's own train/eval mode is restored."""
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def pre(_m: nn.Module, args: Any, name: str = name) -> None:
            recorder.enter(name, args)

        def post(_m: nn.Module, args: Any, output: Any) -> None:
            name = recorder.owners[-1]
            recorder.leave()
            before = seen[name].calls if name in seen else 0
            seen[name] = Seen(tuple(a for a in args if isinstance(a, torch.Tensor)), output, before + 1)

        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))
    with evaluating(model, handles):
        yield


@contextmanager
def evaluating(model: nn.Module, handles: list[Any]) -> Iterator[None]:
    """``model`` in eval mode with ``handles`` (its hooks) in place; on the way out, whatever
    happened, the hooks are removed and every module's own train/eval mode is restored."""
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        yield
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training


def _run(
    model: nn.Module, input_shape: tuple[int, ...], device: str
) -> tuple[dict[str, Seen], CallGraph, Any]:
    seen: dict[str, Seen] = {}
    recorder = Recorder(shape_rules=device == "meta")
    with _hooks(model, seen, recorder), torch.no_grad():
        try:
            x = _input(input_shape, device)
            recorder.seed(x)
            with recorder:
                output = model(x)
        except Exception as exc:
            explained = _explain(exc, recorder, input_shape, device)
            if explained is None:
                raise
            raise explained from None
    return seen, recorder.freeze(), output


def _input(input_shape: tuple[int, ...], device: str) -> torch.Tensor:
    """The pass's input: shapes only on meta; elsewhere one seeded random input, so that a
    forward whose control flow reads values sees normal data, the same in every run."""
    if device == "meta":
        return torch.empty(input_shape, device=device)
    return torch.randn(input_shape, generator=torch.Generator().manual_seed(0)).to(device)


def _explain(
    exc: Exception, recorder: Recorder, input_shape: tuple[int, ...], device: str
) -> InspectError | None:
    """The pass's failure in the user's terms: the meta device cannot run this forward (it
    reads values), or the input does not fit the network (torch's own shape checks raise
    RuntimeError or ValueError); None for anything else (the user's code raised it)."""
    reason = meta_failure_reason(exc, recorder.failure) if device == "meta" else None
    if reason is not None:
        return MetaCannotTrace(reason, sum(recorder.numel.values()) * 4)  # all kept until the end
    if isinstance(exc, (RuntimeError, ValueError)):
        where = recorder.owners[-1] or "the input"
        return SpecError(
            f"input_shape {shape_text(input_shape)}: the network cannot run on it (fails at "
            f"{where}: {str(exc).splitlines()[0]})", subject="input_shape",
        )  # fmt: skip
    return None


@collector_paused()
def trace_model(
    model: nn.Module, input_shape: tuple[int, ...], dtype: str = "float32", device: str = "meta",
    arch: str = "",
) -> Trace:
    """Trace ``model`` (built on ``device``) with an input of ``input_shape``.

    ``model`` is one of ours (a :class:`Network`, which carries its spec) or any ``nn.Module``
    (``arch`` names it in the reports): its stages are its top-level children, its output
    shape the forward's, its receptive field that of the last 4-D output the pass followed."""
    spec = model.spec if isinstance(model, Network) else None
    if spec is not None and input_shape[1] != spec.in_chans:
        raise UsageError(
            f"input_shape {shape_text(input_shape)}: has {input_shape[1]} channels but the model "
            f"takes in_chans={spec.in_chans}", subject="input_shape",
        )  # fmt: skip
    dtype = parse_choice(DType, dtype, "dtype").value
    seen, graph, output = _run(model, input_shape, device)
    stages = model.stage_map() if isinstance(model, Network) else _stage_names(model)
    item = DTYPE_BYTES[dtype]
    own_calls: dict[str, list[Recorded]] = {}
    for c in graph.calls:
        own_calls.setdefault(c.owner, []).append(c)
    modules = [(name, m) for name, m in model.named_modules() if name]
    params = _subtree_params(model, modules)
    work = _subtree_work({name: own_calls.get(name, []) for name, _ in modules})
    own = {
        name: _record(name, m, seen.get(name, _UNSEEN), own_calls.get(name, []), graph.fields, item,
                      stages[name], params[name], work[name])
        for name, m in modules
    }  # fmt: skip
    layers = tuple(own.values())
    calls = [c for c in graph.calls if c.counted is not Counted.UNCOUNTED]
    return Trace(
        spec=spec,
        input_shape=tuple(input_shape),
        output_shape=tuple(_shape(_first_tensor(output))),
        dtype=dtype,
        layers=layers,
        totals=_totals(model, layers, graph, output, item, spec is not None),
        operators=_operator_totals(calls),
        uncounted=tuple(dict.fromkeys(c.name for c in graph.calls if c.counted is Counted.UNCOUNTED)),
        field_assumed_global_after=tuple(dict.fromkeys(graph.assumed_global)),
        arch=arch,
        executed=tuple(n for n in seen if n in own and own[n].is_leaf),
        outputs=_outputs(output),
    )


@collector_paused()
def trace_spec(
    spec: ResNetSpec, input_shape: tuple[int, ...] | None = None, dtype: str = "float32"
) -> Trace:
    model = build_model(spec, device="meta")
    return trace_model(model, input_shape or spec.default_input_shape(), dtype)


_UNSEEN = Seen((), None, 0)  # type: ignore[arg-type]  # a module the forward never called


def _stage_names(model: nn.Module) -> dict[str, str]:
    """Each module's stage in a model not ours (ours: ``Network.stage_map``), by its top-level
    children: those before its first ``layerN`` are the stem and those after its last the
    head; without ``layerN`` children, each child is its own stage."""
    paths = [n for n, _ in model.named_modules() if n]
    names = [n for n, _ in model.named_children()]
    stage_like = [i for i, n in enumerate(names) if stage_of(n).startswith("layer")]
    if not stage_like:
        top = {n: n for n in names}
    else:
        first, last = stage_like[0], stage_like[-1]
        top = {n: stage_of(n) if first <= i <= last else ("stem" if i < first else "head")
               for i, n in enumerate(names)}  # fmt: skip
    return {n: top[n.split(".", 1)[0]] for n in paths}


def _first_tensor(value: Any) -> Any:
    """A forward's output, or the first tensor in it (a tuple, a dict of outputs, nested)."""
    return next((v for _, v in _leaves(value, "") if isinstance(v, torch.Tensor)), None)


def _outputs(output: Any) -> tuple[OutputRecord, ...]:
    return tuple(
        OutputRecord(path, tuple(v.shape), "Tensor") if isinstance(v, torch.Tensor)
        else OutputRecord(path, None, type(v).__name__)
        for path, v in _leaves(output, "")
    )  # fmt: skip


_MAX_OUTPUT_DEPTH = 8  # deeper structures are reported as the container they are


def _leaves(value: Any, path: str, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Every value in what a forward returns, with its path: ``[0]``, ``['p3']``,
    ``[1]['boxes']``; nothing for None; a tuple, list or dict is walked, anything else
    (a tensor, a number, an object) is a leaf."""
    if value is None and not path:
        return
    if isinstance(value, (list, tuple)) and depth < _MAX_OUTPUT_DEPTH:
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]", depth + 1)
    elif isinstance(value, dict) and depth < _MAX_OUTPUT_DEPTH:
        for k, v in value.items():
            yield from _leaves(v, f"{path}[{_key_text(k)}]", depth + 1)
    else:
        yield path, value


def _key_text(key: Any) -> str:
    """A dict key as Python writes it (``'p3'``, ``2``); another object by its type only: its
    repr is the user's code and could say anything."""
    return repr(key) if type(key) in (str, int, float, bool) else f"<{type(key).__name__}>"


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(t.shape) if isinstance(t, torch.Tensor) else ()


def _record(
    name: str, module: nn.Module, seen: Seen, calls: list[Recorded], fields: Mapping[int, RF], item: int,
    stage: str, params: tuple[int, int], work: tuple[int, int],
) -> LayerRecord:
    """A module's row, built once: its own calls' operator, geometry and FLOPs, and the
    parameters (``params``: all, trainable) and MACs and FLOPs (``work``) of its subtree."""
    in_shape = _shape(seen.inputs[0]) if seen.inputs else ()
    out_shape = _shape(seen.output)
    listed = [c for c in calls if c.operator is None or c.operator.listed]
    windows = [c.operator.geometry(c.call) for c in listed if c.operator and c.operator.geometry]
    geometry = windows[0] if windows else _NO_GEOMETRY
    field = fields.get(id(seen.output), (None, None))
    return LayerRecord(
        name=name,
        type=type(module).__name__,
        depth=name.count(".") + 1,
        stage=stage,
        is_leaf=next(module.children(), None) is None,
        input_shape=in_shape,
        output_shape=out_shape,
        params=params[0],
        trainable_params=params[1],
        macs=work[0],
        flops=work[1],
        operator=listed[0].name if listed else None,
        self_flops=sum(c.flops for c in calls),
        output_bytes=(math.prod(out_shape) if out_shape else 0) * item,
        receptive_field=field[0],
        jump=field[1],
        calls=seen.calls,
        # field by field: dataclasses.asdict deep-copies, a tenth of a large trace's time
        kernel=geometry.kernel,
        stride=geometry.stride,
        dilation=geometry.dilation,
        groups=geometry.groups,
        padding=geometry.padding,
    )


_NO_GEOMETRY = Geometry()


def _subtree_work(calls: dict[str, list[Recorded]]) -> dict[str, tuple[int, int]]:
    """Each module's MACs and FLOPs with its submodules', added into the ancestors by name,
    deepest first: one pass over the modules."""
    macs = {name: sum(c.macs for c in own) for name, own in calls.items()}
    flops = {name: sum(c.flops for c in own) for name, own in calls.items()}
    for name in sorted(calls, key=lambda n: -n.count(".")):
        parent = name.rsplit(".", 1)[0] if "." in name else None
        if parent is not None:
            macs[parent] += macs[name]
            flops[parent] += flops[name]
    return {name: (macs[name], flops[name]) for name in calls}


def _subtree_params(model: nn.Module, modules: list[tuple[str, nn.Module]]) -> dict[str, tuple[int, int]]:
    """Each module's parameters and trainable parameters, its submodules' included, as
    ``module.parameters()`` counts them.

    Asking each module walks its subtree (every module once per ancestor: a quarter of a
    6,600-module trace); summing the children's counts is one walk. That sum is what
    ``parameters()`` gives only where no parameter or module appears twice in the tree, so a
    model that shares one is counted the slow way."""
    unique = list(model.modules())
    direct = [p for m in unique for p in m.parameters(recurse=False)]
    edges = sum(1 for m in unique for child in m._modules.values() if child is not None)
    if len({id(p) for p in direct}) != len(direct) or edges != len(unique) - 1:
        return {name: _params(m.parameters()) for name, m in modules}
    counts: dict[int, tuple[int, int]] = {}
    for m in reversed(unique):  # children after their parents in modules(): reversed, before
        total, trainable = _params(m.parameters(recurse=False))
        for child in m._modules.values():
            if child is not None:
                total, trainable = total + counts[id(child)][0], trainable + counts[id(child)][1]
        counts[id(m)] = (total, trainable)
    return {name: counts[id(m)] for name, m in modules}


def _params(parameters: Iterator[nn.Parameter]) -> tuple[int, int]:
    total = trainable = 0
    for p in parameters:
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return total, trainable


def _operator_totals(calls: list[Recorded]) -> tuple[OperatorTotal, ...]:
    """Per operator: calls, MACs and FLOPs, in the cost table's order; operators counted by
    the fallback after them, marked by their rule."""
    acc: dict[str, list[int]] = {}
    rules: dict[str, str] = {}
    for c in calls:
        if c.operator is not None and not c.operator.listed:
            continue
        entry = acc.setdefault(c.name, [0, 0, 0])
        entry[0] += 1
        entry[1] += c.macs
        entry[2] += c.flops
        rules[c.name] = costs.RULES[c.name] if c.operator is not None else costs.FALLBACK_RULE
    order = {op: i for i, op in enumerate(costs.LISTED)}
    ranked = sorted(acc.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    return tuple(OperatorTotal(op, n, m, f, rules[op]) for op, (n, m, f) in ranked)


def _totals(
    model: nn.Module, layers: tuple[LayerRecord, ...], graph: CallGraph,
    output: Any, item: int, ours: bool,
) -> Totals:  # fmt: skip
    calls = graph.calls
    field = _output_field(layers, graph, ours)
    returned = [id(v) for _, v in _leaves(output, "") if isinstance(v, torch.Tensor)]  # all held at the end
    params = sum(p.numel() for p in model.parameters())
    return Totals(
        params=params,
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        macs=sum(c.macs for c in calls),
        flops=sum(c.flops for c in calls),
        param_bytes=params * item,
        activation_bytes=sum(r.output_bytes for r in layers if r.is_leaf),
        peak_activation_bytes=peak_activations(graph, returned, item),
        training_activation_bytes=saved_for_backward(graph, item),
        receptive_field=field[0],
        jump=field[1],
    )


def _output_field(layers: tuple[LayerRecord, ...], graph: CallGraph, ours: bool) -> tuple[Any, Any]:
    """The receptive field the totals show: our ResNet's last stage; another model's last
    4-D (spatial) output in the order the pass computed it; None where none was followed
    (the input never reached a spatial output the recorder could follow)."""
    if ours:
        last_stage = [r for r in stage_members(layers) if r.stage.startswith("layer")][-1]
        return last_stage.receptive_field or 0, last_stage.jump or 0
    for c in reversed(graph.calls):
        field = graph.fields.get(c.output_id)
        if len(c.call.output_shape) == 4 and field is not None and field[0] is not None:
            return field
    return None, None


def record_pass(model: nn.Module, input_shape: tuple[int, ...], device: str = "meta") -> CallGraph:
    """One pass, and its frozen call graph: every call in order with its tensors' ids (the
    data flow that structural identification reads)."""
    return _run(model, input_shape, device)[1]

"""trace(model, input_shape) -> Trace: ONE forward pass on the meta device, every module's facts.

The meta device carries shapes and dtypes but no data, so the pass allocates nothing and does
no arithmetic: a 256x3x2048x2048 input costs what 1x3x224x224 costs. Hooks record each module's
input and output shapes; parameters, MACs/FLOPs (``counting.py``), bytes and the receptive field
are derived from those and from the module itself. The result is frozen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from . import counting
from .errors import SpecError, UsageError
from .model import ResNet, ZeroPadShortcut, _Residual, build_model
from .shapes import ShapeRules
from .spec import ResNetSpec
from .units import DTYPE_BYTES, normalize_dtype, shape_text


@dataclass(frozen=True)
class LayerRecord:
    """One module of the traced model. Counts (params, macs, flops) include the submodules."""

    name: str  # state-dict style path: "layer1.0.conv1"
    type: str  # class name: "Conv2d", "Bottleneck", ...
    depth: int  # 1 for the model's direct children
    stage: str  # "stem", "layer1".."layerN" or "head"
    is_leaf: bool
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    trainable_params: int
    macs: int  # multiply-accumulates of convolution and linear layers
    flops: int  # every floating-point operation (see counting.py)
    operator: str | None  # what this module itself computes: "convolution", "add", ...
    self_flops: int  # FLOPs of ``operator`` alone, without the submodules
    output_bytes: int
    receptive_field: int | None  # in input pixels; None once pooled globally
    jump: int | None  # effective stride: input pixels between adjacent outputs
    kernel: int | None = None
    stride: int | None = None
    dilation: int | None = None
    groups: int | None = None

    @property
    def is_block(self) -> bool:
        return self.type in ("BasicBlock", "Bottleneck")


@dataclass(frozen=True)
class OperatorTotal:
    operator: str
    count: int
    macs: int
    flops: int


@dataclass(frozen=True)
class Totals:
    params: int
    trainable_params: int
    macs: int
    flops: int
    param_bytes: int
    activation_bytes: int  # sum of every module's output (leaves only)
    peak_activation_bytes: int  # inference estimate, see peak_activations()
    training_activation_bytes: int  # what autograd keeps for backward, see saved_for_backward()
    receptive_field: int  # of the last stage, in input pixels
    jump: int  # output stride of the last stage


@dataclass(frozen=True)
class Trace:
    spec: ResNetSpec
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    dtype: str
    layers: tuple[LayerRecord, ...]
    totals: Totals
    operators: tuple[OperatorTotal, ...]

    def at_depth(self, depth: int) -> list[LayerRecord]:
        return [r for r in self.layers if r.depth <= depth]

    def by_name(self) -> dict[str, LayerRecord]:
        return {r.name: r for r in self.layers}

    def stages(self) -> list[LayerRecord]:
        """One aggregate row per stage: stem, layer1..layerN, head."""
        return stage_rows(self)


def stage_of(name: str) -> str:
    top = name.split(".", 1)[0]
    if top.startswith("layer"):
        return top
    return "head" if top in ("avgpool", "fc") else "stem"


# --- the pass --------------------------------------------------------------------------------
@dataclass
class _Seen:
    inputs: tuple[torch.Tensor, ...]
    output: torch.Tensor


@contextmanager
def _hooks(model: nn.Module, seen: dict[str, _Seen], current: list[str]) -> Iterator[None]:
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def pre(_m: nn.Module, _args: Any, name: str = name) -> None:
            current.append(name)

        def post(_m: nn.Module, args: Any, output: Any, name: str = name) -> None:
            inputs = tuple(a for a in args if isinstance(a, torch.Tensor))
            seen[name] = _Seen(inputs, output)

        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))
    was_training = model.training
    try:
        model.eval()
        yield
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)


def _run(model: nn.Module, input_shape: tuple[int, ...], device: str) -> dict[str, _Seen]:
    seen: dict[str, _Seen] = {}
    current: list[str] = []
    fast = ShapeRules() if device == "meta" else contextlib.nullcontext()
    with _hooks(model, seen, current), torch.no_grad(), fast:
        try:
            model(torch.empty(input_shape, device=device))
        except (RuntimeError, ValueError) as exc:  # torch's own shape checks raise either
            where = current[-1] if current else "the input"
            raise SpecError(
                f"--input {shape_text(input_shape)}: the network cannot run on it (fails at {where}: "
                f"{str(exc).splitlines()[0]})"
            ) from None
    return seen


def trace_model(
    model: ResNet, input_shape: tuple[int, ...], dtype: str = "float32", device: str = "meta"
) -> Trace:
    """Trace ``model`` (built on ``device``) with an input of ``input_shape``."""
    spec = model.spec
    if input_shape[1] != spec.in_chans:
        raise UsageError(
            f"--input {shape_text(input_shape)}: has {input_shape[1]} channels but the model takes "
            f"in_chans={spec.in_chans}"
        )
    dtype = normalize_dtype(dtype)
    seen = _run(model, input_shape, device)
    rf = receptive_fields(model)
    item = DTYPE_BYTES[dtype]
    own = {name: _own_record(name, m, seen[name], rf[name], item) for name, m in model.named_modules() if name}
    layers = _aggregate(model, own)
    return Trace(
        spec=spec,
        input_shape=tuple(input_shape),
        output_shape=tuple(_shape(seen["fc"].output)),
        dtype=dtype,
        layers=layers,
        totals=_totals(model, layers, seen, item),
        operators=_operator_totals(layers),
    )


def trace_spec(
    spec: ResNetSpec, input_shape: tuple[int, ...] | None = None, dtype: str = "float32"
) -> Trace:
    model = build_model(spec, device="meta")
    return trace_model(model, input_shape or spec.default_input_shape(), dtype)


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(t.shape) if isinstance(t, torch.Tensor) else ()


def _numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape) if shape else 0


def _own_record(
    name: str, module: nn.Module, seen: _Seen, rf: tuple[int | None, int | None], item: int
) -> LayerRecord:
    in_shape = _shape(seen.inputs[0]) if seen.inputs else ()
    out_shape = _shape(seen.output)
    count = counting.count_module(module, in_shape, out_shape)
    geometry = counting.geometry(module)
    return LayerRecord(
        name=name,
        type=type(module).__name__,
        depth=name.count(".") + 1,
        stage=stage_of(name),
        is_leaf=not any(True for _ in module.children()),
        input_shape=in_shape,
        output_shape=out_shape,
        params=sum(p.numel() for p in module.parameters()),
        trainable_params=sum(p.numel() for p in module.parameters() if p.requires_grad),
        macs=count.macs,
        flops=count.flops,
        operator=count.operator,
        self_flops=count.flops,
        output_bytes=_numel(out_shape) * item,
        receptive_field=rf[0],
        jump=rf[1],
        **geometry,
    )


def _aggregate(model: nn.Module, own: dict[str, LayerRecord]) -> tuple[LayerRecord, ...]:
    """Add every module's MACs and FLOPs into its ancestors (params are already recursive)."""
    macs = {name: r.macs for name, r in own.items()}
    flops = {name: r.flops for name, r in own.items()}
    for name in sorted(own, key=lambda n: -n.count(".")):
        parent = name.rsplit(".", 1)[0] if "." in name else None
        if parent is not None:
            macs[parent] += macs[name]
            flops[parent] += flops[name]
    return tuple(
        dataclasses.replace(r, macs=macs[name], flops=flops[name]) for name, r in own.items()
    )


def _operator_totals(layers: tuple[LayerRecord, ...]) -> tuple[OperatorTotal, ...]:
    acc: dict[str, list[int]] = {}
    for r in layers:
        if r.operator is None:
            continue
        entry = acc.setdefault(r.operator, [0, 0, 0])
        entry[0] += 1
        entry[1] += r.macs if r.is_leaf else 0
        entry[2] += r.self_flops
    order = {op: i for i, op in enumerate(counting.OPERATORS)}
    return tuple(
        OperatorTotal(op, c, m, f) for op, (c, m, f) in sorted(acc.items(), key=lambda kv: order[kv[0]])
    )


def _totals(
    model: ResNet, layers: tuple[LayerRecord, ...], seen: dict[str, _Seen], item: int
) -> Totals:
    top = [r for r in layers if r.depth == 1]
    last_stage = [r for r in top if r.stage.startswith("layer")][-1]
    params = sum(p.numel() for p in model.parameters())
    return Totals(
        params=params,
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        macs=sum(r.macs for r in top),
        flops=sum(r.flops for r in top),
        param_bytes=params * item,
        activation_bytes=sum(r.output_bytes for r in layers if r.is_leaf),
        peak_activation_bytes=peak_activations(model, seen, item),
        training_activation_bytes=saved_for_backward(model, seen, item),
        receptive_field=last_stage.receptive_field or 0,
        jump=last_stage.jump or 0,
    )


# --- memory estimates ------------------------------------------------------------------------
def _bytes(t: torch.Tensor, item: int) -> int:
    return t.numel() * item


def saved_for_backward(model: nn.Module, seen: dict[str, _Seen], item: int) -> int:
    """Bytes autograd keeps for a training step's backward: each distinct tensor saved once.

    Convolution, linear and normalisation save their input, ReLU its output, max-pool its
    input and int64 indices; additions, zero-padding and global pooling save no activations.
    """
    saved: dict[int, int] = {}
    for name, m in model.named_modules():
        if not name or name not in seen or any(True for _ in m.children()):
            continue
        s = seen[name]
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.GroupNorm, nn.MaxPool2d)):
            saved[id(s.inputs[0])] = _bytes(s.inputs[0], item)
        if isinstance(m, nn.ReLU):
            saved[id(s.output)] = _bytes(s.output, item)
        if isinstance(m, nn.MaxPool2d):
            saved[-id(s.output)] = s.output.numel() * 8  # int64 indices
    return sum(saved.values())


def peak_activations(model: ResNet, seen: dict[str, _Seen], item: int) -> int:
    """Inference peak: the largest set of tensors alive at once, layer by layer.

    At each leaf its input and output are alive (one tensor for in-place ReLU). Inside a block
    the block's input stays alive for the shortcut; while the shortcut runs, the residual
    branch's result waits for the addition. Parameters are not included.
    """
    peak = 0
    for name, m in model.named_modules():
        if not name or any(True for _ in m.children()) or name not in seen:
            continue
        s = seen[name]
        live = {id(t): _bytes(t, item) for t in s.inputs}
        live[id(s.output)] = _bytes(s.output, item)
        block = _enclosing_block(model, name)
        if block is not None:
            bname, _bmod = block
            live[id(seen[bname].inputs[0])] = _bytes(seen[bname].inputs[0], item)
            if ".downsample" in name[len(bname):]:
                live[-1] = _bytes(seen[bname].output, item)  # the residual branch's result
        peak = max(peak, sum(live.values()))
    return peak


def _enclosing_block(model: nn.Module, name: str) -> tuple[str, nn.Module] | None:
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:i])
        m = model.get_submodule(prefix)
        if isinstance(m, _Residual):
            return prefix, m
    return None


# --- receptive field -------------------------------------------------------------------------
RF = tuple[int | None, int | None]


def receptive_fields(model: ResNet) -> dict[str, RF]:
    """Receptive field and jump of every module's output, through both branches of every block
    (the larger of the residual and the shortcut path). None after global pooling."""
    out: dict[str, RF] = {}
    _walk(model, "", (1, 1), out)
    return out


def _walk(module: nn.Module, name: str, rf: RF, out: dict[str, RF]) -> RF:
    prefix = f"{name}." if name else ""
    if isinstance(module, _Residual):
        residual = rf
        for child_name, child in module.named_children():
            if child is not module.downsample and child is not module.last_relu:
                residual = _walk(child, prefix + child_name, residual, out)
        shortcut = rf
        if module.downsample is not None:
            shortcut = _walk(module.downsample, prefix + "downsample", rf, out)
        merged = (max(residual[0] or 0, shortcut[0] or 0), residual[1])
        result = _walk(module.last_relu, prefix + _child_name(module, module.last_relu), merged, out)
    elif any(True for _ in module.children()):
        result = rf
        for child_name, child in module.named_children():
            result = _walk(child, prefix + child_name, result, out)
    else:
        result = _leaf_rf(module, rf)
    if name:
        out[name] = result
    return result


def _child_name(parent: nn.Module, child: nn.Module) -> str:
    return next(n for n, c in parent.named_children() if c is child)


def _leaf_rf(module: nn.Module, rf: RF) -> RF:
    size, jump = rf
    if size is None or jump is None or isinstance(module, nn.AdaptiveAvgPool2d | nn.Linear):
        return (None, None)
    g = counting.geometry(module)
    if g["kernel"] is None:
        if isinstance(module, ZeroPadShortcut):
            return (size, jump * module.stride)
        return rf
    span = (g["dilation"] or 1) * (g["kernel"] - 1) + 1
    return (size + (span - 1) * jump, jump * (g["stride"] or 1))


def stage_rows(trace: Trace) -> list[LayerRecord]:
    """stem, layer1..layerN and head as single rows, each summing its modules."""
    rows: list[LayerRecord] = []
    for stage in dict.fromkeys(r.stage for r in trace.layers if r.depth == 1):
        members = [r for r in trace.layers if r.depth == 1 and r.stage == stage]
        last = members[-1]
        rows.append(
            dataclasses.replace(
                last,
                name=stage,
                type="stage" if stage.startswith("layer") else stage,
                input_shape=members[0].input_shape,
                params=sum(r.params for r in members),
                trainable_params=sum(r.trainable_params for r in members),
                macs=sum(r.macs for r in members),
                flops=sum(r.flops for r in members),
                operator=None,
                self_flops=0,
                is_leaf=False,
            )
        )
    return rows

"""The recorder: sees every torch function a forward pass calls, and what each one costs.

One :class:`Recorder` (a ``TorchFunctionMode``) is active during the trace's single pass. For
each call it

- on the meta device, computes the output shape by the cost table's closed-form rule (fast:
  no meta kernel, no sympy);
- attributes the call to the innermost module running (the trace's hooks tell it which), so a
  block's residual sum is the block's own work and a user's ``F.relu`` inside ``forward`` is
  counted too;
- prices it by the cost table; a function without an entry is priced by torch's own FLOP
  counter and marked as such, or, where that counter knows no formula either, recorded as
  uncounted: never silently 0;
- follows the receptive field along the tensors themselves: each output's field comes from
  its inputs', so both branches of a block (or any number of branches) are seen, and the
  largest wins where they merge. A multiply by a per-channel gate (an NxCx1x1 tensor, as in
  squeeze-excitation) scales the spatial operand: the field follows that operand. Every
  tensor of a tuple output (the branches of a split) carries the field, and an operation
  without a rule that keeps the spatial size (the last two dimensions, whatever the rank: a
  stack of branches is N x paths x C x H x W) is taken as pointwise.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from . import costs
from .costs import GLOBAL, RF, Call, Operator
from .graph import CallGraph


class Counted(str, Enum):
    RULE = "rule"  # by the cost table
    FALLBACK = "fallback"  # by torch's FLOP counter: this project has no rule for it
    UNCOUNTED = "uncounted"  # no rule and no fallback formula: not in any total


@dataclass(frozen=True)
class Recorded:
    """One call: which operator, whose work, what it cost, and its tensors (by id)."""

    name: str  # the operator's name, or the torch function's for one without a rule
    operator: Operator | None
    owner: str  # the innermost module running ("" for the model's own forward)
    call: Call
    macs: int
    flops: int
    counted: Counted
    input_ids: tuple[int, ...]
    output_id: int  # the first output's (one branch of a split)
    output_ids: tuple[int, ...] = ()  # every output tensor's


@dataclass(frozen=True)
class Failure:
    """A torch function that raised during the pass, and the module that called it."""

    exception: Exception
    function: str  # "Tensor.__bool__", "Tensor.item", "torch.conv2d", ...
    owner: str  # the innermost module running ("" for the model's own forward)


@functools.cache
def _operators_by_function() -> dict[Any, Operator]:
    """The cost table's functions, resolved to torch's objects once."""
    table: dict[Any, Operator] = {}
    for op in costs.OPERATORS:
        for path in op.functions:
            table[_resolve(path)] = op
    return table


def _resolve(path: str) -> Any:
    obj: Any = torch
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def _function_name(func: Any) -> str:
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
    return str(name).replace("_VariableFunctionsClass.", "torch.").replace("TensorBase.", "Tensor.")


def _tensors(values: Iterable[Any]) -> list[torch.Tensor]:
    found: list[torch.Tensor] = []
    for v in values:
        if isinstance(v, torch.Tensor):
            found.append(v)
        elif isinstance(v, (list, tuple)):
            found += _tensors(v)
    return found


class Recorder(TorchFunctionMode):
    def __init__(self, shape_rules: bool) -> None:
        super().__init__()
        self.shape_rules = shape_rules
        self.calls: list[Recorded] = []
        self.owners: list[str] = [""]
        self.rf: dict[int, RF] = {}
        self.numel: dict[int, int] = {}  # elements of every activation (a tensor with a field)
        # (tensor ids, index of the last call made before the module returned): a module's
        # forward keeps its arguments referenced until it returns, whatever it calls last
        self.holds: list[tuple[tuple[int, ...], int]] = []
        self._open: list[tuple[int, tuple[int, ...]]] = []
        self.input_id = 0  # the network's input, once seeded
        self.assumed_global: list[str] = []  # operators after which the field was assumed global
        self._alive: list[torch.Tensor] = []  # keeps every id the pass saw unique until it ends
        self.failure: Failure | None = None  # the last torch function that raised, if any

    # -- the module stack, driven by the trace's hooks ------------------------------------
    def enter(self, name: str, inputs: Iterable[Any] = ()) -> None:
        """A module's forward starts; it holds its tensor arguments until it returns."""
        self.owners.append(name)
        self._open.append((len(self.calls), tuple(id(t) for t in _tensors(inputs))))

    def leave(self) -> None:
        self.owners.pop()
        start, ids = self._open.pop()
        if ids and len(self.calls) > start:
            self.holds.append((ids, len(self.calls) - 1))

    def seed(self, x: torch.Tensor) -> None:
        """The network's input: a receptive field of one pixel, jump one."""
        self.rf[id(x)] = (1, 1)
        self.numel[id(x)] = x.numel()
        self.input_id = id(x)
        self._alive.append(x)

    def freeze(self) -> CallGraph:
        """What the pass saw, as the frozen record everything after it reads (no copy: the
        recorder is done with it)."""
        return CallGraph(tuple(self.calls), self.input_id, MappingProxyType(self.numel),
                         MappingProxyType(self.rf), tuple(self.holds), tuple(self.assumed_global))  # fmt: skip

    # -- every torch function --------------------------------------------------------------
    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        op = _operators_by_function().get(func)
        inputs = _tensors(args) + _tensors(kwargs.values())
        flops_counter = None
        if op is None and inputs and not _metadata_only(func):
            flops_counter = _flop_counter()
        try:
            if flops_counter is not None:
                with flops_counter:
                    out = func(*args, **kwargs)
            else:
                out = self._run(op, func, args, kwargs)
        except Exception as exc:  # which function failed, in which module: the trace explains it
            self.failure = Failure(exc, _function_name(func), self.owners[-1])
            raise
        outputs = _tensors(out) if isinstance(out, (tuple, list)) else [out]
        if outputs and isinstance(outputs[0], torch.Tensor) and inputs:
            self._record(op, func, args, kwargs, inputs, outputs, flops_counter)
        return out

    def _run(self, op: Operator | None, func: Any, args: Any, kwargs: Any) -> Any:
        x = args[0] if args else None
        if op is not None and op.shape is not None and self.shape_rules and isinstance(x, torch.Tensor) and x.is_meta:
            try:
                return op.shape(*args, **kwargs)
            except NotImplementedError:
                pass
        return func(*args, **kwargs)

    def _record(
        self, op: Operator | None, func: Any, args: Any, kwargs: Any,
        inputs: list[torch.Tensor], outputs: list[torch.Tensor], counter: Any,
    ) -> None:  # fmt: skip
        out = outputs[0]  # the call's shape is its first output's (one branch of a split)
        # every tensor a call touches stays referenced until the pass ends, so that no id in
        # ``calls`` is reused by a later tensor (a freed temporary, such as a standardised
        # weight's view, would otherwise lend its id to a later activation)
        self._alive += inputs + outputs
        named = costs.bind(op, args, kwargs) if op is not None else dict(kwargs)
        extra = {k: v for k, v in named.items() if k != "input" and not _holds_tensors(v)}
        if op is not None and "bias" in named:
            extra["bias"] = named["bias"]  # only whether there is one is read
        call = Call(op.name if op else _function_name(func), tuple(tuple(t.shape) for t in inputs),
                    tuple(out.shape), extra)  # fmt: skip
        if op is not None:
            macs, flops, counted = op.macs(call), op.flops(call), Counted.RULE
        else:
            flops = int(counter.get_total_flops()) if counter is not None else 0
            macs, counted = flops // 2, Counted.FALLBACK if flops else Counted.UNCOUNTED
        self.calls.append(Recorded(call.operator, op, self.owners[-1], call, macs, flops, counted,
                                   tuple(id(t) for t in inputs), id(out),
                                   tuple(id(t) for t in outputs)))  # fmt: skip
        self._follow_receptive_field(op, call, inputs, outputs)

    def _follow_receptive_field(
        self, op: Operator | None, call: Call, inputs: list[torch.Tensor], outputs: list[torch.Tensor]
    ) -> None:
        known = [(self.rf[id(t)], tuple(t.shape)) for t in inputs if id(t) in self.rf]
        if not known:
            return  # parameters and constants carry no receptive field
        merged = merge_fields(known)
        if op is not None:
            field = op.receptive(call, merged)
        elif merged == GLOBAL or _same_spatial(call.output_shape, [s for _, s in known]):
            field = merged  # no rule: a spatial size kept is taken as a pointwise operation
        else:  # no rule, and the size changes: how the field changes is not known; say so
            field = GLOBAL
            self.assumed_global.append(call.operator)
        for out in outputs:
            self.rf[id(out)] = field
            self.numel[id(out)] = out.numel()
            self._alive.append(out)


def merge_fields(inputs: list[tuple[RF, tuple[int, ...]]]) -> RF:
    """Where branches meet (a residual sum, a concatenation, a gate): the largest field.

    Operands without spatial extent (a per-channel gate after global pooling) scale the
    others and do not widen their field."""
    spatial = [rf for rf, shape in inputs if len(shape) >= 4 and shape[-1] * shape[-2] > 1]
    fields = spatial or [rf for rf, _ in inputs]
    if any(size is None for size, _ in fields):
        return GLOBAL
    return (max(s or 0 for s, _ in fields), max(j or 0 for _, j in fields))


def _same_spatial(out: tuple[int, ...], ins: list[tuple[int, ...]]) -> bool:
    """Whether the output keeps an input's spatial size: the last two dimensions of tensors of
    rank 4 or more (a view to N x paths x C x H x W, a stack of branches, a sum across them)."""
    return len(out) >= 4 and any(len(s) >= 4 and s[-2:] == out[-2:] for s in ins)


def _holds_tensors(value: Any) -> bool:
    return isinstance(value, torch.Tensor) or (
        isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value)
    )


_METADATA = frozenset({"dim", "size", "numel", "__get__", "__len__", "__bool__", "element_size",
                       "is_contiguous", "stride", "data_ptr", "__format__", "__repr__"})  # fmt: skip


def _metadata_only(func: Any) -> bool:
    return getattr(func, "__name__", "") in _METADATA


def _flop_counter() -> Any:
    from torch.utils.flop_counter import FlopCounterMode

    return FlopCounterMode(display=False)

"""Where two aligned models part: the first module, in the order modules finish, whose output
differs while its input agrees.

The reference runs once on input #1 and every mapped module's inputs and outputs are kept
(cloned: an in-place op later in the pass would change them). Then each of the user's mapped
modules is called on its reference partner's input ("shadow" mode, as torch.ao's numeric suite
runs a quantised module on the float model's input): its *own* error. An error made in one
place is thus not blamed on everything after it. Beside it, the *propagated* error: the user's
module's output in a normal run against the reference's. A module called twice is compared
call by call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .align import Alignment
from .compare import difference

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class ModuleError:
    """One call of a mapped module: the reference's name, the user's, and the relative L2
    difference of the user's output from the reference's, on the reference's input (``own``)
    and in a normal run (``propagated``); None where the call could not be made."""

    module: str
    user_module: str
    call: int
    own: float | None
    propagated: float | None
    own_shape: tuple[int, ...] | None = None  # the user's output on the reference's input
    shape: tuple[int, ...] | None = None  # the reference's output

    def to_dict(self) -> dict[str, Any]:
        return {"module": self.module, "user_module": self.user_module, "call": self.call,
                "own": _json(self.own), "propagated": _json(self.propagated)}  # fmt: skip


@dataclass(frozen=True)
class Localisation:
    """``divergence``: the first module (reference's name) whose own error is above
    ``tolerance``; ``first_propagated``: the first whose output differs in a normal run."""

    tolerance: float
    errors: tuple[ModuleError, ...]  # in the order the reference's modules finish

    @property
    def divergence(self) -> ModuleError | None:
        return next((e for e in self.errors if e.own is None or e.own > self.tolerance), None)

    @property
    def first_propagated(self) -> ModuleError | None:
        return next(
            (e for e in self.errors if e.propagated is None or e.propagated > self.tolerance), None
        )


def _json(x: float | None) -> float | None:
    import math

    return x if x is not None and math.isfinite(x) else None


@dataclass
class _Seen:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    output: Any


@contextmanager
def _capture(model: nn.Module, names: set[str], keep_inputs: bool) -> Iterator[list[_Seen]]:
    """Every call of the modules ``names`` as it finishes: cloned inputs and output."""
    seen: list[_Seen] = []
    pending: dict[int, list[tuple[tuple[Any, ...], dict[str, Any]]]] = {}
    handles = []
    for name, module in model.named_modules():
        if name not in names:
            continue

        def pre(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            stored = (_clone(args), _clone(kwargs)) if keep_inputs else ((), {})
            pending.setdefault(id(m), []).append(stored)

        def post(m: nn.Module, _a: Any, _k: Any, out: Any, name: str = name) -> None:
            args, kwargs = pending[id(m)].pop()
            seen.append(_Seen(name, args, kwargs, _clone(out)))

        handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(module.register_forward_hook(post, with_kwargs=True))
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()


def _clone(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def localise(
    alignment: Alignment, reference: nn.Module, mine: nn.Module, x: torch.Tensor, tolerance: float
) -> tuple[Localisation, dict[str, tuple[Any, ...]]]:
    """Each mapped module's own and propagated error on ``x`` (see the module's docstring);
    also the reference's inputs per module (its first call), for describing a departure.
    Where the user's module got exactly the reference's input in the normal run, its own
    error is its propagated one and it is not called again."""
    import torch

    to_a = alignment.modules
    to_b = {a: b for b, a in to_a.items()}
    with torch.no_grad():
        with _capture(reference, set(to_b), keep_inputs=True) as ref_seen:
            reference(x.clone())
        calls: dict[str, list[_Seen]] = {}
        for s in ref_seen:
            calls.setdefault(s.name, []).append(s)
        with _following(mine, to_a, calls) as normal:
            mine(x.clone())
        mine_modules = dict(mine.named_modules())
        count: dict[str, int] = {}
        errors = []
        inputs: dict[str, tuple[Any, ...]] = {}
        for s in ref_seen:
            k = count[s.name] = count.get(s.name, -1) + 1
            inputs.setdefault(s.name, s.args)
            same_input, propagated, normal_shape = normal.get((s.name, k), (False, None, None))
            own, own_shape = (
                (propagated, normal_shape) if same_input else _shadow(mine_modules[to_b[s.name]], s)
            )
            errors.append(
                ModuleError(s.name, to_b[s.name], k, own, propagated, own_shape, _shape(s.output))
            )
    return Localisation(tolerance, tuple(errors)), inputs


@contextmanager
def _following(
    mine: nn.Module, to_a: dict[str, str], calls: dict[str, list[_Seen]]
) -> Iterator[dict[tuple[str, int], tuple[bool, float | None, tuple[int, ...] | None]]]:
    """While the user's model runs: per (reference module, call), whether the user's module
    got exactly the reference's input, and its output's difference from the reference's."""
    found: dict[tuple[str, int], tuple[bool, float | None, tuple[int, ...] | None]] = {}
    started: dict[str, int] = {}
    same: dict[tuple[str, int], bool] = {}
    handles = []
    for name, module in mine.named_modules():
        if name not in to_a:
            continue
        a = to_a[name]

        def pre(_m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], a: str = a) -> None:
            k = started[a] = started.get(a, -1) + 1
            theirs = calls.get(a, [])
            same[(a, k)] = k < len(theirs) and _equal(
                (args, kwargs), (theirs[k].args, theirs[k].kwargs)
            )

        def post(_m: nn.Module, _args: Any, _kwargs: Any, out: Any, a: str = a) -> None:
            k = started[a]  # the latest call of this module that finishes: its own
            theirs = calls.get(a, [])
            found[(a, k)] = (
                same.get((a, k), False),
                difference(out, theirs[k].output)[0] if k < len(theirs) else None,
                _shape(out),
            )

        handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(module.register_forward_hook(post, with_kwargs=True))
    try:
        yield found
    finally:
        for h in handles:
            h.remove()


def _equal(mine: Any, theirs: Any) -> bool:
    import torch

    from .compare import tensors

    a, b = tensors(mine), tensors(theirs)
    return len(a) == len(b) and all(
        x.shape == y.shape and torch.equal(x, y) for x, y in zip(a, b, strict=True)
    )


def _shadow(module: nn.Module, seen: _Seen) -> tuple[float | None, tuple[int, ...] | None]:
    """The user's module on the reference's input: its output's relative L2 difference from
    the reference's, and its shape."""
    try:
        out = module(*_clone(seen.args), **_clone(seen.kwargs))
    except Exception:  # the user's module does not take the reference's input: say so, do not stop
        return None, None
    return difference(out, seen.output)[0], _shape(out)


def _shape(output: Any) -> tuple[int, ...] | None:
    from .compare import tensors

    found = tensors(output)
    return tuple(found[0].shape) if found else None

"""Where two call sequences part: the parametrised call only one side makes, said as a
departure at the user's module, with what a claim that the function differs rests on (the
alignment, ``align.py``, found that the sequences part; this module says where and why)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..units import printable
from .align import Alignment, Call
from .words import Departure, article


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
        text = f"{article(_kind_words(call.kind))} ({_leaf(call.name)}) after {_leaf(before.name)} where {ref} has none"
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

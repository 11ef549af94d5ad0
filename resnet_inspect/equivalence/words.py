"""Departures in words: how a user's module computes differently from the reference's.

Both modules are read by ``operations.py`` (one recorder pass each: every call classified,
the residual units found in the data flow). Here the user's units are paired with the
reference's in the order they run, and the steps around them (the stem before the first, the
head after the last) likewise; each difference is said in words that name the user's module
and what the reference does there, and marked as changing the function or not.

Names come from user code: every text is escaped (``units.printable``) before it leaves this
module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from ..units import printable
from .operations import Pass, Step, Unit, count_of, record, record_shapes, residual_units, steps_of


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
        ours = record(mine, [a.detach().clone() for a in args])
        ref = record(theirs, [a.detach().clone() for a in args])
    except Exception:  # the user's forward failed on its own input: nothing to say from it
        return ()
    found = _departures(ours, ref, where, printable(reference))
    ranked = sorted(found, key=lambda d: not d.changes_function)  # what changes the output first
    return tuple(f"{d.where}: {d.text}" if d.where else d.text for d in ranked)


def operation_departures(
    mine: nn.Module, theirs: nn.Module, input_shape: tuple[int, ...], reference: str,
    passes: tuple[Pass | None, Pass] | None = None,
) -> tuple[Departure, ...]:  # fmt: skip
    """Whole-model: every departure of `mine` from `theirs` visible in the operations they run
    (a meta-device pass of each), including those that do not change the eval-mode function,
    each marked. ``passes``: those two passes made already (:func:`meta_pass`, the user's
    None where it raised on meta: it is made here then, as without them)."""
    if passes is None:
        ours, ref = record_shapes(mine, input_shape), record_shapes(theirs, input_shape)
    else:
        ours, ref = passes[0] or record_shapes(mine, input_shape), passes[1]
    ref_name = printable(reference)
    return tuple(_departures(ours, ref, "", ref_name)) + _shared_modules(mine, theirs, ref_name)


# --- the departures -------------------------------------------------------------------------------
def _departures(ours: Pass, ref: Pass, prefix: str, reference: str) -> list[Departure]:
    """Units paired in order, and the stem before them and the head after them."""
    mu, tu = residual_units(ours), residual_units(ref)
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


def _end(p: Pass, unit: Unit) -> int:
    return p.spans[unit.name][1]


def _at(prefix: str, name: str) -> str:
    return printable(".".join(n for n in (prefix, name) if n))


def _count_departure(mu: list[Unit], tu: list[Unit], prefix: str, reference: str) -> Departure:
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

    p: Pass
    prefix: str
    label: str  # " in the stem", " in the head", "" (a module with no unit)
    start: int
    end: int

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.p.steps[self.start : self.end]


def _region(region: _Region, theirs: Sequence[Step], reference: str) -> list[Departure]:
    mine, prefix, label = region.steps, region.prefix, region.label
    topic = {" in the stem": "stem", " in the head": "head"}.get(label, "")
    found = _common(mine, theirs, prefix, None, reference)
    pools = _pools(mine, theirs, prefix, label, reference)
    found += [replace(d, topic="pool" if topic == "head" else topic) for d in pools]
    for kind in ("conv", "norm", "act", "linear"):
        extra = _extra_or_missing(steps_of(mine, kind), steps_of(theirs, kind), prefix, label, reference)
        found += [replace(d, topic=topic) for d in extra]
    if not found and _kinds(mine) != _kinds(theirs):
        where = label.strip() or "this module"
        text = f"{where} runs {_words(mine)} where {reference}'s runs {_words(theirs)}"
        found.append(Departure(text, printable(prefix), True, topic))
    return found


def _common(
    mine: Sequence[Step], theirs: Sequence[Step], prefix: str, unit: Unit | None, reference: str
) -> list[Departure]:
    """What any stretch of steps is compared by: the activations, the convs' biases, dropout,
    and how the features are flattened. Within a unit the words go to the unit and name its
    modules from it ("conv1"); elsewhere they go to the module that ran the step."""

    def where(s: Step) -> str:
        return _at(prefix, s.owner if unit is None else unit.name)

    def name(s: Step) -> str:
        return printable(_rel(s.owner, unit.name)) if unit is not None else _at(prefix, s.owner)

    found: list[Departure] = []
    seen: set[tuple[str, str]] = set()
    for m, t in zip(steps_of(mine, "act"), steps_of(theirs, "act"), strict=False):
        if m.what != t.what and (m.what, t.what) not in seen:
            seen.add((m.what, t.what))
            found.append(Departure(f"{m.what} where {reference} has {t.what}", where(m), True))
    with_bias = [m for m, t in zip(steps_of(mine, "conv"), steps_of(theirs, "conv"), strict=False)
                 if _bias(m) and not _bias(t)]  # fmt: skip
    if with_bias:
        found.append(_bias_departure([name(s) or "the forward" for s in with_bias],
                                     sum(_bias(s) for s in with_bias), where(with_bias[0]), reference))  # fmt: skip
    extra = len(steps_of(mine, "dropout")) - len(steps_of(theirs, "dropout"))
    for d in steps_of(mine, "dropout")[: max(extra, 0)]:
        before = next((s for s in reversed(mine) if s.index < d.index), None)
        after = f" after {_at(prefix, before.owner) or 'the input'}" if before is not None else ""
        text = f"dropout{d.detail}{after} (no effect in eval; it changes training)"
        found.append(Departure(text, where(d), False))
    m_flat, t_flat = (
        steps_of(mine, "view") + steps_of(mine, "flatten"),
        steps_of(theirs, "view") + steps_of(theirs, "flatten"),
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


def _bias(s: Step) -> int:
    """The bias's parameters of a conv call (its third tensor argument), 0 for none."""
    shapes = s.call.call.input_shapes
    has = s.call.call.args.get("bias") is not None and len(shapes) > 2
    return shapes[2][0] if has and shapes[2] else 0


def _listed(names: Sequence[str], most: int = 4) -> str:
    shown = list(names[:most]) + ([f"{len(names) - most} more"] if len(names) > most else [])
    return ", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]


def _pools(
    mine: Sequence[Step], theirs: Sequence[Step], prefix: str, label: str, reference: str
) -> list[Departure]:
    mp, tp = steps_of(mine, "pool"), steps_of(theirs, "pool")
    found = [_pool_departure(m, t, prefix, label, reference)
             for m, t in zip(mp, tp, strict=False) if m.what != t.what]  # fmt: skip
    return found + _extra_or_missing(mp, tp, prefix, label, reference)


def _extra_or_missing(
    mine: Sequence[Step], theirs: Sequence[Step], prefix: str, label: str, reference: str
) -> list[Departure]:
    """Steps of one kind past the other's count: "a Sigmoid in the head where resnet34 has
    none", "no max-pool (3x3, stride 2) in the stem (resnet18 has one)"."""
    found = [Departure(f"{article(m.what)}{label} where {reference} has none", _at(prefix, m.owner), True)
             for m in mine[len(theirs) :]]  # fmt: skip
    found += [Departure(f"no {_bare(t.what)}{label} ({reference} has one)", printable(prefix), True)
              for t in theirs[len(mine) :]]  # fmt: skip
    return found


def article(what: str) -> str:
    if what.startswith(("a ", "an ")):
        return what
    return ("an " if what[:1] in "AEIOaeio" else "a ") + what


def _bare(what: str) -> str:
    return what.split(" ", 1)[1] if what.startswith(("a ", "an ")) else what


def _pool_departure(m: Step, t: Step, prefix: str, label: str, reference: str) -> Departure:
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


def _kinds(steps: Sequence[Step]) -> list[str]:
    return [s.what for s in steps if s.kind not in ("other", "view", "flatten")]


def _words(steps: Sequence[Step], none: str = "nothing") -> str:
    named = _kinds(steps)
    return ", ".join(named) if named else none


# --- a unit against the reference's ---------------------------------------------------------
def _unit_departures(p: Pass, m: Unit, t: Unit, prefix: str, reference: str) -> list[Departure]:
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


def _shortcut_words(m: Unit, t: Unit, reference: str) -> str:
    mine, theirs = _words(m.shortcut, "the identity"), _words(t.shortcut, "the identity")
    if count_of(m.shortcut, "conv") and not t.shortcut:
        return f"a projection shortcut ({mine}) where {reference}'s is the identity"
    if count_of(t.shortcut, "conv") and not m.shortcut:
        return f"the identity as the shortcut where {reference} projects it ({theirs})"
    return f"the shortcut runs {mine} where {reference}'s runs {theirs}"


_COMBINED = {"adds": "adds it", "subtracts": "subtracts it", "multiplies": "multiplies by it"}


def _combine_rule(m: Unit, t: Unit, reference: str) -> list[str]:
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


def _activation_rules(m: Unit, t: Unit, reference: str) -> list[str]:
    m_before = m.branch[-1] if m.branch and m.branch[-1].kind == "act" else None
    t_before = t.branch and t.branch[-1].kind == "act"
    t_after, m_after = steps_of(t.post, "act"), steps_of(m.post, "act")
    if m_before is not None and not t_before:
        there = "applies it after" if t_after else "has none there"
        also = "" if m_after or not t_after else ", and none after it"
        return [f"a {m_before.what} on the branch before the sum ({reference} {there}){also}"]
    if t_after and not m_after:
        return [f"no {t_after[0].what} after the sum ({reference} applies one)"]
    if m_after and not t_after:
        return [f"a {m_after[0].what} after the sum ({reference} has none there)"]
    return []


def _norm_rules(m: Unit, t: Unit, reference: str) -> list[str]:
    found: list[str] = []
    moved = count_of(m.post, "norm") > count_of(t.post, "norm")
    if moved:
        norm = steps_of(m.post, "norm")[0].what
        found.append(f"a {norm} after the sum ({reference} normalises the branch before it)")
    for path, theirs, name in (
        (m.branch, t.branch, "branch"),
        (m.shortcut, t.shortcut, "shortcut"),
    ):
        for i, (mc, tc) in enumerate(zip(steps_of(path, "conv"), steps_of(theirs, "conv"), strict=False)):
            norm = _norm_after(theirs, tc)
            if (
                norm
                and not _norm_after(path, mc)
                and not (moved and name == "branch" and mc is steps_of(path, "conv")[-1])
            ):
                conv = printable(_rel(mc.owner, m.name)) or f"the {name}'s conv {i + 1}"
                found.append(f"no {norm} after {conv} ({reference} normalises that conv's output)")
    return found


def _norm_after(path: Sequence[Step], conv: Step) -> str:
    """The norm that takes the conv's output on this path, "" for none."""
    i = path.index(conv)
    following = path[i + 1] if i + 1 < len(path) else None
    return following.what if following is not None and following.kind == "norm" else ""


def _stride_rule(m: Unit, t: Unit, reference: str) -> list[str]:
    ms = [_stride(s) for s in steps_of(m.branch, "conv")]
    ts = [_stride(s) for s in steps_of(t.branch, "conv")]
    if ms == ts or sorted(ms) != sorted(ts) or max(ms) == 1:
        return []
    i, j = ms.index(max(ms)), ts.index(max(ts))
    conv = printable(_rel(steps_of(m.branch, "conv")[i].owner, m.name)) or "a conv"
    return [f"the stride {max(ms)} is on {conv}, the branch's {_ordinal(i)} conv, where "
            f"{reference} strides its {_ordinal(j)}"]  # fmt: skip


def _stride(s: Step) -> int:
    stride = s.call.call.args.get("stride", 1)
    return int(stride if isinstance(stride, int) else stride[0])


def _ordinal(i: int) -> str:
    return {0: "1st", 1: "2nd", 2: "3rd"}.get(i, f"{i + 1}th")


def _pre_rule(p: Pass, m: Unit, t: Unit, where: str, reference: str) -> list[Departure]:
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


def _nonnegative(p: Pass, tensor: int, before: int) -> bool:
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

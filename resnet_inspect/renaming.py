"""B's trace renamed to A's module names, so that diff's rows line up: along the alignment by
computation (:func:`rename_by`, :mod:`.equivalence`'s paired modules and containers), or, where
the two do not align, by the order and kind of their leaf operations (:func:`rename_to_match`);
and B's modules put in the stages of the A modules they map to (:func:`restaged`). Trace in,
trace out: no torch, no rendering.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tracing import LayerRecord, Trace


# --- structural alignment: B's modules renamed to A's ---------------------------------------
def _key(r: LayerRecord) -> tuple[Any, ...]:
    """What a leaf operation is, regardless of its name: kind, size and kernel (not stride or
    output shape: those are what a diff shows as changed)."""
    return (r.type, r.params, r.kernel, r.groups)


def _leaves(t: Trace) -> list[str]:
    return list(t.executed) or [r.name for r in t.layers if r.is_leaf]


def rename_to_match(a: Trace, b: Trace) -> Trace:
    """``b`` with its modules renamed to the ``a`` modules they match by structure: leaves by
    the order and kind of their operations, a parent to the ``a`` module whose leaves are
    exactly its own. Modules without a match keep their name under their renamed parent."""
    by_a, by_b = a.by_name(), b.by_name()
    leaves_a, leaves_b = _leaves(a), _leaves(b)
    matcher = difflib.SequenceMatcher(None, [_key(by_a[n]) for n in leaves_a],
                                      [_key(by_b[n]) for n in leaves_b], autojunk=False)  # fmt: skip
    mapping: dict[str, str] = {}
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                if by_a[leaves_a[i]].type == by_b[leaves_b[j]].type:
                    mapping[leaves_b[j]] = leaves_a[i]
    mapping |= _parents(a, b, mapping)
    renamed: dict[str, str] = {}
    for r in sorted(b.layers, key=lambda r: r.name.count(".")):
        parent, _, last = r.name.rpartition(".")
        renamed[r.name] = mapping.get(r.name) or (f"{renamed[parent]}.{last}" if parent else r.name)
    layers = tuple(_renamed(r, renamed[r.name], by_a) for r in b.layers)
    return dataclasses.replace(
        b, layers=layers, executed=tuple(renamed.get(n, n) for n in b.executed)
    )


def _parents(a: Trace, b: Trace, leaves: dict[str, str]) -> dict[str, str]:
    leaves_a, leaves_b = _leaves(a), _leaves(b)  # once: not per container
    a_leaves = {
        r.name: [n for n in leaves_a if n.startswith(r.name + ".")]
        for r in a.layers
        if not r.is_leaf
    }
    used = set(leaves.values())
    out: dict[str, str] = {}
    for r in sorted((r for r in b.layers if not r.is_leaf), key=lambda r: r.name.count(".")):
        mine = [n for n in leaves_b if n.startswith(r.name + ".")]
        if not mine or any(n not in leaves for n in mine):
            continue
        targets = [leaves[n].split(".") for n in mine]
        common = []
        for parts in zip(*targets, strict=False):
            if len(set(parts)) > 1:
                break
            common.append(parts[0])
        lca = ".".join(common)
        if (
            lca
            and lca not in used
            and lca in a_leaves
            and sorted(a_leaves[lca]) == sorted(leaves[n] for n in mine)
        ):
            out[r.name] = lca
            used.add(lca)
    return out


def _renamed(r: LayerRecord, name: str, by_a: dict[str, LayerRecord]) -> LayerRecord:
    if name == r.name:
        return r
    stage = by_a[name].stage if name in by_a else by_a.get(name.split(".", 1)[0], r).stage
    return dataclasses.replace(r, name=name, depth=name.count(".") + 1, stage=stage)


# --- alignment by computation: B's modules renamed to A's ----------------------------------------
def rename_by(
    modules: dict[str, str], a: Trace, b: Trace
) -> tuple[Trace, tuple[str, ...], dict[str, str]]:
    """``b`` with its modules renamed along ``modules`` (B's name -> A's: the alignment's
    paired modules and containers), and the names of B's modules left out: a parameter-free
    module no A module matches (a ReLU that A calls as a function) or a container that only
    groups modules A also has (``entry`` for ``conv1`` and ``bn1``). A parameter-free leaf is
    matched to an unmatched A leaf of the same type under the same parent, in order."""
    by_a = a.by_name()
    whole = _wrappers(modules, b)
    renamed: dict[str, str] = {}
    for r in sorted(b.layers, key=lambda r: r.name.count(".")):
        parent, _, last = r.name.rpartition(".")
        above = renamed.get(parent, parent)
        renamed[r.name] = modules.get(r.name) or (
            "" if r.name in whole else f"{above}.{last}" if above else last
        )
    renamed |= _free_leaves(a, b, renamed)
    kept_names = ({n for n in renamed.values() if n in by_a} | set(modules.values())) - {""}
    left = tuple(r.name for r in b.layers if renamed[r.name] not in kept_names
                 and only_groups_or_free(r, b, set(modules)))  # fmt: skip
    layers = tuple(_renamed(r, renamed[r.name], by_a) for r in b.layers if r.name not in left)
    executed = tuple(renamed.get(n, n) for n in b.executed if n not in left)
    matched = {n: m for n, m in renamed.items() if m in by_a and n not in left}
    return dataclasses.replace(b, layers=layers, executed=executed), left, matched


def _wrappers(modules: dict[str, str], b: Trace) -> set[str]:
    """B's containers that hold every paired module: the model again, one level down (a
    wrapper's ``inner.net``); their children sit at A's top level."""
    paired = [n for n in modules if n]
    return {r.name for r in b.layers if not r.is_leaf and r.name not in modules and paired
            and all(n.startswith(r.name + ".") for n in paired)}  # fmt: skip


def _free_leaves(a: Trace, b: Trace, renamed: dict[str, str]) -> dict[str, str]:
    """B's parameter-free leaves whose renamed name A lacks, each to the next A leaf of the
    same type under the same (renamed) parent that no B module took."""
    by_a = a.by_name()
    taken = set(renamed.values())
    free_a: dict[tuple[str, str], list[str]] = {}
    for r in a.layers:
        if r.is_leaf and r.params == 0 and r.name not in taken:
            free_a.setdefault((r.name.rpartition(".")[0], r.type), []).append(r.name)
    out: dict[str, str] = {}
    for r in b.layers:
        name = renamed[r.name]
        if not r.is_leaf or r.params or name in by_a:
            continue
        parent = r.name.rpartition(".")[0]
        candidates = free_a.get((renamed.get(parent, parent) if parent else "", r.type), [])
        if candidates:
            out[r.name] = candidates.pop(0)
    return out


def only_groups_or_free(r: LayerRecord, trace: Trace, kept: set[str]) -> bool:
    """A module that is no row of its own: parameter-free, or a container every
    parameter-holding module under which is ``kept`` (matched on the other side)."""
    if r.params == 0:
        return True
    under = [
        x
        for x in trace.layers
        if x.is_leaf and x.params and (x.name.startswith(r.name + ".") or x.name == r.name)
    ]
    return not r.is_leaf and all(x.name in kept for x in under)


def restaged(b: Trace, modules: dict[str, str], a: Trace) -> Trace:
    """``b`` under its own names, each module in the stage of the A module it maps to
    (``modules``: B's name -> A's); a container of modules of several stages (``body`` for
    layer1..layer4) in none (""), as resnetv2's ``stages`` is. A leaf without a partner takes
    its parent's stage, or that of the module that ran before it."""
    stage_a = {r.name: r.stage for r in a.layers}
    own: dict[str, str] = {n: stage_a[m] for n, m in modules.items() if m in stage_a}
    stages: dict[str, str] = {}
    for r in sorted(b.layers, key=lambda r: -r.name.count(".")):  # children first
        if r.name in own:
            stages[r.name] = own[r.name]
            continue
        below = {
            stages[x.name] for x in b.layers if x.name.startswith(r.name + ".") and x.name in stages
        }
        below.discard("")
        stages[r.name] = below.pop() if len(below) == 1 else ""
    for r in sorted(b.layers, key=lambda r: r.name.count(".")):  # a leaf without a partner
        parent = r.name.rpartition(".")[0]
        if not stages[r.name] and r.is_leaf and parent in stages:
            stages[r.name] = stages[parent]
    previous = ""
    for name in b.executed:  # still none (its parent is the model): the stage it runs in
        if name in stages and not stages[name] and name not in own:
            stages[name] = previous
        previous = stages.get(name) or previous
    return dataclasses.replace(b, layers=tuple(dataclasses.replace(r, stage=stages[r.name] or r.stage
                               if r.name in own else stages[r.name]) for r in b.layers))  # fmt: skip

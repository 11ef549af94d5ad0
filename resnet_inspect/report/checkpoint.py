"""From checkpoint results (Checkpoint, Comparison, Identification) to Reports.

Arrangement only: every number here was computed in checkpoint/ or identify/.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..spec import ResNetSpec, preset_words, spec_string
from ..units import human, printable
from .document import Column, Report, Table

if TYPE_CHECKING:
    from ..checkpoint import Checkpoint, Comparison
    from ..identification.proof import Identification

MATCH, MISSING, UNEXPECTED, SHAPE = "match", "missing", "unexpected", "shape differs"
FILLED = "missing, filled by torch"
UNCOPYABLE = "cannot be copied"  # the right shape, a dtype or layout torch will not copy
_STYLES = {MATCH: "", FILLED: "", MISSING: "red", UNEXPECTED: "yellow", SHAPE: "red", UNCOPYABLE: "red"}


def checkpoint_json(c: Checkpoint) -> dict[str, Any]:
    return {
        "path": str(c.path),
        "format": c.format.value,
        "nested_key": c.nested_key,
        "stripped_prefix": c.stripped_prefix,
        "tensors": len(c.tensors),
        "values": c.num_values,
        "dtypes": list(c.dtypes),
        "layout": c.layout,  # None: torchvision's or timm's names, read as they are
        "ecosystem": c.ecosystem,
        "layout_assumptions": list(c.assumptions),
        "spec_hints": {k: _jsonable(v) for k, v in c.spec_hints.items()},
        "sidecar_notes": list(c.notes),
        "unused_keys": list(c.unused),
    }


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (bool, int, float, str)) or value is None else str(value)


def mapping_line(c: Checkpoint) -> str | None:
    """The one line saying a file was mapped from another ecosystem's layout (None if not)."""
    if not c.layout:
        return None
    unused = f"; {len(c.unused):,} keys not read ({printable(c.unused[0])}, ...)" if c.unused else ""
    return (f"Mapped from {c.ecosystem} to this tool's names: {len(c.original_keys):,} keys in, "
            f"{len(c.tensors):,} tensors out{unused}")  # fmt: skip


def checkpoint_line(c: Checkpoint) -> str:
    return (f"{c.describe()}: {len(c.tensors):,} tensors, {human(c.num_values)} values "
            f"({', '.join(c.dtypes)})")  # fmt: skip


def comparison_json(r: Comparison) -> dict[str, Any]:
    return {
        "loads_strictly": r.loads_strictly,
        "matching": list(r.matching),
        "missing": list(r.missing),
        "unexpected": list(r.unexpected),
        "shape_mismatches": [
            {"key": m.key, "expected": list(m.expected), "found": list(m.found)} for m in r.mismatched
        ],
        "missing_filled_by_torch": list(r.tolerated),
        "cannot_be_copied": [{"key": u.key, "found": u.found, "reason": u.reason} for u in r.uncopyable],
    }


# --- check -----------------------------------------------------------------------------------
def _variant(spec: ResNetSpec | str) -> str:
    """A spec's string; a user's model (given as its label) as it was named."""
    return spec if isinstance(spec, str) else spec_string(spec)


def verdict(spec: ResNetSpec | str, r: Comparison, looks_like: str | None) -> str:
    if r.loads_strictly:
        return f"Verdict: loads strictly into {_variant(spec)} ({len(r.matching):,} of " \
               f"{r.expected_count:,} expected tensors match)"  # fmt: skip
    hint = f"; it looks like {looks_like} (see identify)" if looks_like else ""
    return f"Verdict: does NOT load strictly into {_variant(spec)}: {r.counts()}{hint}"


_MIXED = "mixed"


def _prefix_statuses(status: dict[str, str]) -> dict[str, str]:
    """For every module prefix of every key ("layer1.", "layer1.0.", ...): the one status all
    tensors under it share, or _MIXED. One pass over the keys (comparing every key with every
    other one took minutes for 20,000 keys)."""
    shared: dict[str, str] = {}
    for key, state in status.items():
        parts = key.split(".")
        for n in range(1, len(parts)):
            prefix = ".".join(parts[:n]) + "."
            shared[prefix] = state if shared.get(prefix, state) == state else _MIXED
    return shared


def _group(status: dict[str, str], key: str, shared: dict[str, str]) -> str:
    """The shortest module prefix of ``key`` under which every tensor has ``key``'s status, so
    a block that is missing entirely is one row, and a BatchNorm's five tensors are one row."""
    parts = key.split(".")
    for n in range(1, len(parts)):
        prefix = ".".join(parts[:n]) + "."
        if shared[prefix] == status[key]:
            return prefix[:-1]
    return key.rpartition(".")[0]


def _status_rows(r: Comparison, show_matching: bool) -> list[tuple[str, str, str, Any, Any]]:
    """One row per group of tensors that share a status (see _group); one per tensor whose
    shape differs, with both shapes."""
    status: dict[str, str] = {k: MATCH for k in r.matching}
    status |= {k: MISSING for k in r.missing} | {k: FILLED for k in r.tolerated}
    status |= {m.key: SHAPE for m in r.mismatched} | {k: UNEXPECTED for k in r.unexpected}
    status |= {u.key: UNCOPYABLE for u in r.uncopyable}
    shown = {k: v for k, v in status.items() if show_matching or v not in (MATCH, FILLED)}
    # a hidden num_batches_tracked does not split a missing block into its modules
    grouping = status if show_matching else {k: MISSING if v == FILLED else v for k, v in status.items()}
    shapes = {m.key: m for m in r.mismatched}
    dtypes = {u.key: u.found for u in r.uncopyable}
    shared = _prefix_statuses(grouping)
    groups: dict[tuple[str, str], list[str]] = {}
    rows: list[tuple[str, str, str, Any, Any]] = []
    for key, state in shown.items():
        if state in (SHAPE, UNCOPYABLE):  # one row per tensor, with what differs
            module, _, tensor = key.rpartition(".")
            differs = (shapes[key].expected, shapes[key].found) if state == SHAPE else (None, dtypes[key])
            rows.append((module, state, tensor, *differs))
            continue
        group = (_group(grouping, key, shared), state)
        if group not in groups:
            groups[group] = []
            rows.append((group[0], state, "", None, None))
        groups[group].append(_under(key, group[0]))
    return [(m, st, _tensors_cell(groups[(m, st)]) if st not in (SHAPE, UNCOPYABLE) else t, e, f)
            for m, st, t, e, f in rows]  # fmt: skip


def _under(key: str, module: str) -> str:
    """``key``'s name inside ``module``; a key at the top level (``temperature``, no dot) is
    in module "" and keeps its whole name."""
    return key[len(module) + 1:] if module else key


def _tensors_cell(names: list[str]) -> str:
    if all("." not in n for n in names):
        return ", ".join(names)
    return f"{len(names)} tensors"


def check_report(spec: ResNetSpec | str, c: Checkpoint, r: Comparison, looks_like: str | None,
                 show_matching: bool) -> Report:  # fmt: skip
    counts = Table(
        title="Tensors",
        columns=(Column("Status", "left"), Column("Tensors")),
        rows=((MATCH, len(r.matching)), (MISSING, len(r.missing)), (UNEXPECTED, len(r.unexpected)),
              (SHAPE, len(r.mismatched)), *(((UNCOPYABLE, len(r.uncopyable)),) if r.uncopyable else ())),
        styles=("green", "red" if r.missing else "", "yellow" if r.unexpected else "",
                "red" if r.mismatched else "", *(("red",) if r.uncopyable else ())),
    )
    rows = _status_rows(r, show_matching)
    tables = [counts]
    if rows:
        tables.append(Table(
            title="Matching and differing tensors" if show_matching else "Differences",
            columns=(Column("Module", "left"), Column("Status", "left"), Column("Tensors", "left"),
                     Column("Expected"), Column("Found")),
            rows=tuple(rows),
            styles=tuple(_STYLES[row[1]] for row in rows),
            footer=("Expected: the variant's shape; Found: the checkpoint's"
                    + (" (its dtype or layout where it cannot be copied)." if r.uncopyable else "."),),
        ))
    notes: tuple[str, ...] = ()
    if r.tolerated:
        notes = (f"{len(r.tolerated)} num_batches_tracked buffers are missing; torch sets them to 0 "
                 "on a strict load (older torchvision checkpoints have none).",)  # fmt: skip
    if r.uncopyable:
        notes += (f"Cannot be copied: {r.uncopyable[0].key}: {r.uncopyable[0].reason}.",)
    source = ({"arch": spec, "spec": None} if isinstance(spec, str)
              else {"spec": spec.to_dict(), "spec_string": spec_string(spec)})  # fmt: skip
    payload = {"command": "check", **source,
               "checkpoint": checkpoint_json(c), **comparison_json(r), "looks_like": looks_like}  # fmt: skip
    mapped = mapping_line(c)
    header = (f"Variant: {_variant(spec)}", f"Checkpoint: {checkpoint_line(c)}", *((mapped,) if mapped else ()))
    return Report(payload=payload, tables=tuple(tables), primary=len(tables) - 1, header=header,
                  notes=(*notes, verdict(spec, r, looks_like)))  # fmt: skip


# --- identify --------------------------------------------------------------------------------
def proof_line(ident: Identification) -> str:
    name = ident.identified.spec_string
    if ident.proved:
        return (f"Loads strictly: built {name} on the meta device and loaded all "
                f"{len(ident.checkpoint.tensors):,} tensors' names and shapes with "
                "load_state_dict(strict=True), no dtype that torch refuses to copy; that proves the "
                "shapes, not what the weights cannot show (below)")  # fmt: skip
    problem = ident.load_error or ident.comparison.counts()
    return f"Does NOT load strictly: {name} does not load the checkpoint strictly: {problem}"


def identify_report(ident: Identification) -> Report:
    found = ident.identified
    preset = preset_words(found.spec) or "none (the spec string names the nearest preset and what differs)"
    table = Table(
        title=f"Identified: {found.preset or found.spec_string}",
        columns=(Column("Field", "left"), Column("Value", "left"), Column("From", "left")),
        rows=tuple((e.field, e.value, e.because) for e in found.evidence),
        footer=(f"Preset: {preset}", f"Spec: {found.spec_string}", proof_line(ident)),
    )
    notes: tuple[str, ...] = ("Not in the weights, so assumed: " + "; ".join(found.assumptions) + ".",)
    notes += tuple(printable(n) for n in ident.checkpoint.notes)  # config.json's contradictions
    if found.twins:
        notes += (f"The same weights load strictly into {', '.join(found.twins)}, which compute "
                  "something else (anti-aliasing, drop path and the place of ResNeSt's avd pool have "
                  "no weights): which one was "
                  "trained, the file cannot say.",)  # fmt: skip
    payload = {
        "command": "identify",
        "checkpoint": checkpoint_json(ident.checkpoint),
        "preset": found.preset,
        "spec_string": found.spec_string,
        "spec": found.spec.to_dict(),
        "evidence": [dataclasses.asdict(e) for e in found.evidence],
        "assumptions": list(found.assumptions),
        "also_loads_into": list(found.twins),
        "proved": ident.proved,
        "load_error": ident.load_error,
        **{k: v for k, v in comparison_json(ident.comparison).items() if k != "matching"},
    }
    c = ident.checkpoint
    mapped = mapping_line(c)
    layout = (mapped,) if mapped else ()
    return Report(payload=payload, tables=(table,),
                  header=(f"Checkpoint: {checkpoint_line(c)}", *layout), notes=notes)  # fmt: skip


# --- --weights on other commands --------------------------------------------------------------
def with_weights(report: Report, c: Checkpoint) -> Report:
    """``report`` with a line and a JSON entry saying the checkpoint loads strictly."""
    line = f"Weights: {checkpoint_line(c)}; loads strictly into this variant"
    mapped = mapping_line(c)
    payload = {**report.payload, "weights": {**checkpoint_json(c), "loads_strictly": True}}
    return dataclasses.replace(report, header=(*report.header, line, *((mapped,) if mapped else ())),
                               payload=payload)  # fmt: skip

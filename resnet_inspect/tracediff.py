"""diff(A, B): two traced variants aligned stage by stage and module by module.

Modules are matched by their state-dict name (``layer3.5.conv2``), the same name a checkpoint
uses, so a block that exists in one variant only is *added* or *removed*, and everything else
lines up; or, for a user's own model (``stage1.block0.c1`` against ``layer1.0.conv1``), by
structure: :func:`rename_to_match` renames B's modules to the A modules they match by the order
and kind of their leaf operations. Each aligned row names what changed among :data:`COMPARED`. No rendering here and no
top-level torch import: :func:`diff_specs` traces lazily.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from .choices import parse_choice
from .errors import SpecError, UsageError
from .spec import ResNetSpec, differing_fields
from .units import shape_text

if TYPE_CHECKING:
    from .sources import Source
    from .tracing import LayerRecord, Trace

Shape = tuple[int, int, int, int]

# What a layer row compares, causes (type, geometry) before effects (shape, counts).
COMPARED = ("type", "kernel", "stride", "groups", "dilation", "output_shape", "params", "macs")
# What a stage row compares. Not the receptive field: it changes downstream of any change
# (resnet101's extra layer3 blocks widen layer4's), so it is shown, not counted as a change.
STAGE_COMPARED = ("blocks", "output_shape", "params", "macs")


class Change(str, Enum):
    SAME = "same"
    CHANGED = "changed"
    ADDED = "added"  # only in B
    REMOVED = "removed"  # only in A


class Align(str, Enum):
    """How diff pairs B's modules with A's (``align=``)."""

    AUTO = "auto"  # by structure where a side is the user's model and the names mostly differ
    NAME = "name"
    STRUCTURE = "structure"  # B's modules renamed to the A modules they match


class Side(str, Enum):
    A = "A"
    B = "B"


@dataclass(frozen=True)
class FieldChange:
    """A spec field whose value differs: ``groups: 1 -> 32``."""

    field: str
    a: Any
    b: Any


class _Deltas:
    """B minus A, and B over A, of a row's parameters and MACs (0 / None where absent)."""

    a: LayerRecord | None
    b: LayerRecord | None

    @property
    def params_delta(self) -> int:
        return _value(self.b, "params") - _value(self.a, "params")

    @property
    def macs_delta(self) -> int:
        return _value(self.b, "macs") - _value(self.a, "macs")

    @property
    def params_ratio(self) -> float | None:
        """B / A; None where A has none (or the row is absent)."""
        return _ratio(self.a, self.b, "params")

    @property
    def macs_ratio(self) -> float | None:
        return _ratio(self.a, self.b, "macs")


@dataclass(frozen=True)
class LayerDiff(_Deltas):
    """One module name, present in A, B or both."""

    name: str
    depth: int
    stage: str
    status: Change
    a: LayerRecord | None
    b: LayerRecord | None
    changed: tuple[str, ...]  # which of COMPARED differ (empty when added or removed)
    inner_changed: bool  # a submodule differs


@dataclass(frozen=True)
class StageDiff(_Deltas):
    """stem, layer1..layerN or head; a stage only one variant has is added or removed."""

    name: str
    status: Change
    a: LayerRecord | None
    b: LayerRecord | None
    blocks_a: int | None  # None for stem and head, or when the stage is absent
    blocks_b: int | None
    changed: tuple[str, ...]


@dataclass(frozen=True)
class TotalDiff:
    metric: str  # a Totals field name
    label: str
    a: int
    b: int

    @property
    def delta(self) -> int:
        return self.b - self.a

    @property
    def percent(self) -> float | None:
        return 100.0 * self.delta / self.a if self.a else None


@dataclass(frozen=True)
class InputPlan:
    """The input each side is traced with: the same batch and size, each its own channels."""

    a: Shape
    b: Shape
    given: bool  # from --input, else A's default
    notes: tuple[str, ...]


@dataclass(frozen=True)
class TraceDiff:
    a: Trace
    b: Trace
    inputs: InputPlan
    fields: tuple[FieldChange, ...]
    stages: tuple[StageDiff, ...]
    layers: tuple[LayerDiff, ...]
    totals: tuple[TotalDiff, ...]
    aligned_by: str = "name"  # or "structure": B's modules renamed to A's (see structure.py)

    @property
    def identical(self) -> bool:
        """Same spec, and so the same network on the same input (a user's model has no spec:
        the same modules, shapes and counts)."""
        return not self.fields and self.structurally_identical

    @property
    def structurally_identical(self) -> bool:
        """No module, stage or total differs (the specs may still differ, e.g. in
        zero_init_residual, which changes initial values only)."""
        return (
            all(r.status is Change.SAME for r in self.layers)
            and all(s.status is Change.SAME for s in self.stages)
            and all(t.delta == 0 for t in self.totals)
        )

    def changed_layers(self) -> list[LayerDiff]:
        return [r for r in self.layers if r.status is not Change.SAME]


TOTALS: tuple[tuple[str, str], ...] = (
    ("params", "Params"),
    ("macs", "MACs"),
    ("flops", "FLOPs"),
    ("peak_activation_bytes", "Activation memory, inference peak (bytes)"),
    ("training_activation_bytes", "Activation memory, kept for backward (bytes)"),
    ("receptive_field", "Receptive field (px)"),
    ("jump", "Output stride"),
)


# --- the two sides ---------------------------------------------------------------------------
def plan_inputs(a: Source, b: Source, given: Shape | None) -> InputPlan:
    """--input for both sides, else A's default. Batch, height and width are shared; a side
    with a spec gets its own channel count (a user's model takes the input's)."""
    base = given or a.default_input_shape()
    text = shape_text(base)
    chans_a, chans_b = (s.spec.in_chans if s.spec is not None else base[1] for s in (a, b))
    if given is not None and a.spec is not None and b.spec is not None and given[1] not in (chans_a, chans_b):
        takes = (f"in_chans={chans_a}" if chans_a == chans_b
                 else f"in_chans={chans_a} (A) and {chans_b} (B)")  # fmt: skip
        raise UsageError(f"--input {text}: has {given[1]} channels but the variants take {takes}")
    batch, _, height, width = base
    shape_a: Shape = (batch, chans_a, height, width)
    shape_b: Shape = (batch, chans_b, height, width)
    notes = []
    own_b = b.default_input_shape()
    both_ours = a.spec is not None and b.spec is not None
    if both_ours and given is None and own_b[2:] != base[2:]:
        notes.append(
            f"B's own default input is {shape_text(own_b)}; both sides use A's {shape_text(base)} "
            "(give --input to choose)."
        )
    if both_ours and chans_a != chans_b:
        notes.append(
            f"in_chans differs: A runs on {shape_text(shape_a)}, B on {shape_text(shape_b)} "
            "(same batch and size, each its own channels)."
        )
    return InputPlan(shape_a, shape_b, given is not None, tuple(notes))


def diff_specs(
    a: ResNetSpec, b: ResNetSpec, input_shape: Shape | None = None, dtype: str = "float32"
) -> TraceDiff:
    """Trace both variants on the meta device and align them."""
    from .sources import SpecSource

    return diff_sources(SpecSource(a), SpecSource(b), input_shape, dtype)


def diff_sources(
    a: Source, b: Source, input_shape: Shape | None = None, dtype: str = "float32", align: str = "auto"
) -> TraceDiff:  # fmt: skip
    """Trace both sides (each on its own channels) and align them: by name, or by structure
    where a user's model names its modules differently."""
    plan = plan_inputs(a, b, input_shape)
    traces = []
    for side, source, shape in ((Side.A, a, plan.a), (Side.B, b, plan.b)):
        try:
            traces.append(source.trace(shape, dtype))
        except SpecError as exc:
            raise type(exc)(f"{side.value}: {exc}") from None  # the message names the spec or --input
    return diff_traces(traces[0], traces[1], plan, align)


# --- alignment -------------------------------------------------------------------------------
def diff_traces(a: Trace, b: Trace, inputs: InputPlan | None = None,
                align: Align | str = Align.AUTO) -> TraceDiff:  # fmt: skip
    """Align and compare. ``align``: "name", "structure" (B's modules renamed to the A modules
    they match by the order, kind and shape of their leaf operations), or "auto": by structure
    when a side is the user's own model and fewer than half of B's leaf names are A's (two
    of our variants share torchvision's names)."""
    if inputs is None:
        inputs = InputPlan(_as4(a.input_shape), _as4(b.input_shape), True, ())
    how = parse_choice(Align, align, "align")
    aligned_by = "name"
    user_code = a.spec is None or b.spec is None
    if how is Align.STRUCTURE or (how is Align.AUTO and user_code and not _names_mostly_shared(a, b)):
        b, aligned_by = rename_to_match(a, b), "structure"
    fields = (differing_fields(a.spec, b.spec) if a.spec is not None and b.spec is not None else [])
    return TraceDiff(
        a=a,
        b=b,
        inputs=inputs,
        aligned_by=aligned_by,
        fields=tuple(FieldChange(f, va, vb) for f, va, vb in fields),
        stages=_stage_diffs(a, b),
        layers=_layer_diffs(a, b, container_types=not user_code),
        totals=tuple(  # a receptive field the pass could not follow (None) is not compared
            TotalDiff(m, label, getattr(a.totals, m), getattr(b.totals, m)) for m, label in TOTALS
            if getattr(a.totals, m) is not None and getattr(b.totals, m) is not None
        ),
    )


def _names_mostly_shared(a: Trace, b: Trace) -> bool:
    leaves_a = {r.name for r in a.layers if r.is_leaf}
    leaves_b = [r.name for r in b.layers if r.is_leaf]
    return not leaves_b or 2 * sum(n in leaves_a for n in leaves_b) >= len(leaves_b)


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
    return dataclasses.replace(b, layers=layers, executed=tuple(renamed.get(n, n) for n in b.executed))


def _parents(a: Trace, b: Trace, leaves: dict[str, str]) -> dict[str, str]:
    leaves_a, leaves_b = _leaves(a), _leaves(b)  # once: not per container
    a_leaves = {r.name: [n for n in leaves_a if n.startswith(r.name + ".")] for r in a.layers if not r.is_leaf}
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
        if lca and lca not in used and lca in a_leaves and sorted(a_leaves[lca]) == sorted(leaves[n] for n in mine):
            out[r.name] = lca
            used.add(lca)
    return out


def _renamed(r: LayerRecord, name: str, by_a: dict[str, LayerRecord]) -> LayerRecord:
    if name == r.name:
        return r
    stage = by_a[name].stage if name in by_a else by_a.get(name.split(".", 1)[0], r).stage
    return dataclasses.replace(r, name=name, depth=name.count(".") + 1, stage=stage)


def merge_names(a: Sequence[str], b: Sequence[str]) -> list[str]:
    """Every name of ``a`` and ``b`` once, parents before children, each parent's children in
    the order the two networks run them (B's extra blocks after A's last common one)."""
    children_a, children_b = _children(a), _children(b)
    out: list[str] = []
    seen: set[str] = set()

    def visit(parent: str) -> None:
        for name in _merge(children_a.get(parent, []), children_b.get(parent, [])):
            if name not in seen:
                seen.add(name)
                out.append(name)
                visit(name)

    visit("")
    return out


def _children(names: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name in names:
        out.setdefault(name.rpartition(".")[0], []).append(name)
    return out


def _merge(x: list[str], y: list[str]) -> list[str]:
    matcher = difflib.SequenceMatcher(None, x, y, autojunk=False)
    out: list[str] = []
    for _, i1, i2, j1, j2 in matcher.get_opcodes():
        out += x[i1:i2] + [n for n in y[j1:j2] if n not in x[i1:i2]]
    return out


def _layer_diffs(a: Trace, b: Trace, container_types: bool = True) -> tuple[LayerDiff, ...]:
    """``container_types``: whether a container's class name counts as a change (not for a
    user's model: its ``Unit`` may be our ``BasicBlock``; its operations say so)."""
    by_a, by_b = a.by_name(), b.by_name()
    names = merge_names([r.name for r in a.layers], [r.name for r in b.layers])
    rows = [_layer_row(n, by_a.get(n), by_b.get(n), container_types) for n in names]
    dirty = {
        _ancestor for r in rows if r.status is not Change.SAME for _ancestor in _ancestors(r.name)
    }
    return tuple(
        LayerDiff(r.name, r.depth, r.stage, r.status, r.a, r.b, r.changed, r.name in dirty)
        for r in rows
    )


def _layer_row(
    name: str, a: LayerRecord | None, b: LayerRecord | None, container_types: bool = True
) -> LayerDiff:
    either = a if a is not None else b
    assert either is not None
    if a is None or b is None:
        status = Change.ADDED if a is None else Change.REMOVED
        return LayerDiff(name, either.depth, either.stage, status, a, b, (), False)
    compared = COMPARED if container_types or a.is_leaf else COMPARED[1:]
    changed = tuple(f for f in compared if getattr(a, f) != getattr(b, f))
    status = Change.CHANGED if changed else Change.SAME
    return LayerDiff(name, either.depth, either.stage, status, a, b, changed, False)


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _stage_diffs(a: Trace, b: Trace) -> tuple[StageDiff, ...]:
    stages_a = {s.name: s for s in a.stages()}
    stages_b = {s.name: s for s in b.stages()}
    names = _merge(list(stages_a), list(stages_b))
    return tuple(
        _stage_row(n, stages_a.get(n), stages_b.get(n), _blocks(a, n), _blocks(b, n)) for n in names
    )


def _stage_row(
    name: str,
    a: LayerRecord | None,
    b: LayerRecord | None,
    blocks_a: int | None,
    blocks_b: int | None,
) -> StageDiff:
    if a is None or b is None:
        status = Change.ADDED if a is None else Change.REMOVED
        return StageDiff(name, status, a, b, blocks_a, blocks_b, ())
    values_a = {"blocks": blocks_a, **{f: getattr(a, f) for f in STAGE_COMPARED[1:]}}
    values_b = {"blocks": blocks_b, **{f: getattr(b, f) for f in STAGE_COMPARED[1:]}}
    changed = tuple(f for f in STAGE_COMPARED if values_a[f] != values_b[f])
    status = Change.CHANGED if changed else Change.SAME
    return StageDiff(name, status, a, b, blocks_a, blocks_b, changed)


def _blocks(trace: Trace, stage: str) -> int | None:
    if not stage.startswith("layer"):
        return None
    if trace.spec is None:  # a user's model: the stage module's children
        return sum(1 for r in trace.layers if r.depth == 2 and r.stage == stage) or None
    index = int(stage.removeprefix("layer")) - 1
    layers = trace.spec.layers
    return layers[index] if 0 <= index < len(layers) else None


def _ratio(a: LayerRecord | None, b: LayerRecord | None, field: str) -> float | None:
    if a is None or b is None or not getattr(a, field):
        return None
    return float(getattr(b, field) / getattr(a, field))


def _value(record: LayerRecord | None, field: str) -> int:
    return 0 if record is None else int(getattr(record, field))


def _as4(shape: Sequence[int]) -> Shape:
    return (shape[0], shape[1], shape[2], shape[3])

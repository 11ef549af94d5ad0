"""diff(A, B): two traced variants aligned stage by stage and module by module, and whether
they compute the same function.

Two of our variants are matched by their state-dict names (``layer3.5.conv2``), the same
names a checkpoint uses and, by construction, the modules that compute the same thing: a
block that exists in one variant only is *added* or *removed*. Where a side is the user's own
model (``stage1.block0.c1`` against ``layer1.0.conv1``), by computation: the one alignment of
:mod:`.equivalence` (the parametrised calls in the order the forward runs them, containers
mapped) renames B's modules to A's (:func:`.renaming.rename_by`), so that the rows line up; a
parameter-free module only one side has (a ReLU the other calls as ``F.relu``) or a container
that only groups modules the other side also has (``entry`` for ``conv1`` and ``bn1``) is not
a row, and the diff lists them. Where the two do not align, B is renamed by the order and
kind of its leaf operations (:func:`.renaming.rename_to_match`) and the verdict says where they part.
Each aligned row names what changed among :data:`COMPARED`.

The function (:class:`FunctionCheck`): the same spec builds the same network, so two equal
specs compute the same function by construction; otherwise both are built on the CPU, B's
tensors copied into A along the alignment, and both run on the same random inputs
(:func:`.equivalence.between.prove_between`). No rendering here and no top-level torch
import: :func:`diff_specs` traces lazily.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from .choices import parse_choice
from .errors import InspectError, SpecError, UsageError
from .renaming import only_groups_or_free, rename_by, rename_to_match, restaged
from .spec import ResNetSpec, differing_fields
from .units import shape_text
from .usermodel import first_line

if TYPE_CHECKING:
    from torch import nn

    from .equivalence import Alignment, Proof
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

    AUTO = "auto"  # by computation where a side is the user's model, else by name
    NAME = "name"
    COMPUTATION = "computation"  # the equivalence alignment: parametrised calls in order
    STRUCTURE = "structure"  # B's modules renamed to the A modules they match by leaf kinds


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


@dataclass(frozen=True, eq=False)
class FunctionCheck:
    """Do A and B compute the same function? ``same``: None where it was not decided;
    ``basis``: "construction" (the same spec, nothing run), "comparison" (both run, see
    ``proof``) or "not compared" (``text`` says why); ``text``: the verdict in words."""

    same: bool | None
    basis: str
    text: str
    proof: Proof | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"same": self.same, "basis": self.basis, "verdict": self.text,
                **({"comparison": self.proof.to_dict()} if self.proof is not None else {})}  # fmt: skip


@dataclass(frozen=True)
class TraceDiff:
    a: Trace
    b: Trace
    inputs: InputPlan
    fields: tuple[FieldChange, ...]
    stages: tuple[StageDiff, ...]
    layers: tuple[LayerDiff, ...]
    totals: tuple[TotalDiff, ...]
    aligned_by: str = "name"  # "computation" or "structure": B's modules renamed to A's
    function: FunctionCheck | None = None  # None: not asked (diff_traces alone)
    # modules that are not rows: parameter-free or grouping modules only one side has
    left_out: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (side, names)
    unaligned: str = ""  # why the computation could not align them (rows then by structure)

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

    @property
    def same(self) -> bool:
        """The same architecture and the same function (proved or by construction)."""
        return self.identical and self.function is not None and self.function.same is True

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
    if (
        given is not None
        and a.spec is not None
        and b.spec is not None
        and given[1] not in (chans_a, chans_b)
    ):
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
    a: Source, b: Source, input_shape: Shape | None = None, dtype: str = "float32", align: str = "auto",
    weights: tuple[str | None, str | None] = (None, None),
) -> TraceDiff:  # fmt: skip
    """Trace both sides (each on its own channels), align them (by name for two of our
    variants, by computation where a side is the user's model), and say whether they compute
    the same function; ``weights``: a checkpoint for A, B (already verified to load)."""
    how = parse_choice(Align, align, "align")
    plan = plan_inputs(a, b, input_shape)
    traces = []
    for side, source, shape in ((Side.A, a, plan.a), (Side.B, b, plan.b)):
        try:
            traces.append(source.trace(shape, dtype))
        except SpecError as exc:
            raise type(exc)(
                f"{side.value}: {exc}"
            ) from None  # the message names the spec or --input
    ta, tb = traces
    by_construction = (
        a.kind.name == b.kind.name == "SPEC" and a.spec == b.spec and weights == (None, None)
    )
    if by_construction:
        return diff_traces(ta, tb, plan, how, function=_BY_CONSTRUCTION)
    user_code = ta.spec is None or tb.spec is None
    models, reason = _cpu_models(a, b, ta, tb, plan, weights)
    try:
        alignment = _alignment(a, b, models, plan)
    except Exception as exc:  # the user's forward on a pass of its own: rows by structure
        alignment, reason = None, reason or f"the alignment's pass raised {first_line(exc)}"
    function = _function(
        alignment, models, plan, ta.label if ta.spec is not None else "A", weights, reason
    )
    by_computation = alignment is not None and user_code and how in (Align.AUTO, Align.COMPUTATION)
    if by_computation and alignment is not None and alignment.aligned:
        return _by_computation(ta, tb, plan, alignment, function)
    unaligned = alignment.unaligned.reason if alignment is not None and alignment.unaligned else ""
    return dataclasses.replace(
        diff_traces(ta, tb, plan, how, function=function), unaligned=unaligned
    )


_BY_CONSTRUCTION = FunctionCheck(True, "construction", "Same function: by construction (the same spec "
                                 "builds the same network; nothing was run).")  # fmt: skip


def _cpu_models(
    a: Source,
    b: Source,
    ta: Trace,
    tb: Trace,
    plan: InputPlan,
    weights: tuple[str | None, str | None],
) -> tuple[tuple[nn.Module, nn.Module] | None, str]:
    """Both models on the CPU for the comparison (seeded, ``weights`` loaded), or None and
    why not: too large for the CPU budget, or inputs of different shapes."""
    from .equivalence.between import too_large

    if plan.a != plan.b:
        return (
            None,
            f"A and B take different inputs ({shape_text(plan.a)} and {shape_text(plan.b)})",
        )
    reason = too_large(max(ta.totals.params, tb.totals.params), plan.a)
    if reason is not None:
        return None, reason
    import torch

    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return (a.proof_model(weights[0]), b.proof_model(weights[1])), ""
    except InspectError:
        raise
    except Exception as exc:  # the user's constructor on the CPU
        return None, f"building the models on the CPU raised {first_line(exc)}"


def _alignment(
    a: Source, b: Source, models: tuple[nn.Module, nn.Module] | None, plan: InputPlan
) -> Alignment:
    """A's and B's alignment by computation, on the CPU models where there are some (faster
    than a meta pass), else on the meta device."""
    from .equivalence.between import align_small

    pair = models if models is not None else (a.build("meta"), b.build("meta"))
    return align_small(pair[0], pair[1], plan.a, plan.b)


def _function(
    alignment: Alignment | None, models: tuple[nn.Module, nn.Module] | None, plan: InputPlan,
    reference: str, weights: tuple[str | None, str | None], reason: str,
) -> FunctionCheck:  # fmt: skip
    from .equivalence.between import prove_between

    if alignment is not None and alignment.unaligned is not None:
        return _unaligned(alignment, reference)
    if alignment is None or models is None:
        return FunctionCheck(None, "not compared", f"Function: not compared: {reason}.")
    proof = prove_between(
        alignment, models[0], models[1], plan.a, reference=reference, weights=weights
    )
    return FunctionCheck(proof.equal if proof.comparison is not None else None,
                         "comparison" if proof.comparison is not None else "not compared",
                         function_text(proof, weights), proof)  # fmt: skip


def _unaligned(alignment: Alignment, reference: str) -> FunctionCheck:
    """Not compared; yet where a parametrised layer exists on one side only (see
    :func:`.equivalence.parting.parting_departure`), a different function, resting on that
    structural fact (basis "structure")."""
    from .equivalence.parting import parting_departure

    reason = alignment.unaligned.reason if alignment.unaligned is not None else ""
    parting = parting_departure(alignment, reference)
    if parting is None or not parting.departure.changes_function:
        d = parting.departure if parting is not None else None
        said = f" B: {d.where}: {d.text}." if d is not None else ""
        return FunctionCheck(None, "not compared", "Function: not compared: their parametrised layers "
                             f"do not align: {reason}.{said}")  # fmt: skip
    d = parting.departure
    return FunctionCheck(False, "structure", f"Different function from {d.where or 'its own forward'} on: "
                         f"{d.where + ': ' if d.where else ''}{d.text}. No functional comparison (their "
                         f"parametrised layers do not align: {reason}); this rests on {parting.basis}.")  # fmt: skip


def function_text(proof: Proof, weights: tuple[str | None, str | None] = (None, None)) -> str:
    """The functional verdict in words, saying what it rests on."""
    c = proof.comparison
    if c is None:
        return f"Function: not compared: {proof.not_compared}."
    how = ("both sides' checkpoints" if all(weights) else "A's checkpoint, copied into B" if weights[0]
           else "B's checkpoint, copied into A" if weights[1]
           else "B's weights drawn (seeded) and copied into A along the alignment")  # fmt: skip
    rests = (f"{c.inputs} random inputs {shape_text(c.input_shape)}, {c.dtype_text}, largest relative L2 "
             f"difference {c.largest_difference:.2g} (tolerance {c.tolerance:g}); {how}")  # fmt: skip
    if c.equal:
        return f"Same function: outputs equal on {rests}."
    where = f" Where they part: {'; '.join(proof.departure)}." if proof.departure else ""
    return f"Different function: outputs differ on {rests}.{where}"


def _by_computation(
    a: Trace, b: Trace, plan: InputPlan, alignment: Alignment, function: FunctionCheck
) -> TraceDiff:
    """Rows with B's modules renamed to A's along ``alignment``; stages from B's own
    nesting, each module in the stage of the A module it maps to."""
    renamed, left_b, matched = rename_by(alignment.modules, a, b)
    kept_a = {r.name for r in renamed.layers}
    left_a = tuple(
        r.name for r in a.layers if r.name not in kept_a and only_groups_or_free(r, a, kept_a)
    )
    a_rows = dataclasses.replace(a, layers=tuple(r for r in a.layers if r.name not in left_a))
    d = diff_traces(a_rows, renamed, plan, Align.NAME, function=function)
    left = tuple((side, names) for side, names in (("A", left_a), ("B", left_b)) if names)
    return dataclasses.replace(d, a=a, aligned_by="computation", left_out=left,
                               stages=_stage_diffs(a, restaged(b, matched, a), renamed))  # fmt: skip


# --- alignment -------------------------------------------------------------------------------
def diff_traces(a: Trace, b: Trace, inputs: InputPlan | None = None,
                align: Align | str = Align.AUTO, function: FunctionCheck | None = None) -> TraceDiff:  # fmt: skip
    """Align the rows and compare them (``function``: the functional verdict, made already).
    ``align``: "name", "structure" (B's modules renamed to the A modules they match by the
    order, kind and shape of their leaf operations), or "auto"/"computation" (where the
    computation did not align them, see :func:`diff_sources`): by structure when a side is the
    user's own model and fewer than half of B's leaf names are A's."""
    if inputs is None:
        inputs = InputPlan(_as4(a.input_shape), _as4(b.input_shape), True, ())
    how = parse_choice(Align, align, "align")
    aligned_by = "name"
    user_code = a.spec is None or b.spec is None
    by_structure = (
        how in (Align.AUTO, Align.COMPUTATION) and user_code and not _names_mostly_shared(a, b)
    )
    if how is Align.STRUCTURE or by_structure:
        b, aligned_by = rename_to_match(a, b), "structure"
    fields = differing_fields(a.spec, b.spec) if a.spec is not None and b.spec is not None else []
    return TraceDiff(
        a=a,
        b=b,
        inputs=inputs,
        aligned_by=aligned_by,
        function=function,
        fields=tuple(FieldChange(f, va, vb) for f, va, vb in fields),
        stages=_stage_diffs(a, b),
        layers=_layer_diffs(a, b, container_types=not user_code),
        totals=tuple(  # a receptive field the pass could not follow (None) is not compared
            TotalDiff(m, label, getattr(a.totals, m), getattr(b.totals, m))
            for m, label in TOTALS
            if getattr(a.totals, m) is not None and getattr(b.totals, m) is not None
        ),
    )


def _names_mostly_shared(a: Trace, b: Trace) -> bool:
    leaves_a = {r.name for r in a.layers if r.is_leaf}
    leaves_b = [r.name for r in b.layers if r.is_leaf]
    return not leaves_b or 2 * sum(n in leaves_a for n in leaves_b) >= len(leaves_b)


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


def _stage_diffs(a: Trace, b: Trace, b_blocks: Trace | None = None) -> tuple[StageDiff, ...]:
    """``b_blocks``: B's trace to count blocks in (B under A's names), where ``b`` keeps its own."""
    stages_a = {s.name: s for s in a.stages()}
    stages_b = {s.name: s for s in b.stages()}
    names = _merge(list(stages_a), list(stages_b))
    counted = b_blocks or b
    return tuple(
        _stage_row(n, stages_a.get(n), stages_b.get(n), _blocks(a, n), _blocks(counted, n))
        for n in names
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

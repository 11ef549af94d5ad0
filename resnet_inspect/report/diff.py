"""TraceDiff -> Report: the spec fields that differ, the stages, the aligned layers, the totals.

Pure arrangement of numbers already computed by ``tracediff.py``; torch is not imported here.
Layer rows show B's values and say in words how A differed (``stride 1 -> 2``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..spec import format_value, spec_string
from ..tracediff import Change, LayerDiff, StageDiff, TotalDiff, TraceDiff
from ..units import shape_text
from .charts import diff_charts
from .common import MACS_NOTE, output_text, outputs_json, real_pass_warning, rf_cell
from .document import Column, Report, Table, TreeName, cell_text, tree_names

if TYPE_CHECKING:
    from ..tracing import LayerRecord

ARROW = " -> "
ROW_STYLE = {
    Change.ADDED: "green",
    Change.REMOVED: "red",
    Change.CHANGED: "yellow",
    Change.SAME: "dim",
}
CHANGE_LABEL = {"output_shape": "shape", "macs": "MACs", "blocks": "blocks"}


class _SignedFormat:
    """A difference: formats with its sign (``+1,234``); ``str()`` stays the plain number."""

    def __format__(self, spec: str) -> str:
        text = super().__format__(spec)
        return "+" + text if self > 0 and not spec.startswith(("+", "-", " ")) else text  # type: ignore[operator]


class Signed(_SignedFormat, int):
    pass


class SignedFloat(_SignedFormat, float):
    pass


def diff_report(
    d: TraceDiff, depth: int, only_changed: bool = False, names: tuple[str, str] | None = None
) -> Report:
    layers = [r for r in d.layers if r.depth <= depth and (not only_changed or _touched(r))]
    tables = [*stage_tables(d), layer_table(d, layers, depth, only_changed), totals_table(d)]
    if d.fields:
        tables.insert(0, fields_table(d))
    payload = diff_json(d, layers, names, depth, only_changed)
    return Report(
        payload=payload,
        tables=tuple(tables),
        header=header_lines(d, names),
        charts=diff_charts(d),
        primary=len(tables) - 2,
    )  # fmt: skip  (the layers)


# --- header ----------------------------------------------------------------------------------
def header_lines(d: TraceDiff, names: tuple[str, str] | None = None) -> tuple[str, ...]:
    given = names or (d.a.label, d.b.label)
    lines = [f"{side}: {_side_label(text, trace)}"
             for side, text, trace in (("A", given[0], d.a), ("B", given[1], d.b))]  # fmt: skip
    source = "--input" if d.inputs.given else "A's default"
    if d.inputs.a == d.inputs.b:
        lines.append(f"Input: {shape_text(d.inputs.a)} ({source}), {d.a.dtype}")
    else:
        lines.append(
            f"Input: A {shape_text(d.inputs.a)}, B {shape_text(d.inputs.b)} ({source}), {d.a.dtype}"
        )
    return (*lines, *output_lines(d), *d.inputs.notes, *verdict(d), *real_pass_lines(d))


def output_lines(d: TraceDiff) -> tuple[str, ...]:
    """What each forward returns, where that is not one tensor on either side or differs
    (the tables compare modules, not the return values)."""
    if d.a.outputs == d.b.outputs and all(_one_tensor(t) for t in (d.a, d.b)):
        return ()
    if d.a.outputs == d.b.outputs:
        return (f"Output (A and B): {output_text(d.a)}",)
    return (f"Output A: {output_text(d.a)}", f"Output B: {output_text(d.b)}")


def _one_tensor(trace: Any) -> bool:
    return (
        len(trace.outputs) == 1 and trace.outputs[0].shape is not None and not trace.outputs[0].path
    )


def real_pass_lines(d: TraceDiff) -> tuple[str, ...]:
    """A side the meta device could not trace was traced on real tensors: said under the header."""
    return tuple(f"warning: {side}: {real_pass_warning(trace)}"
                 for side, trace in (("A", d.a), ("B", d.b)) if trace.real_pass_reason)  # fmt: skip


def _side_label(text: str, trace: Any) -> str:
    canonical = trace.label
    return canonical if text.strip() == canonical else f"{text.strip()} (= {canonical})"


def verdict(d: TraceDiff) -> tuple[str, ...]:
    """The architecture (cause, then effect), then the function, then what is not a row."""
    return (*architecture_verdict(d), *function_lines(d), *left_out_lines(d))


def function_lines(d: TraceDiff) -> tuple[str, ...]:
    """Same function or not, what that rests on, and where the alignment by computation
    failed."""
    lines = []
    if d.unaligned and d.aligned_by != "name":  # two of ours: the function line says it
        lines.append(f"Aligned by computation: no ({d.unaligned}); rows aligned by {d.aligned_by}.")
    if d.function is not None:
        lines.append(d.function.text)
    return tuple(lines)


def left_out_lines(d: TraceDiff) -> tuple[str, ...]:
    """The modules that are no rows: parameter-free or grouping modules only one side has."""
    if not d.left_out:
        return ()
    parts = []
    for side, names in d.left_out:
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        parts.append(f"{side}: {shown}")
    return ("Not rows (no parameters of their own, or only grouping modules the other side has; "
            "the other side may compute them with functions, the function line says whether it "
            "does): " + "; ".join(parts) + ".",)  # fmt: skip


def architecture_verdict(d: TraceDiff) -> tuple[str, ...]:
    """The cause, then the effect: are they the same, and if not, what changes and how much."""
    if d.identical and (d.a.spec is None or d.b.spec is None):
        how = f"modules aligned by {d.aligned_by}; " if d.aligned_by != "name" else ""
        return (f"No differences: A and B are the same architecture ({how}the same modules, "
                "shapes, params and MACs).",)  # fmt: skip
    if d.identical:
        return ("No differences: A and B are the same architecture (same spec, modules, shapes, "
                "params and MACs).",)  # fmt: skip
    if d.a.spec is None or d.b.spec is None:
        cause = "Spec: none to compare (user code); modules aligned by " + d.aligned_by
    else:
        cause = "Spec: " + ("; ".join(
            f"{f.field}: {format_value(f.a)}{ARROW}{format_value(f.b)}" for f in d.fields
        ) or "the same")  # fmt: skip
    if d.structurally_identical:
        return (cause, "The networks trace identically: same modules, shapes, params and MACs.")
    counts = {s: sum(r.status is s for r in d.layers) for s in Change}
    params, macs = d.totals[0], d.totals[1]
    return (
        cause,
        f"Modules (all depths): {counts[Change.CHANGED]} changed, {counts[Change.ADDED]} added, "
        f"{counts[Change.REMOVED]} removed. Params {_signed(params)}, MACs {_signed(macs)}.",
    )


def _signed(t: TotalDiff) -> str:
    percent = "" if t.percent is None else f" ({t.percent:+.2f}%)"
    return f"{t.delta:+,}{percent}"


# --- tables ----------------------------------------------------------------------------------
def fields_table(d: TraceDiff) -> Table:
    rows = tuple((f.field, format_value(f.a), format_value(f.b)) for f in d.fields)
    return Table(
        title="Spec fields",
        rows=rows,
        styles=("yellow",) * len(rows),
        columns=(Column("Field", "left"), Column("A", "left"), Column("B", "left")),
    )


def stage_tables(d: TraceDiff) -> tuple[Table, Table]:
    """Two tables keyed by stage (one would not fit a terminal): the structure, then the cost."""
    styles = tuple(ROW_STYLE[s.status] for s in d.stages)
    shape_columns = (
        Column("Stage", "left"), Column("Blocks A"), Column("Blocks B"), Column("Output A"),
        Column("Output B"), Column("RF A"), Column("RF B"),
    )  # fmt: skip
    shapes = Table(
        title="Stages: blocks, output shape, receptive field",
        columns=shape_columns,
        rows=tuple(_stage_shape_cells(s) for s in d.stages),
        styles=styles,
        caption="RF: receptive field in input pixels (it also grows downstream of a change).",
    )
    cost_columns = (
        Column("Stage", "left"), Column("Params A", human=True), Column("Params B", human=True),
        Column("Δ Params", human=True), Column("Params B/A", priority=2),
        Column("MACs A", human=True), Column("MACs B", human=True), Column("Δ MACs", human=True),
        Column("MACs B/A", priority=1),
    )  # fmt: skip
    costs = Table(
        title="Stages: params and MACs",
        columns=cost_columns,
        rows=tuple(_stage_cost_cells(s) for s in d.stages),
        styles=styles,
        caption=f"{MACS_NOTE} B/A: B divided by A.",
    )
    return shapes, costs


def _stage_name(s: StageDiff) -> str:
    return s.name if s.status in (Change.SAME, Change.CHANGED) else f"{s.name} ({s.status.value})"


def _stage_shape_cells(s: StageDiff) -> tuple[Any, ...]:
    return (
        _stage_name(s), s.blocks_a, s.blocks_b, _get(s.a, "output_shape"),
        _get(s.b, "output_shape"), rf_cell(s.a), rf_cell(s.b),
    )  # fmt: skip


def _stage_cost_cells(s: StageDiff) -> tuple[Any, ...]:
    return (
        _stage_name(s),
        _get(s.a, "params"), _get(s.b, "params"), Signed(s.params_delta), s.params_ratio,
        _get(s.a, "macs"), _get(s.b, "macs"), Signed(s.macs_delta), s.macs_ratio,
    )  # fmt: skip


def layer_table(d: TraceDiff, layers: Sequence[LayerDiff], depth: int, only_changed: bool) -> Table:
    columns = (
        Column("Layer", "left"), Column("Type", "left", priority=2), Column("Output shape", priority=1),
        Column("Kernel", priority=3), Column("Params", human=True, priority=4),
        Column("MACs", human=True, priority=5), Column("Changed (A -> B)", "left"),
    )  # fmt: skip
    hidden = "; unchanged rows hidden" if only_changed else ""
    return Table(
        title=f"Layers, aligned by {d.aligned_by} (depth <= {depth}{hidden})",
        columns=columns,
        rows=tuple(
            _layer_cells(r, name)
            for r, name in zip(layers, tree_names([r.name for r in layers]), strict=True)
        ),
        styles=tuple(_layer_style(r) for r in layers),
        caption="Values are B's (A's for a removed row). Changed: how A differs, A -> B, and "
        "B - A for params and MACs; added: only in B; removed: only in A; inside: a submodule "
        "differs. Kernel: size/stride, g groups, d dilation. MACs as above.",
    )


def _layer_cells(r: LayerDiff, name: TreeName) -> tuple[Any, ...]:
    shown = r.b if r.b is not None else r.a
    assert shown is not None
    return (
        name, shown.type, shown.output_shape if shown.ran else None, _geometry(shown),
        shown.params, shown.macs, _changed_text(r),
    )  # fmt: skip


def totals_table(d: TraceDiff) -> Table:
    columns = (
        Column("Total", "left"),
        Column("A", human=True),
        Column("B", human=True),
        Column("Δ", human=True, priority=2),
        Column("Δ %", priority=1),
    )
    rows = tuple(
        (t.label, t.a, t.b, Signed(t.delta), None if t.percent is None else SignedFloat(t.percent))
        for t in d.totals
    )
    styles = tuple("green" if t.delta > 0 else "red" if t.delta < 0 else "dim" for t in d.totals)
    return Table(
        title="Totals", columns=columns, rows=rows, styles=styles,
        caption=f"{MACS_NOTE} FLOPs: every floating-point operation. Memory in {d.a.dtype} bytes. "
        "Green: B is larger; red: B is smaller.",
    )  # fmt: skip


# --- cells -----------------------------------------------------------------------------------
def _touched(r: LayerDiff) -> bool:
    return r.status is not Change.SAME or r.inner_changed


def _layer_style(r: LayerDiff) -> str:
    return "" if r.status is Change.SAME and r.inner_changed else ROW_STYLE[r.status]


def _changed_text(r: LayerDiff) -> str:
    if r.status in (Change.ADDED, Change.REMOVED):
        return str(r.status.value)
    if not r.changed:
        return "inside" if r.inner_changed else ""
    assert r.a is not None and r.b is not None
    parts = []
    for field in r.changed:
        if field in ("params", "macs"):
            delta = r.params_delta if field == "params" else r.macs_delta
            parts.append(f"{CHANGE_LABEL.get(field, field)} {delta:+,}")
        else:
            a, b = getattr(r.a, field), getattr(r.b, field)
            parts.append(f"{CHANGE_LABEL.get(field, field)} {cell_text(a)}{ARROW}{cell_text(b)}")
    return "; ".join(parts)


def _get(record: LayerRecord | None, field: str) -> Any:
    return None if record is None else getattr(record, field)


def _geometry(r: LayerRecord | None) -> str | None:
    if r is None or r.kernel is None:
        return None
    text = f"{r.kernel}x{r.kernel}/{r.stride}"
    text += f" g{r.groups}" if r.groups and r.groups > 1 else ""
    return text + (f" d{r.dilation}" if r.dilation and r.dilation > 1 else "")


# --- JSON ------------------------------------------------------------------------------------
def diff_json(
    d: TraceDiff, layers: Sequence[LayerDiff], names: tuple[str, str] | None, depth: int,
    only_changed: bool,
) -> dict[str, Any]:  # fmt: skip
    given = names or (d.a.label, d.b.label)
    return {
        "command": "diff",
        "identical": d.identical,
        "same_function": d.function.same if d.function is not None else None,
        "same": d.same,
        "summary": list(verdict(d)),
        "aligned_by": d.aligned_by,
        "unaligned": d.unaligned or None,
        "left_out": {side: list(names) for side, names in d.left_out},
        "function": d.function.to_dict() if d.function is not None else None,
        "a": _side_json(given[0], d.a),
        "b": _side_json(given[1], d.b),
        "input": {"given": d.inputs.given, "notes": list(d.inputs.notes)},
        "spec_fields": [
            {"field": f.field, "a": _spec_dict(d.a)[f.field], "b": _spec_dict(d.b)[f.field]}
            for f in d.fields
        ],
        "stages": [_stage_json(s) for s in d.stages],
        "depth": depth,
        "only_changed": only_changed,
        "layers": [_layer_json(r) for r in layers],
        "totals": [
            {"metric": t.metric, "a": t.a, "b": t.b, "delta": t.delta, "percent": t.percent}
            for t in d.totals
        ],
    }


def _spec_dict(trace: Any) -> dict[str, Any]:
    return trace.spec.to_dict() if trace.spec is not None else {}


def _side_json(text: str, trace: Any) -> dict[str, Any]:
    returned = {
        "outputs": [outputs_json(o) for o in trace.outputs],
        "real_pass_reason": trace.real_pass_reason,
    }
    if trace.spec is None:
        return {"arch": text, "spec_string": None, "spec": None,
                "input_shape": list(trace.input_shape), "dtype": trace.dtype, **returned}  # fmt: skip
    return {"arch": text, "spec_string": spec_string(trace.spec), "spec": trace.spec.to_dict(),
            "input_shape": list(trace.input_shape), "dtype": trace.dtype, **returned}  # fmt: skip


def _record_json(r: LayerRecord | None, fields: Sequence[str]) -> dict[str, Any] | None:
    if r is None:
        return None
    return {f: list(v) if isinstance(v, tuple) else v for f in fields for v in [getattr(r, f)]}


def _stage_json(s: StageDiff) -> dict[str, Any]:
    fields = ("output_shape", "params", "macs", "flops", "receptive_field", "jump")
    return {
        "name": s.name, "status": s.status.value, "changed": list(s.changed),
        "blocks_a": s.blocks_a, "blocks_b": s.blocks_b,
        "a": _record_json(s.a, fields), "b": _record_json(s.b, fields),
        "params_delta": s.params_delta, "params_ratio": s.params_ratio,
        "macs_delta": s.macs_delta, "macs_ratio": s.macs_ratio,
    }  # fmt: skip


def _layer_json(r: LayerDiff) -> dict[str, Any]:
    fields = (
        "type",
        "output_shape",
        "params",
        "macs",
        "flops",
        "kernel",
        "stride",
        "groups",
        "dilation",
    )
    return {
        "name": r.name, "depth": r.depth, "stage": r.stage, "status": r.status.value,
        "changed": list(r.changed), "inner_changed": r.inner_changed,
        "a": _record_json(r.a, fields), "b": _record_json(r.b, fields),
        "params_delta": r.params_delta, "macs_delta": r.macs_delta,
    }  # fmt: skip

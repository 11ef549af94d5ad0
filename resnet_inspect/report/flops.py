"""flops: MACs and FLOPs per layer, stage and operator; fvcore's numbers in the same shape."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

from ..units import human, shape_text
from .charts import trace_charts
from .common import calls_note, name_cells, real_pass_warning, share, totals_lines, trace_json
from .document import Column, Report, Table

if TYPE_CHECKING:
    from ..tracing import LayerRecord, Trace

class By(str, Enum):
    """The rows of the flops table (``--by``, ``by=``)."""

    LAYER = "layer"
    STAGE = "stage"
    OPERATOR = "operator"


FLOPS_NOTE = (
    "MACs: multiply-accumulates of convolution and linear layers. FLOPs: every floating-point "
    "operation: 2 per MAC plus normalisation, ReLU, pooling and residual additions."
)
FVCORE_NOTE = (
    "--counter fvcore: fvcore's FlopCountAnalysis on real tensors. Its 'flops' are MACs "
    "(conv, linear) plus its own rules for batch norm and adaptive "
    "pooling; it does not count ReLU, max-pool or the residual additions."
)


def _flops_rows(layers: list[LayerRecord], total_flops: int, by_stage: bool) -> tuple[tuple[Any, ...], ...]:
    names: list[Any] = [r.name for r in layers] if by_stage else name_cells(layers)
    return tuple(
        (name, r.type_label, r.output_shape, r.params, r.macs, r.flops, share(r.flops, total_flops))
        for name, r in zip(names, layers, strict=True)
    )  # fmt: skip


def _operator_table(trace: Trace, footer: tuple[str, ...]) -> Table:
    total = trace.totals.flops
    rows = tuple(
        (o.operator, o.count, o.macs, o.flops, share(o.flops, total), o.rule)
        for o in trace.operators
    )
    columns = (Column("Operator", "left"), Column("Calls", priority=2), Column("MACs", human=True),
               Column("FLOPs", human=True), Column("Share of FLOPs", "left"),
               Column("FLOPs rule", "left", priority=1))  # fmt: skip
    return Table(title="By operator", columns=columns, rows=rows, footer=footer)


def flops_report(trace: Trace, by: By, depth: int) -> Report:
    """The torch counter: our own accounting on the meta device."""
    title = f"{trace.label} @ {shape_text(trace.input_shape)}: MACs and FLOPs"
    layers = trace.stages() if by is By.STAGE else trace.at_depth(depth)
    columns = (Column("Stage" if by is By.STAGE else "Layer", "left"), Column("Type", "left", priority=2),
               Column("Output shape", priority=1), Column("Params", human=True, priority=3),
               Column("MACs", human=True), Column("FLOPs", human=True),
               Column("Share of FLOPs", "left", priority=4))  # fmt: skip
    tables = []
    if by is not By.OPERATOR:
        tables.append(Table(title=title, columns=columns, caption=" ".join(calls_note(layers)),
                            rows=_flops_rows(layers, trace.totals.flops, by is By.STAGE)))  # fmt: skip
    tables.append(_operator_table(trace, footer=(FLOPS_NOTE, *totals_lines(trace))))
    payload = {"command": "flops", "counter": "torch", "by": by.value, **trace_json(trace, layers)}
    return Report(payload=payload, tables=tuple(tables), charts=trace_charts(trace))


def fvcore_report(trace: Trace, counts: dict[str, Any], by: By, depth: int) -> Report:
    """The fvcore counter, in the same table shape; MACs are compared with ours."""
    from ..tracing.records import stage_members

    layers = trace.stages() if by is By.STAGE else trace.at_depth(depth)
    root = counts[""]
    total = root.fvcore_flops

    def of(name: str) -> Any:
        if by is By.STAGE:  # the stage's outermost modules (layerN itself; resnetv2's stages.N)
            parts = [counts[r.name] for r in stage_members(trace.layers)
                     if r.stage == name and r.name in counts]  # fmt: skip
            return (sum(p.macs for p in parts), sum(p.fvcore_flops for p in parts))
        c = counts.get(name)
        return (c.macs, c.fvcore_flops) if c else (0, 0)

    names: list[Any] = [r.name for r in layers] if by is By.STAGE else name_cells(layers)
    rows = tuple(
        (name, r.type, r.output_shape, r.params, *of(r.name), share(of(r.name)[1], total))
        for name, r in zip(names, layers, strict=True)
    )  # fmt: skip
    columns = (Column("Stage" if by is By.STAGE else "Layer", "left"), Column("Type", "left", priority=2),
               Column("Output shape", priority=1), Column("Params", human=True, priority=3),
               Column("MACs", human=True), Column("fvcore flops", human=True),
               Column("Share", "left", priority=4))  # fmt: skip
    op_rows = tuple((op, n, share(n, total)) for op, n in root.by_operator)
    agree = "yes" if root.macs == trace.totals.macs else f"NO (torch counter: {trace.totals.macs:,})"
    footer = (
        FVCORE_NOTE,
        f"fvcore total: {total:,} ({human(total)}); its conv+linear MACs {root.macs:,} "
        f"agree with the torch counter: {agree}",
        f"Params: {trace.totals.params:,}   Input: {shape_text(trace.input_shape)}   "
        f"Spec: {trace.label}",
        *((f"warning: {real_pass_warning(trace)}",) if trace.real_pass_reason else ()),
    )
    tables = []
    title = f"{trace.label} @ {shape_text(trace.input_shape)}: fvcore"
    if by is not By.OPERATOR:
        tables.append(Table(title=title, columns=columns, rows=rows))
    tables.append(Table(title="By operator (fvcore's names)",
                        columns=(Column("Operator", "left"), Column("fvcore flops"), Column("Share", "left")),
                        rows=op_rows, footer=footer))  # fmt: skip
    payload = {
        "command": "flops", "counter": "fvcore", "by": by.value,
        **trace_json(trace, layers),
        "fvcore": {
            "total": total, "macs": root.macs,
            "by_operator": dict(root.by_operator),
            "layers": {r.name: dict(zip(("macs", "fvcore_flops"), of(r.name), strict=True)) for r in layers},
        },
    }  # fmt: skip
    return Report(payload=payload, tables=tuple(tables))

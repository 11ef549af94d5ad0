"""summary: one row per module down to a depth, with the totals under the table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..spec import spec_string
from ..units import shape_text
from .charts import trace_charts
from .common import MACS_NOTE, name_cells, rf_cell, totals_lines, trace_json
from .document import Column, Report, Table

if TYPE_CHECKING:
    from ..tracing import Trace


def summary_report(trace: Trace, depth: int) -> Report:
    layers = trace.at_depth(depth)
    columns = (
        Column("Layer", "left"), Column("Type", "left", priority=2),
        Column("Output shape", priority=1), Column("Params", human=True), Column("MACs", human=True),
        Column("RF", priority=3), Column("Out stride", priority=4),
    )  # fmt: skip
    rows = tuple(
        (name, r.type, r.output_shape, r.params, r.macs, rf_cell(r), r.jump)
        for name, r in zip(name_cells(layers), layers, strict=True)
    )
    styles = tuple("bold" if r.depth == 1 and not r.is_leaf else "" for r in layers)
    table = Table(
        title=f"{spec_string(trace.spec)} @ {shape_text(trace.input_shape)}",
        columns=columns,
        rows=rows,
        styles=styles,
        caption=f"{MACS_NOTE} RF: receptive field in input pixels; Out stride: input pixels between adjacent outputs (cumulative, not the layer's own stride).",
        footer=totals_lines(trace),
    )
    return Report(payload={"command": "summary", **trace_json(trace, layers)}, tables=(table,),
                  charts=trace_charts(trace))  # fmt: skip

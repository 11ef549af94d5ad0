"""summary: one row per module down to a depth, with the totals under the table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..units import shape_text
from .common import MACS_NOTE, name_cell, rf_cell, totals_lines, trace_json
from .document import Column, Report, Table

if TYPE_CHECKING:
    from ..tracing import Trace


def summary_report(trace: Trace, depth: int) -> Report:
    layers = trace.at_depth(depth)
    columns = (
        Column("Layer", "left"), Column("Type", "left"), Column("Output shape"), Column("Params"),
        Column("MACs"), Column("RF"), Column("Stride"),
    )  # fmt: skip
    rows = tuple(
        (name_cell(r), r.type, r.output_shape, r.params, r.macs, rf_cell(r), r.jump)
        for r in layers
    )
    styles = tuple("bold" if r.depth == 1 and not r.is_leaf else "" for r in layers)
    table = Table(
        title=f"{trace.label} @ {shape_text(trace.input_shape)}",
        columns=columns,
        rows=rows,
        styles=styles,
        caption=f"{MACS_NOTE} RF: receptive field in input pixels; Stride: its effective stride.",
        footer=totals_lines(trace),
    )
    return Report(payload={"command": "summary", **trace_json(trace, layers)}, tables=(table,))

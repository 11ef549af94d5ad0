"""summary: one row per module down to a depth, with the totals under the table."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..units import shape_text
from .charts import trace_charts
from .common import MACS_NOTE, calls_note, name_cells, rf_cell, totals_lines, trace_json
from .document import Column, Report, Table

if TYPE_CHECKING:
    from ..tracing import LayerRecord, Trace


# every column summary can show: its header, how it is drawn, and the record's value
COLUMNS: dict[str, tuple[Column, Callable[[LayerRecord], Any]]] = {
    "type": (Column("Type", "left", priority=2), lambda r: r.type_label),
    "input": (Column("Input shape", priority=1), lambda r: r.input_shape if r.ran else None),
    "output": (Column("Output shape", priority=1), lambda r: r.output_shape if r.ran else None),
    "params": (Column("Params", human=True), lambda r: r.params),
    "macs": (Column("MACs", human=True), lambda r: r.macs),
    "flops": (Column("FLOPs", human=True), lambda r: r.flops),
    "kernel": (Column("Kernel", priority=3), lambda r: r.kernel),
    "stride": (Column("Stride", priority=3), lambda r: r.stride),
    "padding": (Column("Padding", priority=3), lambda r: r.padding),
    "dilation": (Column("Dilation", priority=3), lambda r: r.dilation),
    "groups": (Column("Groups", priority=3), lambda r: r.groups),
    "rf": (Column("RF", priority=3), rf_cell),
    "out_stride": (Column("Out stride", priority=4), lambda r: r.jump),
}
DEFAULT_COLUMNS = ("type", "output", "params", "macs", "rf", "out_stride")
CAPTIONS = {
    "rf": "RF: receptive field in input pixels.",
    "out_stride": "Out stride: input pixels between adjacent outputs (cumulative, not the layer's "
    "own stride).",
    "stride": "Stride, padding, dilation, groups: the layer's own.",
}


def check_columns(names: tuple[str, ...]) -> tuple[str, ...]:
    """Column names as given (``--columns``), each one summary knows."""
    unknown = [n for n in names if n not in COLUMNS]
    if unknown or not names:
        raise UsageError(
            f"columns {','.join(names)!r}: not one of {', '.join(COLUMNS)}", subject="columns"
        )
    return names


def summary_report(trace: Trace, depth: int, columns: tuple[str, ...] = DEFAULT_COLUMNS) -> Report:
    layers = trace.at_depth(depth)
    chosen = [COLUMNS[n] for n in check_columns(columns)]
    rows = tuple(
        (name, *(value(r) for _, value in chosen))
        for name, r in zip(name_cells(layers), layers, strict=True)
    )
    styles = tuple("bold" if r.depth == 1 and not r.is_leaf else "" for r in layers)
    notes = [CAPTIONS[n] for n in CAPTIONS if n in columns] + list(calls_note(layers))
    table = Table(
        title=f"{trace.label} @ {shape_text(trace.input_shape)}",
        columns=(Column("Layer", "left"), *(c for c, _ in chosen)),
        rows=rows,
        styles=styles,
        caption=" ".join([MACS_NOTE, *notes]),
        footer=totals_lines(trace),
    )
    return Report(payload={"command": "summary", **trace_json(trace, layers)}, tables=(table,),
                  charts=trace_charts(trace))  # fmt: skip

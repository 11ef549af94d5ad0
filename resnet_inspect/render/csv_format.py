"""CSV: the report's data table, tidy, for a spreadsheet or pandas."""

from __future__ import annotations

import csv
import io
import re

from ..report.document import Report, TreeName, cell_text
from .base import DEFAULT_OPTIONS, RenderOptions


def render_csv(report: Report, options: RenderOptions = DEFAULT_OPTIONS) -> str:
    """One table per file, tidy: the report's data table, snake_case headers, numbers only
    (whole, no separators; a 'global' receptive field is empty); module names as name,
    parent and depth columns, so that summing a column need not double-count parents."""
    if not report.tables:
        return ""
    table = report.tables[report.primary]
    tree = bool(table.rows) and isinstance(table.rows[0][0], TreeName)
    header = [csv_name(c.header) for c in table.columns]
    if tree:
        header = ["name", "parent", "depth", *header[1:]]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in table.rows:
        cells = [cell_text(v, rich=False) for v in row]
        if tree:
            name = row[0].name
            cells = [name, name.rsplit(".", 1)[0] if "." in name else "", str(row[0].depth), *cells[1:]]
        writer.writerow(cells)
    return buf.getvalue()


def csv_name(header: str) -> str:
    """'Output shape' -> 'output_shape', 'Δ Params' -> 'delta_params', 'Params B/A' -> 'params_b_a'."""
    words = re.findall(r"[a-z0-9]+", header.replace("Δ", "delta ").replace("%", " percent").lower())
    return "_".join(words)

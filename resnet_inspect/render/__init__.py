"""Renderers: a Report (tables + a JSON payload) in, text out. Nothing here computes a number.

Formats, one module each: a rich ``table`` for the terminal (table.py, with the ASCII
fallback), ``json`` (the payload, stable key order, no timestamps), ``csv`` and ``markdown``
(the same tables, raw numbers), ``svg`` (the rich table as rendered, for saving) and ``html``
(a self-contained page with sortable tables and charts). Choosing a format from a file name
and writing files belong to the command line (cli/output.py).
"""

from __future__ import annotations

from ..report.document import Report
from .base import Format, Renderer, RenderOptions
from .csv_format import csv_name, render_csv
from .html_format import render_html
from .json_format import SCHEMA_VERSION, render_json
from .markdown import render_markdown
from .svg import LOCAL_MONOSPACE, offline_svg, render_svg
from .table import can_encode, render_table, rich_renderables, to_ascii

__all__ = [
    "LOCAL_MONOSPACE", "RENDERERS", "SCHEMA_VERSION", "Format", "RenderOptions", "Renderer", "can_encode",
    "csv_name", "offline_svg", "render", "render_csv", "render_html", "render_json", "render_markdown",
    "render_svg", "render_table", "rich_renderables", "to_ascii",
]  # fmt: skip


# one renderer per format: a new format is its module and one line here
RENDERERS: dict[Format, Renderer] = {
    Format.TABLE: render_table, Format.JSON: render_json, Format.CSV: render_csv,
    Format.MARKDOWN: render_markdown, Format.SVG: render_svg, Format.HTML: render_html,
}  # fmt: skip


def render(report: Report, fmt: Format, width: int | None = None, exact: bool = False,
           ascii_only: bool = False) -> str:  # fmt: skip
    """``report`` as ``fmt``; counts in human units on a table unless ``exact``;
    ``ascii_only``: nothing but ASCII (see :func:`to_ascii`), whatever the format."""
    text = RENDERERS[fmt](report, RenderOptions(width, exact, ascii_only))
    return to_ascii(text) if ascii_only else text

"""Renderers: a Report (tables + a JSON payload) in, text out. Nothing here computes a number.

Formats, one module each: a rich ``table`` for the terminal (table.py, with the ASCII
fallback), ``json`` (the payload, stable key order, no timestamps), ``csv`` and ``markdown``
(the same tables, raw numbers), ``svg`` (the rich table as rendered, for saving) and ``html``
(a self-contained page with sortable tables and charts). Choosing a format from a file name
and writing files belong to the command line (cli/output.py).

Only the table's module is imported with the package; a format's own module (and what it
needs: csv, html, json) on its first use, so that a cold command pays only for its format.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..report.document import Report
from .base import DEFAULT_OPTIONS, Format, Renderer, RenderOptions
from .table import can_encode, render_table, rich_renderables, to_ascii

if TYPE_CHECKING:  # the names below, as a type checker sees them; at run time, __getattr__
    from .csv_format import csv_name, render_csv
    from .html_format import render_html
    from .json_format import SCHEMA_VERSION, render_json
    from .markdown import render_markdown
    from .svg import LOCAL_MONOSPACE, offline_svg, render_svg

__all__ = [
    "LOCAL_MONOSPACE", "RENDERERS", "SCHEMA_VERSION", "Format", "RenderOptions", "Renderer", "can_encode",
    "csv_name", "offline_svg", "render", "render_csv", "render_html", "render_json", "render_markdown",
    "render_svg", "render_table", "rich_renderables", "to_ascii",
]  # fmt: skip

# each name a format's module defines, and that module
_LAZY = {
    "csv_name": "csv_format", "render_csv": "csv_format", "render_html": "html_format",
    "SCHEMA_VERSION": "json_format", "render_json": "json_format", "render_markdown": "markdown",
    "LOCAL_MONOSPACE": "svg", "offline_svg": "svg", "render_svg": "svg",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)


def _on_first_use(name: str) -> Renderer:
    """The renderer ``name``, its module imported when it first renders."""

    def renderer(report: Report, options: RenderOptions = DEFAULT_OPTIONS, /) -> str:
        function: Renderer = __getattr__(name)
        return function(report, options)

    renderer.__name__ = renderer.__qualname__ = name
    return renderer


# one renderer per format: a new format is its module and one line here (and in _LAZY)
RENDERERS: dict[Format, Renderer] = {
    Format.TABLE: render_table, Format.JSON: _on_first_use("render_json"), Format.CSV: _on_first_use("render_csv"),
    Format.MARKDOWN: _on_first_use("render_markdown"), Format.SVG: _on_first_use("render_svg"),
    Format.HTML: _on_first_use("render_html"),
}  # fmt: skip


def render(report: Report, fmt: Format, width: int | None = None, exact: bool = False,
           ascii_only: bool = False) -> str:  # fmt: skip
    """``report`` as ``fmt``; counts in human units on a table unless ``exact``;
    ``ascii_only``: nothing but ASCII (see :func:`to_ascii`), whatever the format."""
    text = RENDERERS[fmt](report, RenderOptions(width, exact, ascii_only))
    return to_ascii(text) if ascii_only else text

"""Renderers: a Report (tables + a JSON payload) in, text out. Nothing here computes a number.

Formats: a rich ``table`` for the terminal, ``json`` (the payload, stable key order, no
timestamps), ``csv`` and ``markdown`` (the same tables, raw numbers), and ``svg``/``html``
(the rich table as rendered, for saving).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from enum import Enum
from pathlib import Path
from typing import Any

from .errors import RuntimeFailure, UsageError
from .report.document import Report, Table, TreeName, cell_text

SCHEMA_VERSION = 1


class Format(str, Enum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"
    SVG = "svg"
    HTML = "html"


EXTENSIONS = {
    ".txt": Format.TABLE, ".json": Format.JSON, ".csv": Format.CSV, ".md": Format.MARKDOWN,
    ".markdown": Format.MARKDOWN, ".svg": Format.SVG, ".html": Format.HTML, ".htm": Format.HTML,
}  # fmt: skip


# --- renderers -------------------------------------------------------------------------------
def render_json(report: Report) -> str:
    payload = {"schema_version": SCHEMA_VERSION, **report.payload}
    return json.dumps(payload, indent=2, sort_keys=False) + "\n"


def render_csv(report: Report) -> str:
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


def render_markdown(report: Report) -> str:
    out: list[str] = [f"{line}  " for line in report.header]
    for table in report.tables:
        out += ["", f"### {table.title}", ""] if table.title else [""]
        out.append("| " + " | ".join(c.header for c in table.columns) + " |")
        out.append("|" + "|".join("---:" if c.justify == "right" else "---" for c in table.columns) + "|")
        for row in table.rows:
            cells = (cell_text(v, rich=True).replace("|", "\\|") for v in row)
            out.append("| " + " | ".join(cells) + " |")
        out += [""] + [f"{line}  " for line in (table.caption, *table.footer) if line]
    out += [""] + [f"{line}  " for line in report.notes]
    return "\n".join(out).strip() + "\n"


def rich_renderables(report: Report, width: int | None = None, exact: bool = False) -> list[Any]:
    """The report for a terminal ``width`` columns wide: counts in human units unless
    ``exact``; where a table would not fit, its lowest-priority columns are hidden (and the
    table says which) before any name is cut."""
    from rich.table import Table as RichTable
    from rich.text import Text

    items: list[Any] = [Text.from_markup(line) for line in report.header]
    for table in report.tables:
        texts = [[cell_text(v, rich=True, human=c.human and not exact) for v, c in zip(row, table.columns, strict=True)]
                 for row in table.rows]  # fmt: skip
        shown = _columns_that_fit(table, texts, width)
        hidden = [c.header for i, c in enumerate(table.columns) if i not in shown]
        caption = table.caption + (f" Hidden at this width: {', '.join(hidden)} (a wider terminal or "
                                   "-f csv shows them)." if hidden else "")  # fmt: skip
        t = RichTable(title=table.title or None, caption=caption.strip() or None, title_justify="left",
                      caption_justify="left", header_style="bold")  # fmt: skip
        for i in shown:
            c = table.columns[i]
            keep = _natural_width(table, texts, i) if c.priority == 0 and c.justify == "left" else None
            t.add_column(c.header, justify=c.justify, no_wrap=c.justify == "right" or keep is not None,  # type: ignore[arg-type]
                         min_width=keep)  # fmt: skip
        for r, row in enumerate(texts):
            style = table.styles[r] if r < len(table.styles) else ""
            t.add_row(*(Text(row[i]) for i in shown), style=style or None)
        items.append(t)
        items += [Text.from_markup(line) for line in table.footer]
    items += [Text.from_markup(line) for line in report.notes]
    return items


def _natural_width(table: Table, texts: list[list[str]], i: int) -> int:
    return max([len(table.columns[i].header), *(len(row[i]) for row in texts)])


def _columns_that_fit(table: Table, texts: list[list[str]], width: int | None) -> list[int]:
    """Column indexes to show: all, or without the highest priorities (rightmost first)
    until the table's natural width (3 per column for borders and padding) fits."""
    shown = list(range(len(table.columns)))
    if width is None:
        return shown
    need = {i: _natural_width(table, texts, i) + 3 for i in shown}
    droppable = sorted((i for i in shown if table.columns[i].priority > 0),
                       key=lambda i: (table.columns[i].priority, i))  # fmt: skip
    while sum(need[i] for i in shown) + 1 > width and droppable:
        shown.remove(droppable.pop())
    return shown


def render_rich(report: Report, fmt: Format = Format.TABLE, width: int | None = None,
                exact: bool = False) -> str:  # fmt: skip
    """The rich rendering as plain text (TABLE), or as SVG for saving."""
    from rich.console import Console

    record = fmt is Format.SVG
    console = Console(file=io.StringIO(), width=width or 120, record=record, color_system=None,
                      force_terminal=False, soft_wrap=False)  # fmt: skip
    for item in rich_renderables(report, width or 120, exact):
        console.print(item)
    if fmt is Format.SVG:
        return offline_svg(console.export_svg(title="resnet-inspect"))
    out = console.file
    assert isinstance(out, io.StringIO)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


LOCAL_MONOSPACE = '"DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace'


def offline_svg(svg: str) -> str:
    """rich's SVG loads its font from a CDN: offline, the table's lines came out dashed. Here
    the @font-face rules go and the text uses the monospace fonts the viewer has."""
    svg = re.sub(r"@font-face\s*\{[^}]*\}\s*", "", svg)
    return svg.replace("font-family: Fira Code, monospace", f"font-family: {LOCAL_MONOSPACE}")


def render(report: Report, fmt: Format, width: int | None = None, exact: bool = False) -> str:
    if fmt is Format.JSON:
        return render_json(report)
    if fmt is Format.CSV:
        return render_csv(report)
    if fmt is Format.MARKDOWN:
        return render_markdown(report)
    if fmt is Format.HTML:
        from .render_html import render_html

        return render_html(report)
    return render_rich(report, fmt, width, exact)


# --- choosing a format and writing ------------------------------------------------------------
def choose_format(fmt: str | None, output: str | None) -> Format:
    """--format, else the --output extension, else a table; the two must not contradict."""
    chosen = None
    if fmt is not None:
        try:
            chosen = Format(fmt.strip().lower())
        except ValueError:
            allowed = ", ".join(f.value for f in Format)
            raise UsageError(f"--format {fmt!r}: not one of {allowed}") from None
    if output is None:
        return chosen or Format.TABLE
    suffix = Path(output).suffix.lower()
    implied = EXTENSIONS.get(suffix)
    if chosen is not None and implied is not None and implied is not chosen:
        raise UsageError(
            f"--output {output!r}: the extension {suffix} means {implied.value}, "
            f"but --format is {chosen.value}"
        )
    if chosen is None and implied is None:
        known = ", ".join(EXTENSIONS)
        raise UsageError(
            f"--output {output!r}: cannot tell the format from {suffix or 'no extension'}; "
            f"use one of {known} or give --format"
        )
    return chosen or implied or Format.TABLE


def check_output_path(output: str) -> Path:
    path = Path(output)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        is_dir, parent_is_dir = path.is_dir(), parent.is_dir()
    except OSError as exc:  # a name too long, a loop of links ...
        raise UsageError(f"--output {output!r}: {exc.strerror}") from None
    if is_dir:
        raise UsageError(f"--output {output!r}: is a directory")
    if not parent_is_dir:
        raise UsageError(f"--output {output!r}: the directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--output {output!r}: the directory {str(parent)!r} is not writable")
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path`` and rename it into place: an interrupted
    run never leaves a half-written file nor clobbers an existing one."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    except OSError as exc:  # a read-only or special filesystem that os.access did not reveal
        raise UsageError(f"--output {str(path)!r}: cannot write there: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise RuntimeFailure(f"--output {str(path)!r}: cannot write: {exc.strerror}") from None
        raise

"""Renderers: a Report (tables + a JSON payload) in, text out. Nothing here computes a number.

Formats: a rich ``table`` for the terminal, ``json`` (the payload, stable key order, no
timestamps), ``csv`` and ``markdown`` (the same tables, raw numbers), and ``svg``/``html``
(the rich table as rendered, for saving).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import stat
import tempfile
from enum import Enum
from pathlib import Path
from typing import Any

from .choices import parse_choice
from .errors import RuntimeFailure, UsageError
from .report.document import Report, Table, TreeName, cell_text
from .units import file_kind, printable

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


# --- terminals and pipes that cannot take UTF-8 (LC_ALL=C, PYTHONIOENCODING=ascii) ------------
# our own glyphs, as ASCII of the same width (the tables keep their alignment)
_ASCII_GLYPHS = str.maketrans({"Δ": "d", "█": "#", "·": ".", "…": ".", "─": "-", "━": "-", "│": "|", "┃": "|",
                               "├": "|", "└": "`"})


def to_ascii(text: str) -> str:
    """``text`` in ASCII: our glyphs replaced, anything else escaped (\\xe9, \\u2192)."""
    return text.translate(_ASCII_GLYPHS).encode("ascii", "backslashreplace").decode("ascii")


def can_encode(stream: Any, sample: str = "Δ█·┃━") -> bool:
    """Whether ``stream`` takes our table glyphs (its encoding is UTF-8 or can write them)."""
    try:
        sample.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


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
    out: list[str] = [f"{printable(line)}  " for line in report.header]
    for table in report.tables:
        out += ["", f"### {printable(table.title)}", ""] if table.title else [""]
        out.append("| " + " | ".join(c.header for c in table.columns) + " |")
        out.append("|" + "|".join("---:" if c.justify == "right" else "---" for c in table.columns) + "|")
        for row in table.rows:
            cells = (cell_text(v, rich=True).replace("|", "\\|") for v in row)
            out.append("| " + " | ".join(cells) + " |")
        out += [""] + [f"{printable(line)}  " for line in (table.caption, *table.footer) if line]
    out += [""] + [f"{printable(line)}  " for line in report.notes]
    return "\n".join(out).strip() + "\n"


def rich_renderables(report: Report, width: int | None = None, exact: bool = False,
                     ascii_only: bool = False) -> list[Any]:  # fmt: skip
    """The report as rich objects for a terminal ``width`` columns wide: counts in human units
    unless ``exact``; where a table would not fit, its lowest-priority columns are hidden (and
    the table says which) before any name is cut. Every line is plain text, never markup (a
    file name with ``[/x]`` in it would be), with control characters escaped; ``ascii_only``:
    ASCII boxes and glyphs, for a terminal that cannot take UTF-8."""
    from rich import box
    from rich.table import Table as RichTable
    from rich.text import Text

    def text(line: str) -> Text:
        line = printable(line)
        return Text(to_ascii(line) if ascii_only else line)

    items: list[Any] = [text(line) for line in report.header]
    for table in report.tables:
        texts = [[cell_text(v, rich=True, human=c.human and not exact) for v, c in zip(row, table.columns, strict=True)]
                 for row in table.rows]  # fmt: skip
        shown = _columns_that_fit(table, texts, width)
        hidden = [c.header for i, c in enumerate(table.columns) if i not in shown]
        caption = table.caption + (f" Hidden at this width: {', '.join(hidden)} (a wider terminal or "
                                   "-f csv shows them)." if hidden else "")  # fmt: skip
        t = RichTable(title=text(table.title) if table.title else None,
                      caption=text(caption.strip()) if caption.strip() else None, title_justify="left",
                      caption_justify="left", header_style="bold",
                      box=box.ASCII if ascii_only else box.HEAVY_HEAD)  # fmt: skip
        for i in shown:
            c = table.columns[i]
            # the first column names the row: never cut, unless it would take over half the width
            keep = min(_natural_width(table, texts, i), (width or 120) // 2) if i == 0 else None
            t.add_column(text(c.header), justify=c.justify, no_wrap=c.justify == "right" or keep is not None,  # type: ignore[arg-type]
                         min_width=keep)  # fmt: skip
        for r, row in enumerate(texts):
            style = table.styles[r] if r < len(table.styles) else ""
            t.add_row(*(text(row[i]) for i in shown), style=style or None)
        items.append(t)
        items += [text(line) for line in table.footer]
    items += [text(line) for line in report.notes]
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
                exact: bool = False, ascii_only: bool = False) -> str:  # fmt: skip
    """The rich rendering as plain text (TABLE), or as SVG for saving."""
    from rich.console import Console

    record = fmt is Format.SVG
    console = Console(file=io.StringIO(), width=width or 120, record=record, color_system=None,
                      force_terminal=False, soft_wrap=False)  # fmt: skip
    for item in rich_renderables(report, width or 120, exact, ascii_only):
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


def render(report: Report, fmt: Format, width: int | None = None, exact: bool = False,
           ascii_only: bool = False) -> str:  # fmt: skip
    """``report`` as ``fmt``; counts in human units on a table unless ``exact``;
    ``ascii_only``: nothing but ASCII (see :func:`to_ascii`)."""
    if fmt is Format.JSON:
        text = render_json(report)  # json.dumps writes ASCII already
    elif fmt is Format.CSV:
        text = render_csv(report)
    elif fmt is Format.MARKDOWN:
        text = render_markdown(report)
    elif fmt is Format.HTML:
        from .render_html import render_html

        text = render_html(report)
    else:
        text = render_rich(report, fmt, width, exact, ascii_only)
    return to_ascii(text) if ascii_only else text


# --- choosing a format and writing ------------------------------------------------------------
def choose_format(fmt: str | None, output: str | None) -> Format:
    """--format, else the --output extension, else a table; the two must not contradict."""
    chosen = parse_choice(Format, fmt, "--format") if fmt is not None else None
    if output is None or output == STDOUT:
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


STDOUT = "-"  # --output - : standard output, as for most command-line tools


def check_output_path(output: str) -> Path:
    """Everything about ``--output`` that can be checked before a (possibly long) run, without
    blocking and without touching the target: a regular file or a new name (never a device
    node, a FIFO, a socket or a directory; a link counts as what it points to, and is kept) in
    a writable directory, where a temporary file can be created beside it. The path to write
    (a link's target); ``Path("-")`` for stdout."""
    if output == STDOUT:
        return Path(STDOUT)
    if not output:
        raise UsageError("--output '': give a file name, or - for stdout")
    try:
        path = Path(os.path.realpath(output))  # write through a link, as a shell redirect does
        st = _stat_or_none(path)  # stat does not open it: a FIFO cannot block it
        parent_is_dir = path.parent.is_dir()
    except (OSError, ValueError) as exc:  # a name too long, a loop of links, a NUL byte ...
        raise UsageError(f"--output {output!r}: {getattr(exc, 'strerror', None) or exc}") from None
    if path.parts[1:2] == ("proc",) or (st is not None and _is_standard_stream(st)):
        raise UsageError(f"--output {output!r}: is this process's own stdin, stdout or stderr "
                         "(replacing it would cut off whoever reads it); use - for stdout")  # fmt: skip
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UsageError(f"--output {output!r}: is a directory")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UsageError(f"--output {output!r}: is {file_kind(st.st_mode)}, not a regular file; "
                         "output goes to regular files only (use - for stdout)")  # fmt: skip
    if not parent_is_dir:
        raise UsageError(f"--output {output!r}: the directory {str(path.parent)!r} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise UsageError(f"--output {output!r}: the directory {str(path.parent)!r} is not writable")
    fd, tmp = _temporary_beside(path, output)  # a read-only mount, no inodes left, a long name
    os.close(fd)
    os.unlink(tmp)
    return path


def _is_standard_stream(st: os.stat_result) -> bool:
    """Whether ``st`` is the file behind fd 0, 1 or 2 (/dev/stdout resolves to it)."""
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            own = os.fstat(fd)
            if (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino):
                return True
    return False


def _stat_or_none(path: Path) -> os.stat_result | None:
    """None for a name that does not exist yet; a name too long or a loop raises."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _temporary_beside(path: Path, shown: str) -> tuple[int, str]:
    # the name is cut so that prefix + name + suffix stays within a file name's 255 bytes
    name = os.fsdecode(os.fsencode(path.name)[:200])  # bytes as on disk: any name, UTF-8 or not
    try:
        return tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # a read-only or special filesystem that os.access did not reveal
        raise UsageError(f"--output {shown!r}: cannot write there: {exc.strerror}") from None


def _new_file_mode(path: Path) -> int:
    """The mode a shell redirect would give: an existing file keeps its own, a new one gets
    0o666 less the umask (mkstemp makes 0o600)."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(os.stat(path).st_mode)
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path`` and rename it into place: an interrupted
    run never leaves a half-written file nor clobbers an existing one. ``path`` comes from
    :func:`check_output_path`, which is checked again here (the name may have changed since)."""
    path = check_output_path(str(path))
    fd, tmp = _temporary_beside(path, str(path))
    try:
        os.fchmod(fd, _new_file_mode(path))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise RuntimeFailure(f"--output {str(path)!r}: cannot write: {exc.strerror}") from None
        raise

"""The table a terminal shows (rich), and the ASCII fallback for a terminal or pipe that cannot
take UTF-8. The SVG format records this same table."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from ..report.document import Report, Table, cell_text
from ..units import printable
from .base import DEFAULT_OPTIONS, RenderOptions

if TYPE_CHECKING:
    from rich.console import Console

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


def printed(report: Report, options: RenderOptions, record: bool = False) -> Console:
    """A colourless console ``options.width`` columns wide (120 if None) that has printed the
    report; ``record``: keeping what it printed, for an export."""
    from rich.console import Console

    width = options.width or 120
    console = Console(file=io.StringIO(), width=width, record=record, color_system=None,
                      force_terminal=False, soft_wrap=False)  # fmt: skip
    for item in rich_renderables(report, width, options.exact, options.ascii_only):
        console.print(item)
    return console


def render_table(report: Report, options: RenderOptions = DEFAULT_OPTIONS) -> str:
    """The rich table as plain text, without trailing spaces; counts in human units unless
    ``options.exact``."""
    out = printed(report, options).file
    assert isinstance(out, io.StringIO)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"

"""Markdown: every table of the report, with its title, caption and notes; raw numbers."""

from __future__ import annotations

from ..report.document import Report, cell_text
from ..units import printable
from .base import DEFAULT_OPTIONS, RenderOptions


def render_markdown(report: Report, options: RenderOptions = DEFAULT_OPTIONS) -> str:
    """Raw numbers, as in csv; pipes in cells escaped."""
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

"""What a command's report is made of: tables of cells, header and footer lines, and the JSON
payload, built from the same result records. Renderers turn it into text; nothing here draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..units import printable, shape_text


@dataclass(frozen=True)
class Bar:
    """A share of a total (0..1), drawn as a small bar in the terminal, a number elsewhere."""

    fraction: float


@dataclass(frozen=True)
class Column:
    header: str
    justify: str = "right"


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    styles: tuple[str, ...] = ()  # one rich style per row ("" for none)
    footer: tuple[str, ...] = ()  # lines under the table
    caption: str = ""  # what the numbers are (units), always shown


@dataclass(frozen=True)
class Report:
    payload: dict[str, Any]  # the JSON document
    tables: tuple[Table, ...]
    header: tuple[str, ...] = ()  # lines above the tables
    notes: tuple[str, ...] = field(default_factory=tuple)  # lines below the tables


def cell_text(value: Any, rich: bool = True) -> str:
    """One table cell as text: thousands separators, shapes as 1x3x224x224, None as '-'
    (rich) or empty (csv); control characters escaped (see units.printable)."""
    if value is None:
        return "-" if rich else ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if rich else str(value)
    if isinstance(value, float):
        return f"{value:,.2f}" if rich else f"{value:.6g}"
    if isinstance(value, Bar):
        if not rich:
            return f"{value.fraction:.6f}"
        filled = round(max(0.0, min(1.0, value.fraction)) * 10)
        return f"{100 * value.fraction:5.1f}% " + "█" * filled + "·" * (10 - filled)
    if isinstance(value, tuple):
        return shape_text(value)
    return printable(str(value))  # key names come from files: no escape sequence gets through

"""What a command's report is made of: tables of cells, header and footer lines, and the JSON
payload, built from the same result records. Renderers turn it into text; nothing here draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..units import printable, shape_text, short

SCHEMA_VERSION = 1  # of the JSON document: raised when a key is renamed or removed


@dataclass(frozen=True)
class Bar:
    """A share of a total (0..1), drawn as a small bar in the terminal, a number elsewhere."""

    fraction: float


@dataclass(frozen=True)
class Column:
    header: str
    justify: str = "right"
    priority: int = 0  # 0: always shown; on a narrow terminal the highest are hidden first
    human: bool = False  # a count shown as 11.7 M on screen (exact with --exact, JSON and CSV)


@dataclass(frozen=True)
class Label:
    """A word where a number would stand ('global' for a receptive field once pooled): shown
    on screen, empty in CSV, whose columns hold numbers only."""

    text: str


@dataclass(frozen=True)
class TreeName:
    """A module's row name: its full name, drawn on screen as its local name under its parent
    (``layer1`` / ``├─0`` / ``│ └─conv1``), as torchinfo and ``tree`` do."""

    name: str  # the full name: "layer1.0.conv1"
    depth: int
    last: tuple[bool, ...]  # for each level down to this row: the last child of its parent?

    def tree(self, ascii_only: bool = False) -> str:
        if self.depth <= 1:
            return self.name
        bar, tee, elbow = ("| ", "|-", "`-") if ascii_only else ("│ ", "├─", "└─")
        prefix = "".join("  " if done else bar for done in self.last[1:-1])
        return prefix + (elbow if self.last[-1] else tee) + self.name.rsplit(".", 1)[-1]


def tree_names(names: list[str]) -> list[TreeName]:
    """Tree cells for rows listed parent before children (a trace's order)."""
    present = set(names)
    children: dict[str, list[str]] = {}
    for name in names:
        parent = name.rsplit(".", 1)[0] if "." in name else ""
        while parent and parent not in present:  # a parent not shown: attach to its own parent
            parent = parent.rsplit(".", 1)[0] if "." in parent else ""
        children.setdefault(parent, []).append(name)
    last = {name: kids[-1] == name for kids in children.values() for name in kids}
    out = []
    for name in names:
        parts = name.split(".")
        chain = [".".join(parts[: i + 1]) for i in range(len(parts))]
        out.append(TreeName(name, len(parts), tuple(last.get(c, True) for c in chain)))
    return out


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    styles: tuple[str, ...] = ()  # one rich style per row ("" for none)
    footer: tuple[str, ...] = ()  # lines under the table
    caption: str = ""  # what the numbers are (units), always shown


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]  # one per category (None: no value there)


@dataclass(frozen=True)
class Chart:
    """A chart as data: what to draw, never how. Renderers that can draw (html) do.

    kind: ``bar`` (series over categories, grouped), ``line`` (series over categories, or
    over numeric ``x``), ``box`` (one sample set per category) or ``scatter`` (labelled
    points; ``ceilings`` are lines y = min(peak, slope * x), a roofline)."""

    title: str
    kind: str
    x_label: str
    y_label: str
    categories: tuple[str, ...] = ()
    series: tuple[Series, ...] = ()
    x: tuple[float, ...] = ()  # numeric x positions for a line chart (instead of categories)
    samples: tuple[tuple[float, ...], ...] = ()  # box: one sample set per category
    points: tuple[tuple[float, float, str], ...] = ()  # scatter: x, y, label
    ceilings: tuple[tuple[str, float, float], ...] = ()  # scatter: label, peak y, bandwidth slope
    log_x: bool = False
    log_y: bool = False
    note: str = ""


@dataclass(frozen=True)
class Report:
    payload: dict[str, Any]  # the JSON document's content: document() adds the envelope
    tables: tuple[Table, ...]
    header: tuple[str, ...] = ()  # lines above the tables
    notes: tuple[str, ...] = field(default_factory=tuple)  # lines below the tables
    charts: tuple[Chart, ...] = ()  # drawn where the format can (html)
    primary: int = 0  # the table a one-table format (csv) writes: the report's data

    def document(self) -> dict[str, Any]:
        """The JSON document, schema version first: the one place it is made, for
        ``--format json`` and the API's ``Result.to_dict()`` alike."""
        return {"schema_version": SCHEMA_VERSION, **self.payload}


def cell_text(value: Any, rich: bool = True, human: bool = False) -> str:
    """One table cell as text: thousands separators (or 11.7 M where ``human``), shapes as
    1x3x224x224, None as '-' (rich) or empty (csv), a tree name drawn (rich) or full."""
    if value is None:
        return "-" if rich else ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, TreeName):
        return printable(value.tree() if rich else value.name)
    if isinstance(value, Label):
        return value.text if rich else ""
    if isinstance(value, int):
        if rich and human:
            return short(value)
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

"""What every renderer shares: the formats, the options of one rendering, and the one shape a
renderer has (pip-audit's ``_format``): a report and options in, text out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from ..report.document import Report


class Format(str, Enum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"
    SVG = "svg"
    HTML = "html"


@dataclass(frozen=True)
class RenderOptions:
    """``width``: a table's width in columns (None: 120, as when piped); ``exact``: counts as
    whole numbers rather than human units (11.7 M); ``ascii_only``: ASCII boxes and glyphs.
    A format reads the options it needs and ignores the others."""

    width: int | None = None
    exact: bool = False
    ascii_only: bool = False


DEFAULT_OPTIONS = RenderOptions()


class Renderer(Protocol):
    """One format. It reads the report's tables or payload and returns the whole text; it
    computes no number and writes no file (files and their names belong to the command line)."""

    def __call__(self, report: Report, options: RenderOptions = DEFAULT_OPTIONS, /) -> str: ...

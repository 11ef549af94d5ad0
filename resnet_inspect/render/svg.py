"""SVG: the terminal table as rendered, for saving; it needs no font from the network."""

from __future__ import annotations

import re

from ..report.document import Report
from .base import DEFAULT_OPTIONS, RenderOptions
from .table import printed


def render_svg(report: Report, options: RenderOptions = DEFAULT_OPTIONS) -> str:
    """The table as :func:`~.table.render_table` prints it, recorded as SVG."""
    return offline_svg(printed(report, options, record=True).export_svg(title="resnet-inspect"))


LOCAL_MONOSPACE = '"DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace'


def offline_svg(svg: str) -> str:
    """rich's SVG loads its font from a CDN: offline, the table's lines came out dashed. Here
    the @font-face rules go and the text uses the monospace fonts the viewer has."""
    svg = re.sub(r"@font-face\s*\{[^}]*\}\s*", "", svg)
    return svg.replace("font-family: Fira Code, monospace", f"font-family: {LOCAL_MONOSPACE}")

"""JSON: the report's payload as it is, with a schema version; stable key order, no timestamps."""

from __future__ import annotations

import json

from ..report.document import SCHEMA_VERSION, Report
from .base import DEFAULT_OPTIONS, RenderOptions

__all__ = ["SCHEMA_VERSION", "render_json"]


def render_json(report: Report, options: RenderOptions = DEFAULT_OPTIONS) -> str:
    """The report's document; no option changes it (json.dumps writes ASCII already)."""
    return json.dumps(report.document(), indent=2, sort_keys=False) + "\n"

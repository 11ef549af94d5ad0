"""JSON: the report's payload as it is, with a schema version; stable key order, no timestamps."""

from __future__ import annotations

import json

from ..report.document import Report
from .base import DEFAULT_OPTIONS, RenderOptions

SCHEMA_VERSION = 1


def render_json(report: Report, options: RenderOptions = DEFAULT_OPTIONS) -> str:
    """The payload; no option changes it (json.dumps writes ASCII already)."""
    payload = {"schema_version": SCHEMA_VERSION, **report.payload}
    return json.dumps(payload, indent=2, sort_keys=False) + "\n"

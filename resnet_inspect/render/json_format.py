"""JSON: the report's payload as it is, with a schema version; stable key order, no timestamps."""

from __future__ import annotations

import json

from ..report.document import Report

SCHEMA_VERSION = 1


def render_json(report: Report) -> str:
    payload = {"schema_version": SCHEMA_VERSION, **report.payload}
    return json.dumps(payload, indent=2, sort_keys=False) + "\n"

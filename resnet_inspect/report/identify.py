"""identify, whatever it was given: a checkpoint's variant, or a model's nearest preset."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .checkpoint import identify_report
from .document import Report
from .structure import structure_report

if TYPE_CHECKING:
    from ..sources import Identified


def identified_report(found: Identified) -> Report:
    if found.checkpoint is not None:
        return identify_report(found.checkpoint)
    assert found.match is not None  # a model's identify always matches some preset
    return structure_report(found.label, found.match, found.notes)

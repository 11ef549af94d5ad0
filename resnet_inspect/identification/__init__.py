"""Which variant a thing is: a checkpoint by its weights (:mod:`.weights`, pure Python, proved
by a strict load in :mod:`.proof`), a module by its structure (:mod:`.structure`, one
meta-device pass).

Sits with tracing and checkpoint: it traces (structure) and reads checkpoints (proof), and
checkpoint's mismatch message asks :func:`looks_like` what a file holds. Only the pure reading
is imported here; the proof and the structure reader load when asked, so importing
``checkpoint`` (which reads ``weights``) closes no cycle.
"""

from __future__ import annotations

from .evidence import Evidence, Identified, IdentifyError
from .weights import identify_shapes, looks_like

__all__ = ["Evidence", "Identified", "IdentifyError", "identify_shapes", "looks_like"]

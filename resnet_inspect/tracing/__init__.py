"""model -> Trace: one pass, frozen records, the cost table, memory and receptive field.

``tracer`` runs the pass, ``recorder`` sees and prices every call, ``costs`` is the one cost
table (with ``shapes``, its closed-form shape rules), ``graph`` the pass's frozen data flow
(what ``memory``, the activation estimates, and identify's structure reader read), ``records``
the frozen result types.

The names below load on first use: ``costs`` is imported by ``--help`` (the FLOPs rules),
which must not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .records import LayerRecord as LayerRecord
    from .records import OperatorTotal as OperatorTotal
    from .records import Totals as Totals
    from .records import Trace as Trace
    from .records import stage_of as stage_of
    from .records import stage_rows as stage_rows
    from .tracer import trace_model as trace_model
    from .tracer import trace_spec as trace_spec

_HOME = {
    "LayerRecord": "records", "OperatorTotal": "records", "Totals": "records", "Trace": "records",
    "stage_of": "records", "stage_rows": "records", "trace_model": "tracer", "trace_spec": "tracer",
}  # fmt: skip
__all__ = ["LayerRecord", "OperatorTotal", "Totals", "Trace", "stage_of", "stage_rows", "trace_model", "trace_spec"]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)

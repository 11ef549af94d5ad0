"""Checkpoint layouts of other libraries, mapped to our model's state-dict names.

One module per layout; each describes itself as a :class:`Layout` (how to tell it from its keys,
how its tensors map to ours) and returns a :class:`Mapped`: the renamed tensors, what the layout
cannot show and is assumed, the spec fields it implies, and the keys left unmapped. torch is
imported lazily.
"""

from __future__ import annotations

from collections.abc import Collection

from . import caffe2, detectron2, quantized
from .base import Layout, Mapped

LAYOUTS: tuple[Layout, ...] = (detectron2.DETECTRON2, caffe2.CAFFE2, quantized.TV_QUANTIZED)


def detect(keys: Collection[str]) -> Layout | None:
    """The one layout whose ``matches`` is true for these keys; None for our own layout."""
    found = [layout for layout in LAYOUTS if layout.matches(keys)]
    return found[0] if len(found) == 1 else None


__all__ = ["LAYOUTS", "Layout", "Mapped", "detect"]

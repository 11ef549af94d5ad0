"""Other ecosystems' checkpoint layouts, mapped to ours: one module per layout.

Each layout is plain data mapping: how to tell it from the others by its keys alone
(``matches``), how its tensors are named (and, for Keras, stored) in our model
(``to_ours``), and back (``from_ours``, for ``convert``). What a layout cannot show (a
stride, the input's colour order) is said in words (``Mapped.assumptions``), and the spec
fields it implies are handed to identify as ``Mapped.spec_hints``.

"Our names" are the state-dict names of the model this tool builds for the identified spec
(torchvision's and timm's layout). torch is imported lazily: the command line's ``--help``
path may import this package.
"""

from __future__ import annotations

from collections.abc import Collection

from . import caffe2, clip, detectron2, hf, keras, mmpretrain, quantized
from .base import Layout, LayoutError, Mapped, Shape, Sidecar, ecosystem_of, unmapped

LAYOUTS: tuple[Layout, ...] = (
    hf.LAYOUT, mmpretrain.LAYOUT, keras.LAYOUT, clip.LAYOUT,
    detectron2.DETECTRON2, caffe2.CAFFE2, quantized.TV_QUANTIZED,
)  # fmt: skip


def detect(keys: Collection[str]) -> Layout | None:
    """The one layout whose signature the keys carry; None for our own (torchvision's, timm's).
    Two layouts that both claim a file are a bug in their signatures, refused loudly."""
    found = [layout for layout in LAYOUTS if layout.matches(keys)]
    if len(found) > 1:
        names = ", ".join(layout.name for layout in found)
        raise LayoutError(f"the keys fit several checkpoint layouts ({names}); cannot tell which")
    return found[0] if found else None


__all__ = [
    "LAYOUTS",
    "Layout",
    "LayoutError",
    "Mapped",
    "Shape",
    "Sidecar",
    "detect",
    "ecosystem_of",
    "unmapped",
]

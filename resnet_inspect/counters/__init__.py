"""Second opinions on the counts: other tools' counters, run on real tensors."""

from __future__ import annotations

from enum import Enum


class Counter(str, Enum):
    """Who counts the flops table (``--counter``): our accounting on the meta device, or fvcore."""

    TORCH = "torch"
    FVCORE = "fvcore"

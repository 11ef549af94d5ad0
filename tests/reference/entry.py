"""One reference entry: which reference model, which spec of ours, what to record."""

from __future__ import annotations

from dataclasses import dataclass

SMALL = (2, 3, 64, 64)


@dataclass(frozen=True)
class Entry:
    """``reference``: ``"torchvision:NAME"`` or ``"timm:NAME"``, optionally with keyword
    arguments as a Python call, ``"torchvision:resnet50(replace_stride_with_dilation=[False,
    True, True])"``: literals, or a name from ARGUMENTS. ``spec``: our spec string for the same
    architecture. The reference string is the entry's id and must be unique."""

    reference: str
    spec: str
    input_shape: tuple[int, int, int, int] = SMALL
    output: bool = True  # False: parameters and state-dict layout only (keeps the suite fast)

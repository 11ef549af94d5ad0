"""What identify produces, and how it reads a state_dict: its error, a field's evidence, the
result, and the reader that looks shapes up (checked, as anything read from a file) and keeps
the evidence. Pure Python, no torch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InspectError
from ..spec import (
    PRESETS,
    Block,
    Layout,
    ResNetSpec,
    format_value,
    preset_name,
    spec_string,
)  # fmt: skip
from ..units import shape_text

Shape = tuple[int, ...]


class IdentifyError(InspectError):
    """The tensors are readable but do not describe a variant this tool can build (exit 1)."""


@dataclass(frozen=True)
class Evidence:
    field: str  # a ResNetSpec field name
    value: str  # as written in a spec string
    because: str  # the key(s) and shape(s) that decided it


@dataclass(frozen=True)
class Identified:
    spec: ResNetSpec
    evidence: tuple[Evidence, ...]
    assumptions: tuple[str, ...]  # what the weights cannot show, and what was assumed

    @property
    def preset(self) -> str | None:
        return preset_name(self.spec)

    @property
    def spec_string(self) -> str:
        return spec_string(self.spec)

    @property
    def twins(self) -> tuple[str, ...]:
        """Other presets these weights load into strictly, differing only in what weights
        cannot show (anti-aliasing, drop path; in the resnetv2 layout also weight
        standardisation, the stem pool and avg_down; a ResNeSt's avd placement): resnetaa50d
        and resnetblur50d for resnet50d."""
        plain, out = _without_unseen(self.spec), []
        own = {"num_classes": self.spec.num_classes, "in_chans": self.spec.in_chans}
        for name, preset in PRESETS.items():
            # a fine-tuned (or no) classifier, another input's channels: the twin is named with them
            adapted = preset.replace(**own)
            if adapted != self.spec and _without_unseen(adapted) == plain:
                changed = [f"{k}={format_value(v)}" for k, v in own.items() if getattr(preset, k) != v]
                out.append(f"{name}:{','.join(changed)}" if changed else name)
        return tuple(out)


def _without_unseen(spec: ResNetSpec) -> ResNetSpec:
    """``spec`` with what weights cannot show set as identify assumes it."""
    unseen: dict[str, object] = {"aa": "none", "drop_path": 0.0}
    if spec.block is Block.RESNEST:
        unseen.update(avd=True, avd_first=False)
    if spec.layout is Layout.RESNETV2:  # and what its layout's weights cannot show
        unseen.update(conv="plain", stem_pool="max", avg_down=False)
    return spec.replace(**unseen)


class _Reader:
    """Looks keys up, and records which ones decided what."""

    def __init__(self, shapes: Mapping[str, Shape]) -> None:
        self.shapes = shapes
        self.evidence: list[Evidence] = []

    def shape(self, key: str, rank: int | None = None) -> Shape:
        """The shape of ``key``, which must have ``rank`` dimensions (any, where None), none of
        them empty: a file may hold anything under a ResNet's key names (a vector where a conv
        belongs)."""
        if key not in self.shapes:
            raise IdentifyError(f"cannot identify: no {key!r} in the checkpoint")
        shape = tuple(self.shapes[key])
        if (rank is not None and len(shape) != rank) or not shape or not all(d >= 1 for d in shape):
            what = {1: "a vector", 2: "a matrix", 3: "a 1-D conv weight", 4: "a conv weight"}.get(
                rank or 0, "a tensor")
            dims = (f"{rank} dimensions, " if rank else "") + "none of them 0"
            raise IdentifyError(f"cannot identify: {key} is {shape_text(shape)}; expected {what} "
                                f"({dims})")  # fmt: skip
        return shape

    def note(self, field: str, value: object, because: str) -> None:
        self.evidence.append(Evidence(field, format_value(value), because))

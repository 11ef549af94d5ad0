"""The types every checkpoint layout shares (re-exported by the package)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...spec import ResNetSpec


@dataclass(frozen=True)
class Mapped:
    tensors: dict[str, Any]  # our model's state-dict names -> tensors
    assumptions: tuple[str, ...]  # what the layout cannot show and is assumed, in words
    spec_hints: dict[str, Any]  # spec fields the layout implies, e.g. {"stride_in": "1x1"}
    unused: tuple[str, ...] = ()  # source keys deliberately not mapped


@dataclass(frozen=True)
class Layout:
    name: str
    ecosystem: str
    matches: Callable[[Collection[str]], bool]  # from the keys alone; cheap
    to_ours: Callable[[Mapping[str, Any]], Mapped]
    from_ours: Callable[[Mapping[str, Any], ResNetSpec], dict[str, Any]] | None
    refuses_conversion: str | None = None  # why convert cannot write this layout

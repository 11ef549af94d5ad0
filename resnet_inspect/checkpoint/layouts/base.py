"""The types every checkpoint layout shares (re-exported by the package: see its doc)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import UsageError

if TYPE_CHECKING:
    from ...spec import ResNetSpec

Shape = tuple[int, ...]


class LayoutError(UsageError):
    """A file that looks like a layout (its signature keys) but holds a key the layout cannot
    map, or a spec that a layout cannot express (exit 2)."""


@dataclass(frozen=True)
class Mapped:
    tensors: dict[str, Any]  # renamed (and transformed) tensors: our model's state-dict names
    assumptions: tuple[str, ...]  # what the layout cannot show and is assumed, in words
    spec_hints: dict[str, Any]  # spec fields the layout implies, e.g. {"stride_in": "1x1"}
    unused: tuple[str, ...] = ()  # source keys deliberately not mapped (a text tower, meta...)


@dataclass(frozen=True)
class Sidecar:
    """What a file beside the checkpoint (Hugging Face's config.json) says: spec fields it
    decides, and notes (its contradictions with the weights, each in one line)."""

    spec_hints: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    read_from: str | None = None  # the sidecar's path, where one was read


@dataclass(frozen=True)
class Layout:
    name: str  # "hf", "mmpretrain", "keras", "clip", ...
    ecosystem: str  # "a Hugging Face transformers ResNetForImageClassification checkpoint"
    matches: Callable[[Collection[str]], bool]  # from the keys alone; cheap
    to_ours: Callable[[Mapping[str, Any]], Mapped]
    from_ours: Callable[[Mapping[str, Any], ResNetSpec], dict[str, Any]] | None
    refuses_conversion: str | None = None  # why convert cannot write this layout
    # reads a file beside the checkpoint (its path given) against the mapped shapes
    sidecar: Callable[[Path, Mapping[str, Shape]], Sidecar] | None = None
    # the ecosystem as it depends on the keys (HF's model class), where it does
    describe: Callable[[Collection[str]], str] | None = None


def unmapped(layout: str, key: str, why: str = "") -> LayoutError:
    """The one line for a key a layout cannot map; ``repr`` keeps a key's escapes harmless."""
    reason = f": {why}" if why else ""
    return LayoutError(f"looks like {layout} checkpoint, but its key {key!r} is not one of that "
                       f"layout's ResNet names{reason}; not mapped")  # fmt: skip


def ecosystem_of(layout: Layout, keys: Collection[str]) -> str:
    return layout.describe(keys) if layout.describe else layout.ecosystem


def require_only(spec: ResNetSpec, varying: Collection[str], layout: str) -> None:
    """Refuse a spec that differs from the default ResNet in a field other than ``varying``:
    ``layout`` has no way to write it (a deep stem, SE, groups...)."""
    from ...spec import ResNetSpec, format_value

    fields = spec.__dataclass_fields__  # a name the spec lacks (a later field) cannot differ
    plain = ResNetSpec().replace(
        **{name: getattr(spec, name) for name in varying if name in fields}
    )
    for name in fields:
        if getattr(spec, name) != getattr(plain, name):
            value = format_value(getattr(spec, name))
            raise LayoutError(f"{layout} cannot hold {name}={value}; it writes only "
                              f"{', '.join(sorted(varying))} of a plain ResNet")  # fmt: skip

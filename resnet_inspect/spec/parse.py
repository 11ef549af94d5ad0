"""Parsing: values, spec strings (``resnet50:groups=32``) and input shapes, to typed fields.

Pure Python; the last link of the spec chain (options -> fields -> rules -> ResNetSpec and the
presets -> parsing), so it reads everything and nothing reads it but the package.
"""

from __future__ import annotations

from typing import Any

from ..errors import SpecError, UsageError
from ..presets import PRESET_FAMILIES, PRESET_FIELDS
from .fields import DEFAULT_ARCH, MAX_INT, normalize_key
from .resnet_spec import (
    FIELD_NAMES,
    PRESETS,
    ResNetSpec,
    check_preset,
    suggest_field,
    with_overrides,
)


def parse_spec_string(text: str) -> tuple[str | None, dict[str, str]]:
    """Split ``"resnet50:groups=32,width_per_group=4"`` into a preset and raw overrides.

    A comma-separated list value continues until the next ``key=``:
    ``"layers=2,2,2,2,block=basic"``. A string with ``=`` but no preset (``"block=basic"``)
    has no preset.
    """
    text = text.strip()
    if not text:
        raise SpecError("empty architecture: give a preset name or key=value overrides")
    head, sep, tail = text.partition(":")
    if sep and not head.strip() and not tail.strip():
        raise SpecError(f"{text!r}: no preset before ':' and no key=value after it")
    if not sep and "=" in head:
        head, tail = "", head
    preset = head.strip() or None
    if preset is not None:
        check_preset(preset)
    return preset, _parse_overrides(tail, text)


def _parse_overrides(tail: str, whole: str) -> dict[str, str]:
    overrides: dict[str, str] = {}
    key: str | None = None
    for token in (t.strip() for t in tail.split(",")):
        if "=" in token:
            raw_key, _, value = token.partition("=")
            key = normalize_key(raw_key)
            if key not in FIELD_NAMES:
                raise SpecError(f"unknown spec key {raw_key.strip()!r} in {whole!r}{suggest_field(key)}")
            if key in overrides:
                raise SpecError(f"spec key {key!r} given twice in {whole!r}")
            overrides[key] = value.strip()
        elif key is not None and token:
            overrides[key] += "," + token
        elif token or tail.strip():
            raise SpecError(f"cannot parse {whole!r}: expected key=value after ':'")
    return overrides


def presets_of_family(family: str | None) -> tuple[str, ...]:
    """The preset names of ``family`` (all of them for None), in table order."""
    if family is None:
        return tuple(PRESET_FIELDS)
    key = normalize_key(family)
    if key not in PRESET_FAMILIES:
        allowed = ", ".join(PRESET_FAMILIES)
        raise UsageError(f"family: {family!r} is not one of {allowed}", subject="family")
    return tuple(PRESET_FAMILIES[key])


def resolve(arch: str | ResNetSpec | None = None, **overrides: Any) -> ResNetSpec:
    """A preset name or spec string (or a spec), plus keyword overrides, to a ResNetSpec.

    With neither an architecture nor overrides the variant is resnet50; with overrides
    only, they apply to the default spec (which is resnet50's).
    """
    if isinstance(arch, ResNetSpec):
        return with_overrides(arch, overrides)
    preset, from_string = parse_spec_string(arch) if arch is not None else (None, {})
    base = PRESETS[preset] if preset else PRESETS[DEFAULT_ARCH]
    merged: dict[str, Any] = dict(from_string)
    merged.update({normalize_key(k): v for k, v in overrides.items() if v is not None})
    return with_overrides(base, merged)


def parse_dims(text: str, flag: str, layout: str, example: str, hint: str = "") -> tuple[int, ...]:
    """``"1x3x224x224"`` to positive ints, as many as ``layout`` ("BxCxHxW") names."""
    parts = text.strip().lower().replace("*", "x").split("x")
    count = len(layout.split("x"))
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if len(dims) != count:
        raise UsageError(
            f"{flag} {text!r}: expected {layout}, {count} positive whole numbers like {example}{hint}"
        )
    if any(d < 1 for d in dims):
        raise UsageError(f"{flag} {text!r}: every dimension must be at least 1")
    if any(d > MAX_INT for d in dims):
        raise UsageError(f"{flag} {text!r}: a dimension is larger than {MAX_INT}")
    return dims


def parse_input_shape(text: str, flag: str = "--input") -> tuple[int, int, int, int]:
    """``"1x3x224x224"`` to a 4-tuple of positive ints."""
    b, c, h, w = parse_dims(text, flag, "BxCxHxW", "1x3x224x224")
    return b, c, h, w

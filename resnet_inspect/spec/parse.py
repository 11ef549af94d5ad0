"""Parsing: values, spec strings (``resnet50:groups=32``) and input shapes, to typed fields.

Pure Python. The package imports this module after it has defined ResNetSpec and its field
tables, which these functions read.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any

from ..errors import SpecError, UsageError
from ..presets import PRESET_FAMILIES, PRESET_FIELDS
from . import (
    _BOOLS,
    _CHOICES,
    _FALSE,
    _FLOATS,
    _INT_TUPLES,
    _INTS,
    _TRUE,
    DEFAULT_ARCH,
    FIELD_NAMES,
    FIELDS,
    MAX_INT,
    ResNetSpec,
    default_widths,
)  # fmt: skip


def _presets() -> Mapping[str, ResNetSpec]:
    from . import PRESETS  # built by the package once this module is imported

    return PRESETS


def normalize_key(key: str) -> str:
    return key.strip().replace("-", "_").lower()


def parse_field(name: str, value: Any) -> Any:
    """Convert a user-supplied value (a string, or already typed) to the field's type."""
    if name not in FIELD_NAMES:
        raise SpecError(f"unknown spec key {name!r}{_suggest_field(name)}")
    if value is None:
        return None
    if name in _CHOICES:
        return _parse_choice(name, value, _CHOICES[name])
    if name in _INTS:
        return _parse_int(name, value)
    if name in _BOOLS:
        return _parse_bool(name, value)
    if name in _FLOATS:
        return _parse_rate(name, value)
    if name in _INT_TUPLES:
        return _parse_tuple(name, value, _parse_int)
    return _parse_tuple(name, value, _parse_bool)


def _parse_choice(name: str, value: Any, enum: type[Enum]) -> Enum:
    if isinstance(value, enum):
        return value
    text = str(value.value if isinstance(value, Enum) else value).strip()
    for member in enum:
        if text.lower() == str(member.value).lower():
            return member
    allowed = ", ".join(str(m.value) for m in enum)
    raise SpecError(f"{name}: {text!r} is not one of {allowed}")


def _parse_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise SpecError(f"{name}: expected a whole number, got {value!r}")
    if isinstance(value, int):
        number = value
    else:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise SpecError(f"{name}: expected a whole number, got {value!r}") from None
    if number < 1:
        raise SpecError(f"{name}: must be at least 1, got {number}")
    if number > MAX_INT:
        raise SpecError(f"{name}: {number} is too large (at most {MAX_INT})")
    return number


def _parse_rate(name: str, value: Any) -> float:
    """A probability in [0, 1)."""
    if isinstance(value, bool):
        raise SpecError(f"{name}: expected a number from 0 to below 1, got {value!r}")
    try:
        number = float(value if isinstance(value, (int, float)) else str(value).strip())
    except ValueError:
        raise SpecError(f"{name}: expected a number from 0 to below 1, got {value!r}") from None
    if not 0.0 <= number < 1.0:  # also refuses nan
        raise SpecError(f"{name}: must be from 0 to below 1, got {value!r}")
    return number


def _parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SpecError(f"{name}: expected true or false, got {value!r}")


def _parse_tuple(name: str, value: Any, item: Any) -> tuple[Any, ...]:
    if isinstance(value, str) and not value.strip() and name == "replace_stride_with_dilation":
        parts: list[Any] = []  # a one-stage network has no stage to dilate
    elif isinstance(value, str):
        # commas or spaces separate ("3,4,6,3", "3 4 6 3", "3, 4"); removing the spaces
        # instead would join the digits ("3 4 6 3" was one stage of 3,463 blocks)
        parts = re.split(r"\s*,\s*|\s+", value.strip())
        if any(p == "" for p in parts):
            raise SpecError(f"{name}: expected values separated by commas or spaces, got {value!r}")
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        raise SpecError(f"{name}: expected comma-separated values, got {value!r}")
    if not parts and name != "replace_stride_with_dilation":
        raise SpecError(f"{name}: needs at least one value")
    return tuple(item(name, p) for p in parts)


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
                raise SpecError(f"unknown spec key {raw_key.strip()!r} in {whole!r}{_suggest_field(key)}")
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


def check_preset(name: str) -> None:
    if name not in _presets():
        raise SpecError(f"unknown architecture {name!r}{_did_you_mean(name, _presets())}")


def _suggest_field(key: str) -> str:
    """'; did you mean X?' for a mistyped field, or for a field's flag name used as a key
    (``dilation`` is the flag of replace_stride_with_dilation)."""
    by_flag = {f.metadata["flag"].split("/")[0].removeprefix("--").replace("-", "_"): f.name for f in FIELDS}
    if key in by_flag:
        return f"; did you mean {by_flag[key]}?"
    return _did_you_mean(key, FIELD_NAMES)


def _did_you_mean(name: str, choices: Any) -> str:
    # Ties go to the earlier choice, so 'resnet5' suggests resnet50, not resnet56.
    # A choice that starts with what was typed is preferred: 'resnext50' -> resnext50_32x4d.
    scored = [
        (difflib.SequenceMatcher(None, name, c).ratio() + 0.5 * c.startswith(name), -i, c)
        for i, c in enumerate(choices)
    ]
    score, _, best = max(scored, default=(0.0, 0, ""))
    return f"; did you mean {best}?" if score >= 0.6 else ""


def with_overrides(base: ResNetSpec, overrides: Mapping[str, Any]) -> ResNetSpec:
    """Apply overrides to a spec. Changing the number of stages re-derives the per-stage
    fields (widths, dilation) unless they are overridden too."""
    values = {normalize_key(k): v for k, v in overrides.items() if v is not None}
    parsed = {k: parse_field(k, v) for k, v in values.items()}
    fields = {f: getattr(base, f) for f in FIELD_NAMES}
    if "layers" in parsed and len(parsed["layers"]) != base.num_stages:
        fields["widths"] = default_widths(len(parsed["layers"]), base.stage_widths[0])
        fields["replace_stride_with_dilation"] = None
    fields.update(parsed)
    return ResNetSpec(**fields)


def resolve(arch: str | ResNetSpec | None = None, **overrides: Any) -> ResNetSpec:
    """A preset name or spec string (or a spec), plus keyword overrides, to a ResNetSpec.

    With neither an architecture nor overrides the variant is resnet50; with overrides
    only, they apply to the default spec (which is resnet50's).
    """
    if isinstance(arch, ResNetSpec):
        return with_overrides(arch, overrides)
    preset, from_string = parse_spec_string(arch) if arch is not None else (None, {})
    base = _presets()[preset] if preset else _presets()[DEFAULT_ARCH]
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

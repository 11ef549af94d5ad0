"""The spec's fields as values: which parser each field takes, the limits, and how a value
is written back as text. Pure Python, below ResNetSpec (which parses its fields with
:func:`parse_value`) and the rules (which quote values with :func:`format_value`).
"""

from __future__ import annotations

import difflib
import re
from enum import Enum
from typing import Any

from ..choices import parse_choice
from ..errors import SpecError
from .options import (
    AntiAlias,
    Attn,
    Block,
    Conv,
    Head,
    Layout,
    Norm,
    SERounding,
    Shortcut,
    Stem,
    StemPool,
    StrideIn,
)

_CHOICES: dict[str, type[Enum]] = {
    "block": Block,
    "stem": Stem,
    "shortcut": Shortcut,
    "stride_in": StrideIn,
    "norm": Norm,
    "attn": Attn,
    "aa": AntiAlias,
    "stem_pool": StemPool,
    "se_rounding": SERounding,
    "layout": Layout,
    "conv": Conv,
    "head": Head,
}
# num_classes=0: no classifier, the pooled features are the output (timm's num_classes=0)
_ZERO_ALLOWED = frozenset({"num_classes"})
_INTS = ("groups", "width_per_group", "stem_width", "num_classes", "in_chans", "se_reduction",
         "reduce_first", "down_kernel", "radix", "scale", "sk_reduction", "sk_divisor", "img_size")  # fmt: skip
_FLOATS = ("drop_path",)
_EPSILONS = ("bn_eps",)
_BOOLS = ("avg_down", "zero_init_residual", "avd", "avd_first", "sk_split", "branch_relu", "preact",
          "conv_bias")  # fmt: skip
_INT_TUPLES = ("layers", "widths", "block_widths")
_BOOL_TUPLES = ("replace_stride_with_dilation",)
MAX_INT = 2**31 - 1  # any larger count overflows torch's tensor sizes
# Blocks in all stages together. The deepest published ResNet, ResNet-1202 (He et al. 2015,
# CIFAR-10), has 600; every block costs ~2 ms to build and trace, so 10,000 is a 20 s run and
# 10**6 never ends. 2,000 leaves room for experiments three times deeper than that.
MAX_BLOCKS = 2000
_TRUE = ("1", "true", "yes", "on", "y", "t")
_FALSE = ("0", "false", "no", "off", "n", "f")


def default_widths(num_stages: int, base: int = 64) -> tuple[int, ...]:
    return tuple(base * 2**i for i in range(num_stages))


DEFAULT_ARCH = "resnet50"


# --- formatting ---------------------------------------------------------------------------
def format_value(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(format_value(v) for v in value)
    return str(value)


def jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def normalize_key(key: str) -> str:
    return key.strip().replace("-", "_").lower()


def parse_value(name: str, value: Any) -> Any:
    """A field's value (a string, or already typed) converted to the field's type; None stays
    None (a field derived later)."""
    if value is None:
        return None
    if name in _CHOICES:
        return parse_choice(_CHOICES[name], value, name)
    if name in _INTS:
        return _parse_int(name, value)
    if name in _BOOLS:
        return _parse_bool(name, value)
    if name in _FLOATS:
        return _parse_rate(name, value)
    if name in _EPSILONS:
        return _parse_epsilon(name, value)
    if name in _INT_TUPLES:
        return _parse_tuple(name, value, _parse_int)
    if name in _BOOL_TUPLES:
        return _parse_tuple(name, value, _parse_bool)
    raise SpecError(f"unknown spec key {name!r}")


def parsed_names() -> tuple[str, ...]:
    """Every field name a parser is declared for (a test holds it equal to ResNetSpec's fields)."""
    return (*_CHOICES, *_INTS, *_FLOATS, *_EPSILONS, *_BOOLS, *_INT_TUPLES, *_BOOL_TUPLES)


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
    least = 0 if name in _ZERO_ALLOWED else 1
    if number < least:
        raise SpecError(f"{name}: must be at least {least}, got {number}")
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


MAX_EPSILON = 0.1  # a norm's eps is added to a variance of about 1: 0.1 already dominates it


def _parse_epsilon(name: str, value: Any) -> float:
    """A small positive number added to a variance: above 0 (a zero variance would divide by
    zero), at most MAX_EPSILON."""
    if isinstance(value, bool):
        raise SpecError(f"{name}: expected a small positive number like 1e-5, got {value!r}")
    try:
        number = float(value if isinstance(value, (int, float)) else str(value).strip())
    except ValueError:
        raise SpecError(f"{name}: expected a small positive number like 1e-5, got {value!r}") from None
    if not 0.0 < number <= MAX_EPSILON:  # also refuses nan and inf
        raise SpecError(f"{name}: must be above 0 and at most {MAX_EPSILON}, got {value!r}")
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


def did_you_mean(name: str, choices: Any) -> str:
    # Ties go to the earlier choice, so 'resnet5' suggests resnet50, not resnet56.
    # A choice that starts with what was typed is preferred: 'resnext50' -> resnext50_32x4d.
    scored = [
        (difflib.SequenceMatcher(None, name, c).ratio() + 0.5 * c.startswith(name), -i, c)
        for i, c in enumerate(choices)
    ]
    score, _, best = max(scored, default=(0.0, 0, ""))
    return f"; did you mean {best}?" if score >= 0.6 else ""



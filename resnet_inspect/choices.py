"""Closed choices, parsed once: the one function the command line and the API both call.

Each choice is a ``str`` Enum in the home of its concept (``Format`` in render, ``DType`` in
units, ``By`` in the flops report, ``Align`` in tracediff, the bench settings in
benchmark/config). An enum with other accepted spellings (``bf16`` for ``bfloat16``) says so in
its ``_missing_``, the hook ``Enum(value)`` already calls, so ``DType("bf16")`` works too.

Pure Python, below everything: no torch, no rich.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from .errors import UsageError

E = TypeVar("E", bound=Enum)


def parse_choice(enum: type[E], value: object, subject: str) -> E:
    """``value`` (a member, or its text in any case, or an alias the enum declares) as a
    member of ``enum``. ``subject`` names what was given: the flag on the command line
    (``--by``), the argument in the API (``by``); the error names it and the allowed values."""
    if isinstance(value, enum):
        return value
    text = value.value if isinstance(value, Enum) else value
    if isinstance(text, str):
        key = text.strip().lower()
        for member in enum:
            if key == str(member.value).lower():
                return member
        try:
            return enum(key)  # the enum's aliases, through its _missing_
        except ValueError:
            pass
    allowed = ", ".join(str(m.value) for m in enum)
    raise UsageError(f"{subject} {text!r}: not one of {allowed}", subject=subject)

"""Units and their text: shapes as 1x3x224x224, human numbers (25.56 M), bytes per dtype.

Below everything that computes or shows a number: pure Python, no torch, no rich.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from enum import Enum


class DType(str, Enum):
    """The element type the memory figures assume (``--dtype``, ``dtype=``)."""

    FLOAT32 = "float32"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    FLOAT64 = "float64"

    @classmethod
    def _missing_(cls, value: object) -> DType | None:
        alias = DTYPE_ALIASES.get(value) if isinstance(value, str) else None
        return cls(alias) if alias else None


DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}
DTYPE_ALIASES = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16",
                 "fp64": "float64", "double": "float64", "float": "float32"}  # fmt: skip


def printable(text: str) -> str:
    """``text`` with every control and other non-printing character (an escape sequence's
    ESC, a carriage return, a bidi override) written as Python writes it in a repr:
    ``\\x1b``, ``\\r``, ``\\u202e``. For anything read from a file on its way to a terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def file_kind(mode: int) -> str:
    """What a file that is not a regular one is, in words: 'a FIFO (named pipe)', 'a
    character device'... (from ``os.stat``'s mode: never opened to find out)."""
    kinds = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))  # fmt: skip
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def human(n: float, unit: str = "") -> str:
    """25557032 -> '25.56 M'; keeps three significant decimals."""
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}{unit}"
    return f"{n:g} {unit}".rstrip()


def human_bytes(n: float) -> str:
    for scale, suffix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}"
    return f"{n:g} B"


def shape_text(shape: Sequence[int] | None) -> str:
    """(1, 3, 224, 224) -> '1x3x224x224'; () -> 'scalar'; None (no value) -> '-'."""
    if shape is None:
        return "-"
    return "x".join(str(d) for d in shape) if len(shape) else "scalar"


def short(n: float) -> str:
    """A count for the eye: three significant digits and a suffix (11.7 M, 1.81 G, 9.41 k, 128)."""
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            value = n / scale
            digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
            return f"{value:.{digits}f} {suffix}"
    return f"{n:g}"

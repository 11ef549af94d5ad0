"""Channel rounding: the one rule every attention width and pruned reading uses.

timm sizes its gates with ``make_divisible``; the SE, selective-kernel and split-attention
widths of the spec, and identify's reading of them, all call this one function.
"""

from __future__ import annotations


def make_divisible(value: float, divisor: int = 8, minimum: int | None = None,
                   round_limit: float = 0.9) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (halves up), at least
    ``minimum`` (default ``divisor``), and raised by one multiple where rounding lost more than
    ``1 - round_limit`` of it (``round_limit=0`` never raises: timm's SE gate)."""
    rounded = max(minimum or divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < round_limit * value else rounded

"""A departure in words (a placeholder: the full reader replaces this module).

The engine asks it to name the departure at the first divergence and every departure it
can read from the operations; where it says nothing, the engine uses words of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class Departure:
    text: str
    where: str
    changes_function: bool


def describe_departure(
    where: str, mine: nn.Module, theirs: nn.Module, args: tuple[torch.Tensor, ...], reference: str
) -> tuple[str, ...]:
    """The departure at ``where`` (the reference's module name), in words; () if none read."""
    return ()


def operation_departures(
    mine: nn.Module, theirs: nn.Module, input_shape: tuple[int, ...], reference: str
) -> tuple[Departure, ...]:
    """Every departure read from the operations the two models run; () if none read."""
    return ()

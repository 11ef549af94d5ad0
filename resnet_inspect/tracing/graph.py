"""The pass's data flow, frozen: a :class:`CallGraph`, handed out by the tracer once the pass ends.

What comes after the pass reads this record, never the recorder: the structure reader (the
residual blocks, from which tensors each call read), the memory estimates (which activations
are alive when) and the receptive field the rows and totals show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .costs import RF
    from .recorder import Recorded

# the tensor ids a module's forward was passed, and the index of the last call made before it
# returned: a forward keeps its arguments referenced until then
Hold = tuple[tuple[int, ...], int]


@dataclass(frozen=True, eq=False)
class CallGraph:
    """Every call of one pass in order, each a frozen :class:`~.recorder.Recorded` (its
    operator and module, its cost, its input and output tensors by id and their shapes), and
    what the pass learned about those tensors, by id."""

    calls: tuple[Recorded, ...]
    input_id: int  # the network's input
    numel: Mapping[int, int]  # elements of every activation (a tensor computed from the input)
    fields: Mapping[int, RF]  # receptive field and jump of every activation
    holds: tuple[Hold, ...]
    assumed_global: tuple[str, ...]  # operators after which the field was assumed global

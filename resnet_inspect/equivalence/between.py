"""Do two models, neither of them a preset, compute the same function? diff's proof: the
same steps as :func:`.proof.prove` (align, copy, compare, localise, words) with A as the
reference and B as "mine", whatever either is.

Weights: where neither side has a checkpoint, B's tensors are drawn again (seeded) and copied
into A; where one side has one, that side is loaded and copied into the other; where both
have one, nothing is drawn or copied: the proof then holds for those two sets of weights. A
tensor only the destination has keeps a draw of its own, so that it shows.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..units import human_bytes, shape_text
from .align import Alignment
from .compare import (
    COMPARE_BUDGET_BYTES,
    DEFAULT_INPUTS,
    bytes_needed,
    compare_outputs,
    random_inputs,
)
from .localise import localise
from .proof import SEED, Proof, _words
from .transfer import randomise, transfer

if TYPE_CHECKING:
    from torch import nn


def too_large(
    params: int, input_shape: tuple[int, ...], budget_bytes: int = COMPARE_BUDGET_BYTES
) -> str | None:
    """Why two models of at most ``params`` parameters are not compared on the CPU at
    ``input_shape`` (None: they fit; see :func:`.compare.bytes_needed`)."""
    needed = bytes_needed(params, input_shape)
    if needed <= budget_bytes:
        return None
    return (f"a comparison on the CPU at {shape_text(input_shape)} would need about {human_bytes(needed)}, "
            f"more than the {human_bytes(budget_bytes)} allowed; try a smaller input shape")  # fmt: skip


def align_small(
    a: nn.Module, b: nn.Module, shape_a: tuple[int, ...], shape_b: tuple[int, ...]
) -> Alignment:
    """The alignment at most 64x64 (the calls do not depend on the input's size; a fifth of
    the time at 224x224), again at the full size where that does not align: a smaller pass
    never makes the verdict."""
    from .align import align

    def small(shape: tuple[int, ...]) -> tuple[int, ...]:
        return (1, shape[1], *(min(side, 64) for side in shape[2:])) if len(shape) == 4 else shape

    alignment = align(a, b, small(shape_a), b_shape=small(shape_b))
    if alignment.aligned or (small(shape_a), small(shape_b)) == (shape_a, shape_b):
        return alignment
    return align(a, b, shape_a, b_shape=shape_b)


def prove_between(
    alignment: Alignment, a: nn.Module, b: nn.Module, input_shape: tuple[int, ...], *,
    reference: str = "A", weights: tuple[str | None, str | None] = (None, None),
    inputs: int = DEFAULT_INPUTS, seed: int = SEED,
) -> Proof:  # fmt: skip
    """Compare B with A on ``inputs`` random inputs of ``input_shape``. ``a``, ``b``: both
    built on the CPU, ``weights`` (a path each, or None) already loaded; ``alignment``:
    theirs; ``reference``: how A is named in the words. The tensors are drawn and copied as
    the module's docstring says (in place: ``a`` and ``b`` are changed)."""
    base = Proof(reference, tuple(input_shape), alignment, weights=weights[1] or weights[0])
    if alignment.unaligned is not None:
        return dataclasses.replace(base, not_compared=f"their parametrised layers do not align: "
                                   f"{alignment.unaligned.reason}")  # fmt: skip
    import torch

    try:
        a, b = a.eval(), b.eval()
        _set_weights(alignment, a, b, weights, seed)
        xs = random_inputs(input_shape, inputs, seed)
        comparison = compare_outputs(b, a, xs, seed)
        result = dataclasses.replace(base, comparison=comparison)
        if comparison.equal:
            return result
        with torch.no_grad():
            loc, seen = localise(alignment, a, b, xs[0], comparison.tolerance)
            said = _words(loc, alignment, b, a, seen, result)
    except Exception as exc:  # a forward on real tensors: say so, do not crash diff
        return dataclasses.replace(base, not_compared=f"the forward on the CPU raised {type(exc).__name__}: "
                                   + (str(exc).splitlines() or [""])[0][:200])  # fmt: skip
    return dataclasses.replace(result, localisation=loc, departure=said)


def _set_weights(
    alignment: Alignment,
    a: nn.Module,
    b: nn.Module,
    weights: tuple[str | None, str | None],
    seed: int,
) -> None:
    """Draw and copy as the module's docstring says."""
    loaded_a, loaded_b = (w is not None for w in weights)
    if loaded_a and loaded_b:
        return
    if loaded_a:
        randomise(b, seed + 1, skip=transfer(alignment, a, b, source_is_b=False))
        return
    if not loaded_b:
        randomise(b, seed)
    randomise(a, seed + 1, skip=transfer(alignment, b, a))

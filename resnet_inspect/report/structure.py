"""identify on a module: the verdict, each departure with what it does to the function, and
the comparison that the verdict rests on, as a table and JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..units import shape_text
from .document import Column, Report, Table

if TYPE_CHECKING:
    from ..identification.function import ModuleMatch


def structure_report(arch: str, match: ModuleMatch, warnings: tuple[str, ...] = ()) -> Report:
    marked = match.marked
    rows = tuple((i, m.text, m.effect.value + ("; the outputs part here" if m.divergence else ""))
                 for i, m in enumerate(marked, start=1))  # fmt: skip
    table = Table(
        title="Departures",
        columns=(Column("#"), Column(f"Departure from {match.preset}", "left"), Column("Effect", "left")),
        rows=rows,
        caption="Structure read from the model's forward pass on the meta device (convolutions, "
        "strides, pools, shortcuts, head), not names; the function compared on the CPU with the "
        "same weights in both models.",
        footer=(f"Blocks per stage: {list(match.layers)}, {match.convs_per_block} convolutions "
                f"per block; input {shape_text(match.input_shape)}",
                _compared(match), *(f"note: {n}" for n in match.proof.notes),
                *(f"warning: {w}" for w in warnings)),
    )  # fmt: skip
    payload = {
        "command": "identify", "arch": arch, "preset": match.preset, "exact": match.exact,
        "verdict": match.verdict, "departures": list(match.departures),
        "layers": list(match.layers), "convs_per_block": match.convs_per_block,
        "input_shape": list(match.input_shape), "warnings": list(warnings), **match.to_dict(),
    }  # fmt: skip
    # the verdict is a header line, not the table's title: a title wraps at the table's width
    return Report(payload=payload, tables=(table,), header=(f"{arch}: {match.verdict}",))


def _compared(match: ModuleMatch) -> str:
    """What the function's verdict rests on, in one line."""
    proof, c = match.proof, match.proof.comparison
    if c is None:
        return f"Function not compared with {proof.reference}: {proof.not_compared}"
    weights = f"the weights of {proof.weights}" if proof.weights else f"weights drawn with seed {c.seed}"
    return (f"Compared with {proof.reference} on {c.inputs} random {shape_text(c.input_shape)} "
            f"inputs, {c.dtype_text}, {weights}, eval mode: relative L2 at most {c.largest_difference:.2g} "
            f"(equal up to {c.tolerance:g})")  # fmt: skip

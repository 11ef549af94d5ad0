"""identify on a module: the nearest preset and each departure from it, as a table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..units import shape_text
from .document import Column, Report, Table

if TYPE_CHECKING:
    from ..identification.structure import StructureMatch


def structure_report(arch: str, match: StructureMatch, warnings: tuple[str, ...] = ()) -> Report:
    rows = tuple((i, text) for i, text in enumerate(match.departures, start=1))
    table = Table(
        title="Departures",
        columns=(Column("#"), Column(f"Departure from {match.preset}", "left")),
        rows=rows,
        caption="Read from the model's forward pass on the meta device: convolutions, strides, "
        "pools, shortcuts and the head, not names or weights.",
        footer=(f"Blocks per stage: {list(match.layers)}, {match.convs_per_block} convolutions "
                f"per block; input {shape_text(match.input_shape)}",
                *(f"warning: {w}" for w in warnings)),
    )
    payload = {
        "command": "identify", "arch": arch, "preset": match.preset, "exact": match.exact,
        "verdict": match.verdict, "departures": list(match.departures),
        "layers": list(match.layers), "convs_per_block": match.convs_per_block,
        "input_shape": list(match.input_shape), "warnings": list(warnings),
    }  # fmt: skip
    # the verdict is a header line, not the table's title: a title wraps at the table's width
    return Report(payload=payload, tables=(table,), header=(f"{arch}: {match.verdict}",))

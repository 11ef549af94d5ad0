"""convert: what was read, what was written where, and what proves it, as a table and JSON.

Arrangement only: every fact here was established in conversion.py.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..spec import preset_name, spec_string
from ..units import printable
from .checkpoint import checkpoint_json, checkpoint_line, mapping_line
from .document import Column, Report, Table

if TYPE_CHECKING:
    from ..conversion import Conversion


def convert_report(c: Conversion) -> Report:
    name = preset_name(c.spec) or spec_string(c.spec)
    where = repr(str(c.output)) if c.output is not None else "nothing written (kept in memory)"
    rows: tuple[tuple[str, str], ...] = (
        ("Variant", spec_string(c.spec)),
        ("From", f"{c.source_layout} layout"),
        ("To", f"{c.target.value} layout"),
        ("Written", where),
        ("Format", c.file_format or "-"),
        ("Tensors", f"{len(c.tensors):,}"),
    )
    if c.config is not None:
        said = "written (transformers' ResNetConfig)"
        if c.config_kept:
            said = "kept: the same content was there"
        rows += (("Config", f"{str(c.config)!r} {said}"),)
    if c.filled:
        rows += (("Filled", f"{len(c.filled):,} num_batches_tracked the source lacks, as 0"),)
    table = Table(title=f"Converted: {name}, {c.source_layout} -> {c.target.value}",
                  columns=(Column("What", "left"), Column("Value", "left")), rows=rows,
                  footer=(c.proof.line(),))  # fmt: skip
    notes = tuple(f"Input the converted weights still expect (the source's): {printable(a)}"
                  for a in c.expects)  # fmt: skip
    notes += tuple(f"Note: {n}" for n in c.notes)
    if c.source.assumptions:
        notes += (
            "The source layout assumed: " + "; ".join(map(printable, c.source.assumptions)) + ".",
        )
    mapped = mapping_line(c.source)
    header = (f"Checkpoint: {checkpoint_line(c.source)}", *((mapped,) if mapped else ()))
    return Report(payload=_payload(c), tables=(table,), header=header, notes=notes)


def _payload(c: Conversion) -> dict[str, object]:
    return {
        "command": "convert",
        "source": checkpoint_json(c.source),
        "preset": preset_name(c.spec),
        "spec_string": spec_string(c.spec),
        "from_layout": c.source_layout,
        "to": c.target.value,
        "output": str(c.output) if c.output is not None else None,
        "file_format": c.file_format,
        "config": str(c.config) if c.config is not None else None,
        "config_kept": c.config_kept,
        "tensors": len(c.tensors),
        "filled": list(c.filled),
        "proof": {**dataclasses.asdict(c.proof), "differing": list(c.proof.differing)},
        "proved": c.proof.proved,
        "expects": list(c.expects),
        "assumptions": list(c.source.assumptions),
        "notes": list(c.notes),
    }

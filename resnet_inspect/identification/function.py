"""identify of a module, whole: the nearest preset by structure (:mod:`.structure`) and the
proof of whether it computes that preset's function (:mod:`resnet_inspect.equivalence`).

The verdict says what it rests on. "matches X exactly" only where the outputs were compared
and agree and no departure remains; a structural departure is marked as keeping the function
(the outputs agreed with it there), as changing it (it names the block where the outputs part,
or it is the departure found there), or as structure alone where the comparison cannot tell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..equivalence.proof import Proof
    from ..equivalence.words import Departure
    from .structure import StructureMatch


class Effect(str, Enum):
    """What a departure does to the function, as far as the comparison can tell."""

    CHANGES = "changes the function"
    KEEPS = "keeps the function"
    STRUCTURE = "structure"  # not told apart by the comparison: the function was not compared, or differs elsewhere


@dataclass(frozen=True)
class Marked:
    text: str
    effect: Effect
    where: str = ""


@dataclass(frozen=True, eq=False)
class ModuleMatch:
    """The structure (against the nearest preset, or the one asked for) and the proof."""

    structure: StructureMatch
    proof: Proof
    operations: tuple[Departure, ...] = ()  # read from the operations (words.operation_departures)

    @property
    def preset(self) -> str:
        return self.structure.preset

    @property
    def layers(self) -> tuple[int, ...]:
        return self.structure.layers

    @property
    def convs_per_block(self) -> int:
        return self.structure.convs_per_block

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.structure.input_shape

    @property
    def marked(self) -> tuple[Marked, ...]:
        """Every departure: the structure's, those read from the operations, and the one at
        the first divergence (where the words reader did not already name it)."""
        equal, compared = self.proof.equal, self.proof.comparison is not None
        out = [Marked(text, self._effect(text)) for text in self.structure.departures]
        seen = set(self.structure.departures)
        for d in self.operations:
            if d.text not in seen:
                out.append(
                    Marked(d.text, Effect.CHANGES if d.changes_function else Effect.KEEPS, d.where)
                )
                seen.add(d.text)
        if compared and not equal:
            where = self.proof.divergence or ""
            out += [Marked(t, Effect.CHANGES, where) for t in self.proof.departure if t not in seen]
        return tuple(out)

    def _effect(self, text: str) -> Effect:
        """A structural departure keeps the function where the outputs agreed with it; it
        changes it where it names the block (reference names, as the divergence) where the
        two part; else the comparison cannot tell it apart."""
        if self.proof.equal:
            return Effect.KEEPS
        where = self.proof.divergence
        if where and where.startswith("layer"):
            parts = where.split(".")
            places = {".".join(parts[:2]), parts[0]}  # the block, or its whole stage
            if "every block" in text or any(
                re.search(rf"(^|[ ,]){re.escape(p)}([ ,:]|$)", text) for p in places
            ):
                return Effect.CHANGES
        return Effect.STRUCTURE

    @property
    def departures(self) -> tuple[str, ...]:
        return tuple(m.text for m in self.marked)

    @property
    def exact(self) -> bool:
        """Proved: the outputs agree, and no departure remains."""
        return self.proof.equal and not self.marked

    @property
    def verdict(self) -> str:
        p, proof, n = self.preset, self.proof, len(self.marked)
        departures = f"{n} departure{'s' if n != 1 else ''}"
        c = proof.comparison
        if c is None:
            head = f"nearest preset: {p}, with {departures}" if n else f"same structure as {p}"
            return f"{head}; function not compared: {proof.not_compared}"
        said = (f"outputs {'equal' if c.equal else 'differ'} on {c.inputs} random input{'s' if c.inputs != 1 else ''} "
                f"(largest relative difference {_number(c.largest_difference)}, {c.dtype})")  # fmt: skip
        if c.equal:
            if not n:
                return f"matches {p} exactly: computes the same function as {p}, {said}"
            return f"computes the same function as {proof.reference}: {said}; {departures} that keep it"
        where = proof.divergence
        part = f"from {where} on" if where else "at its output"
        if where == "":
            part = "in the model's own forward"
        if not self.structure.departures:
            return f"same layers as {p} but a different function {part}: {said}"
        k = len(self.structure.departures)
        return f"nearest preset: {p}, with {k} structural departure{'s' if k != 1 else ''}; a different function {part}: {said}"

    def to_dict(self) -> dict[str, Any]:
        return {"departures_marked": [{"text": m.text, "effect": m.effect.value, "where": m.where} for m in self.marked],
                "function": self.proof.to_dict()}  # fmt: skip


def _number(x: float) -> str:
    """2e-07, 0.31, inf: two significant digits."""
    return f"{x:.2g}"

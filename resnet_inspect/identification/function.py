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
    from ..equivalence.align import Alignment, Call
    from ..equivalence.parting import Parting
    from ..equivalence.proof import Proof
    from ..equivalence.words import Departure
    from .structure import StructureMatch


class Effect(str, Enum):
    """What a departure does to the function, as far as the comparison can tell."""

    CHANGES = "changes the function"
    KEEPS = "keeps the function"
    STRUCTURE = "structure"  # not told apart by the comparison: the function was not compared, or differs elsewhere
    # a departure from the preset that the reference compared was built with (num_classes)
    IN_REFERENCE = "in the reference compared"


@dataclass(frozen=True)
class Marked:
    """One departure, said once: ``text`` names its place(s); ``places`` are the user's
    module names ("" the model's own forward; none where only the structure knows it);
    ``divergence``: the outputs first part here."""

    text: str
    effect: Effect
    places: tuple[str, ...] = ()
    divergence: bool = False

    @property
    def where(self) -> str:
        return _listed(self.places) if self.places else ""


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
        """Every departure once, at its place, marked (see :func:`combine`)."""
        return combine(self.structure.departures, self.operations, self.proof, sum(self.layers))

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
            first = next((m for m in self.marked if m.divergence), None)
            if first is not None and first.places:  # unaligned: a structural fact decides it
                parting = _parting(proof)
                place = parting.departure.where if parting is not None else first.places[0]
                return (f"{head}; a different function from {place or 'its own forward'} on (no "
                        f"functional comparison: the layers do not align; this rests on {_unaligned_basis(proof)})")  # fmt: skip
            return f"{head}; function not compared: {proof.not_compared}"
        said = (f"outputs {'equal' if c.equal else 'differ'} on {c.inputs} random input{'s' if c.inputs != 1 else ''} "
                f"(largest relative difference {_number(c.largest_difference)}, {c.dtype_text})")  # fmt: skip
        if c.equal:
            if not n:
                return f"computes the same function as {proof.reference}: {said}; matches {p} exactly, no departure"
            n = sum(m.effect is not Effect.IN_REFERENCE for m in self.marked)
            if not n:  # the reference compared was built with the only departures (its head)
                return (f"computes the same function as {proof.reference}: {said}; matches it exactly, "
                        f"no departure but what it was built with")  # fmt: skip
            departures = f"{n} departure{'s' if n != 1 else ''}"
            keep = "keeps" if n == 1 else "keep"
            return f"computes the same function as {proof.reference}: {said}; {departures} that {keep} it"
        where = proof.divergence
        part = f"from {where} on" if where else "at its output"
        loc = proof.localisation
        user = loc.divergence.user_module if loc is not None and loc.divergence is not None else None
        if where and user and user != where:  # the user's name first: the departures use it
            part = f"from {user} on ({proof.reference}'s {where})"
        if where == "":
            first = next((m for m in self.marked if m.divergence), None)
            place = first.places[0] if first is not None and len(first.places) == 1 else ""
            part = f"from {place} on" if place else "in the model's own forward"
        if not self.structure.departures:
            return f"same layers as {p} but a different function {part}: {said}"
        return f"nearest preset: {p}, with {departures}; a different function {part}: {said}"

    def to_dict(self) -> dict[str, Any]:
        return {"departures_marked": [{"text": m.text, "effect": m.effect.value, "where": m.where,
                                       "places": list(m.places), "divergence": m.divergence}
                                      for m in self.marked],
                "function": self.proof.to_dict()}  # fmt: skip


def _number(x: float) -> str:
    """2e-07, 0.31, inf: two significant digits."""
    return f"{x:.2g}"


# --- one fact, said once --------------------------------------------------------------------
# The words reader's departure replaces the structure's on the same topic: it is read from
# the operations compared, at the user's module, and marked. The head is the exception: the
# structure's line shows the whole head (the Linear's size too) and takes the words' places
# and mark.
_STRUCTURE_SAYS = frozenset({"head"})


def combine(
    structural: tuple[str, ...], operations: tuple[Departure, ...], proof: Proof, blocks: int
) -> tuple[Marked, ...]:
    """The structural departures, the operation departures (``words``) and the departure at
    the first divergence, as one list: one text at several places is one entry; a structural
    departure on a topic the words also name gives way to them (the head: the other way
    round); the divergence marks the entry at its place, and only where none is there are
    the localiser's words an entry of their own. Marks: where the outputs were compared and
    agree, every departure keeps the function; else the words' own mark, and a structural
    departure changes it where it names the block where the outputs part (reference names),
    else it is "structure"."""
    from .structure import topic

    groups: dict[tuple[str, bool, str], list[str]] = {}
    for d in operations:
        places = groups.setdefault((d.text, d.changes_function, d.topic), [])
        if d.where not in places:
            places.append(d.where)
    topics = {t for _, _, t in groups if t}
    kept = [t for t in structural if topic(t) not in topics or topic(t) in _STRUCTURE_SAYS]
    by_structure = {topic(t) for t in kept} & _STRUCTURE_SAYS
    out = [Marked(t, _structural_effect(t, proof)) for t in kept if topic(t) not in by_structure]
    absorbed: list[Departure] = []
    for (text, changes, about), places in groups.items():
        if about in by_structure:
            absorbed += [d for d in operations if d.text == text]
            continue
        prefix = _places_text(places, blocks)
        effect = Effect.CHANGES if changes else Effect.KEEPS
        out.append(Marked(f"{prefix}: {text}" if prefix else text, effect, tuple(places)))
    for t in kept:
        if topic(t) in by_structure:
            effect = _structural_effect(t, proof)
            if absorbed and not proof.equal:
                changes = any(d.changes_function for d in absorbed)
                effect = Effect.CHANGES if changes else Effect.KEEPS
            out.append(Marked(t, effect, tuple(dict.fromkeys(d.where for d in absorbed))))
    built = _built_with(proof)
    out = [Marked(m.text, Effect.IN_REFERENCE, m.places) if topic(m.text) in built else m for m in out]
    if proof.equal:
        return tuple(m if m.effect is Effect.IN_REFERENCE else Marked(m.text, Effect.KEEPS, m.places)
                     for m in out)  # fmt: skip
    if proof.comparison is None:
        return _at_parting(out, proof)
    return _at_divergence(out, proof)


def _built_with(proof: Proof) -> frozenset[str]:
    """The departure topics the reference compared was built with (proof.py adapts its
    num_classes to the model's last Linear, or to none): the comparison holds them equal by
    construction, so they neither keep nor change the function it speaks of."""
    adapted = any(n.startswith("reference built with num_classes") for n in proof.notes)
    return frozenset({"head"}) if adapted else frozenset()


def _parting(proof: Proof) -> Parting | None:
    from ..equivalence.parting import parting_departure

    alignment = proof.alignment
    return parting_departure(alignment, proof.reference) if alignment is not None else None


def _at_parting(out: list[Marked], proof: Proof) -> tuple[Marked, ...]:
    """Where the layers do not align (no outputs compared): a parametrised layer on one side
    only (:func:`..equivalence.parting.parting_departure`) changes the function at its place,
    marked there (the entry that names it, else an entry of its own); without one, where both
    make the same layers in another order, the first departure in the order the user's model
    runs that the operations read as changing it (else nothing is claimed).
    A norm that may be folded into a conv's bias is said, marked as structure alone."""
    alignment = proof.alignment
    if alignment is None or alignment.unaligned is None:
        return tuple(out)
    parting = _parting(proof)
    if parting is not None:
        d = parting.departure
        text = f"{d.where}: {d.text}" if d.where else d.text
        if not d.changes_function:
            return (*out, Marked(text, Effect.STRUCTURE, (d.where,)))
        at = [k for k, m in enumerate(out) if m.effect is Effect.CHANGES and d.where in m.places]
        if not at:
            return (*out, Marked(text, Effect.CHANGES, (d.where,), divergence=True))
        return _mark(out, at[0])
    if not _same_layers(alignment):  # more or fewer layers: the words' pairing is not sure
        return tuple(out)
    order = {c.name: k for k, c in reversed(list(enumerate(alignment.b_calls)))}

    def first_run(m: Marked) -> int:
        inside = [k for name, k in order.items() for p in m.places if _within(name, p)]
        return min(inside, default=len(order))

    changing = [k for k, m in enumerate(out) if m.effect is Effect.CHANGES and any(m.places)]
    return _mark(out, min(changing, key=lambda k: first_run(out[k]))) if changing else tuple(out)


def _same_layers(alignment: Alignment) -> bool:
    """Both sides make the same parametrised calls, kind and weight shape, in another order
    (a BatchNorm moved after the sum): the blocks, and so the words' pairing of them, agree."""
    from collections import Counter

    def layers(calls: tuple[Call, ...]) -> Counter[tuple[str, Any]]:
        return Counter((c.kind, c.weight or c.tensors) for c in calls)

    return layers(alignment.a_calls) == layers(alignment.b_calls)


def _within(name: str, place: str) -> bool:
    return bool(place) and (name == place or name.startswith(place + "."))


def _mark(out: list[Marked], k: int) -> tuple[Marked, ...]:
    m = out[k]
    return (*out[:k], Marked(m.text, m.effect, m.places, divergence=True), *out[k + 1 :])


def _unaligned_basis(proof: Proof) -> str:
    """What "a different function" rests on where no outputs were compared."""
    parting = _parting(proof)
    if parting is not None and parting.departure.changes_function:
        return parting.basis
    return "the operations its forward runs, read from the data flow (the departure marked)"


def _structural_effect(text: str, proof: Proof) -> Effect:
    """A structural departure keeps the function where the outputs agreed with it; it
    changes it where it names the block (reference names, as the divergence) where the two
    part; else the comparison cannot tell it apart."""
    if proof.equal:
        return Effect.KEEPS
    where = proof.divergence
    if where and where.startswith("layer"):
        parts = where.split(".")
        places = {".".join(parts[:2]), parts[0]}  # the block, or its whole stage
        if "every block" in text or any(
            re.search(rf"(^|[ ,]){re.escape(p)}([ ,:]|$)", text) for p in places
        ):
            return Effect.CHANGES
    return Effect.STRUCTURE


def _at_divergence(out: list[Marked], proof: Proof) -> tuple[Marked, ...]:
    """The first entry that changes the function at the module where the outputs part (or
    at a module around it, or in it) is marked so; where there is none, the localiser's
    words are an entry of their own."""
    loc = proof.localisation
    div = loc.divergence if loc is not None else None
    if proof.comparison is None or (div is None and not proof.departure):
        return tuple(out)
    user = div.user_module if div is not None else ""

    def here(m: Marked) -> bool:
        if m.effect is not Effect.CHANGES:
            return False
        if not m.places:  # the structure's: its mark already names the block where they part
            return div is not None and div.module.startswith("layer")
        return any(p == user or (p and user.startswith(p + ".")) or (user and p.startswith(user + "."))
                   for p in m.places)  # fmt: skip

    said = {t.split(": ", 1)[-1] for t in proof.departure}
    found = next((i for i, m in enumerate(out) if m.text.split(": ", 1)[-1] in said), None)
    if found is None:
        found = next((i for i, m in enumerate(out) if m.places and here(m)), None)
    if found is None:
        found = next((i for i, m in enumerate(out) if here(m)), None)
    if found is not None:
        m = out[found]
        out[found] = Marked(m.text, m.effect, m.places, divergence=True)
        return tuple(out)
    return (*out, *(Marked(t, Effect.CHANGES, (user,), divergence=True) for t in proof.departure))


def _places_text(places: list[str], blocks: int) -> str:
    """``layer2.0, layer3.0 and layer4.0``; as many places as the structure found residual
    blocks: ``every block (layer1.0 ... layer4.2)``."""
    if len(places) > 1 and len(places) == blocks and all(places):
        return f"every block ({places[0]} ... {places[-1]})"
    return _listed(places)


def _listed(names: list[str] | tuple[str, ...], most: int = 4) -> str:
    shown = [n for n in names if n]
    if len(shown) > most:
        shown = [*shown[:most], f"{len(shown) - most} more"]
    return ", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else "".join(shown)

"""Does the user's model compute the same function as a reference variant? The whole proof:
align (:mod:`.align`), copy the tensors (:mod:`.transfer`), compare the outputs
(:mod:`.compare`) and, where they differ, find where (:mod:`.localise`) and say it in words
(:mod:`.words`). Everything runs on the CPU, in eval mode, seeded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..spec import ResNetSpec, spec_string
from ..units import human_bytes, shape_text
from . import words
from .align import Alignment, Call, align_calls, calls_and_output, calls_of, parametrised
from .compare import (
    COMPARE_BUDGET_BYTES,
    DEFAULT_INPUTS,
    OutputComparison,
    bytes_needed,
    compare_outputs,
    random_inputs,
)
from .localise import Localisation, localise
from .transfer import empty_copy, materialise, randomise, transfer, versions

if TYPE_CHECKING:
    from torch import nn

SEED = 0


@dataclass(frozen=True, eq=False)
class Proof:
    """The functional comparison of the user's model with ``reference``. ``comparison`` is
    None where the outputs were not compared, and ``not_compared`` then says why."""

    reference: str  # the variant compared with, as a spec string
    input_shape: tuple[int, ...]
    alignment: Alignment | None
    comparison: OutputComparison | None = None
    localisation: Localisation | None = None
    not_compared: str | None = None
    departure: tuple[str, ...] = ()  # the departure at the divergence, in words
    weights: str | None = None  # the user's checkpoint, loaded before the comparison
    notes: tuple[str, ...] = ()  # how the reference was adapted (num_classes, in_chans)

    @property
    def equal(self) -> bool:
        return self.comparison is not None and self.comparison.equal

    @property
    def divergence(self) -> str | None:
        """The reference's module where the two part (None: they do not, or not compared)."""
        if self.localisation is None or self.localisation.divergence is None:
            return None
        return self.localisation.divergence.module

    def to_dict(self) -> dict[str, Any]:
        loc = self.localisation
        return {
            "reference": self.reference, "compared": self.comparison is not None,
            "not_compared": self.not_compared, "weights": self.weights,
            **(self.comparison.to_dict() if self.comparison else {}),
            "first_divergence": self.divergence, "departure": list(self.departure),
            "first_propagated": (loc.first_propagated.module if loc and loc.first_propagated else None),
            "modules": [e.to_dict() for e in loc.errors] if loc else [],
            "unaligned": self.alignment.unaligned.reason if self.alignment and self.alignment.unaligned else None,
            "notes": list(self.notes),
        }  # fmt: skip


def prove(
    mine_meta: nn.Module, build_mine: Callable[[], nn.Module], reference: ResNetSpec,
    input_shape: tuple[int, ...], *, weights: str | None = None, inputs: int = DEFAULT_INPUTS,
    seed: int = SEED, budget_bytes: int = COMPARE_BUDGET_BYTES, reference_model: nn.Module | None = None,
) -> Proof:  # fmt: skip
    """Compare the user's model (``mine_meta``: as built already, on meta or anywhere, for
    its size; ``build_mine``: builds it on the CPU, ``weights`` already loaded) with the
    variant ``reference`` on ``inputs`` random inputs of ``input_shape`` (``reference_model``:
    that variant with the input's channels, built on meta already; the proof takes it over
    and gives it tensors, and builds any other it needs). Where ``mine_meta``
    is on meta and every tensor of it is drawn or loaded next, its copy is used instead of a
    CPU build (see :func:`.transfer.empty_copy`); ``build_mine`` where the forward of that
    copy raises (a meta tensor the model keeps as a plain attribute), so that the answer is
    the CPU build's.

    The user's calls are read on the first comparison input, on the CPU (that pass's output
    is the first one compared); the reference's by a pass on the meta device (see
    :func:`_aligned`)."""
    spec, notes = with_channels(reference, input_shape)
    base = Proof(spec_string(spec), tuple(input_shape), None, weights=weights, notes=notes)
    params = sum(p.numel() for p in mine_meta.parameters())
    needed = bytes_needed(params, input_shape)
    if needed > budget_bytes:
        return dataclasses.replace(base, not_compared=(
            f"a comparison on the CPU at {shape_text(input_shape)} would need about {human_bytes(needed)}, "
            f"more than the {human_bytes(budget_bytes)} allowed; try a smaller input shape"))  # fmt: skip
    import torch

    shares: tuple[bool, ...] = (True, False)
    trained = weights is not None
    built: list[nn.Module] = []  # the reference built already, taken once (see _reference)
    if reference_model is not None and getattr(reference_model, "spec", None) == spec:
        built.append(reference_model)
    emptied = _emptied(mine_meta, weights)
    if emptied is not None:
        try:
            return _run(base, spec, emptied.eval(), trained, inputs, seed, share=True, built=built)
        except _Changed:
            shares = (False,)
        except Exception:  # a meta tensor kept outside its parameters and buffers: built again
            pass
    for share in shares:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            mine = build_mine().eval()
        try:
            return _run(base, spec, mine, trained, inputs, seed, share=share, built=built)
        except _Changed:  # its forward changes its own tensors: the reference gets copies
            continue
        except Exception as exc:  # the user's forward on real tensors: said, identify goes on
            return dataclasses.replace(base, not_compared=f"the forward on the CPU raised {type(exc).__name__}: "
                                       + (str(exc).splitlines() or [""])[0][:200])  # fmt: skip
    raise AssertionError("unreachable: without sharing, nothing is raised for a change")


class _Changed(Exception):
    """The user's forward changed a tensor it shares with the reference: the comparison is
    made again with copies, as if nothing had been shared."""


def _emptied(mine_meta: nn.Module, weights: str | None) -> nn.Module | None:
    """The user's model as built on meta, on the CPU without its constructor's initialisation,
    where every tensor is drawn or loaded next (:func:`.transfer.empty_copy`), ``weights``
    loaded; else None, and the model is built on the CPU."""
    emptied = empty_copy(mine_meta, loaded=weights is not None)
    if emptied is not None and weights is not None:
        from ..checkpoint import load_weights_into

        load_weights_into(emptied, weights)
    return emptied


def _reference(spec: ResNetSpec, built: list[nn.Module] | None = None) -> nn.Module:
    """The reference on the meta device: its tensors get their storage once aligned (the
    user's, handed over, or their own, drawn: the constructor's values would be thrown away).
    ``built``: one built already from ``spec``, taken (once) in place of a build."""
    from ..model import build_model

    return (built.pop() if built else build_model(spec, "meta")).eval()


def _aligned(ref: nn.Module, mine: Mine, shape: tuple[int, ...]) -> tuple[Alignment, nn.Module]:
    """The alignment with the user's calls read already (``mine``: the model, its calls and
    its output on the first comparison input), and the reference (``ref``, on meta) as it is
    now. The reference's pass on the meta device, by the trace's shape rules, at most 64x64
    (its calls, ours, do not depend on the input's size). Where that does not align, or
    raises, the reference on the CPU, at most 64x64 and then at the full size: a meta pass, a
    shape rule or a smaller input never makes the verdict that the two do not align."""
    small = (1, shape[1], *(min(side, 64) for side in shape[2:])) if len(shape) == 4 else shape
    try:
        alignment = _aligned_at(ref, mine, small)
    except Exception:  # a shape rule or a meta kernel the reference's forward trips on
        alignment = None
    if alignment is not None and alignment.aligned:
        return alignment, ref
    ref = ref.to_empty(device="cpu")
    alignment = _aligned_at(ref, mine, small)
    if alignment.aligned or small == shape:
        return alignment, ref
    return _aligned_at(ref, mine, shape), ref


@dataclass(frozen=True, eq=False)
class Mine:
    """The user's model on the CPU, its parametrised calls on the first comparison input and
    its output there (one pass, kept: see :func:`.align.calls_and_output`)."""

    model: nn.Module
    calls: tuple[Call, ...]
    output: Any


def _aligned_at(ref: nn.Module, mine: Mine, shape: tuple[int, ...]) -> Alignment:
    return align_calls(calls_of(ref, shape), mine.calls, _names(ref), _names(mine.model),
                       set(parametrised(ref)), set(parametrised(mine.model)))  # fmt: skip


def _names(model: nn.Module) -> tuple[str, ...]:
    return tuple(n for n, _ in model.named_modules())


def _run(
    base: Proof, spec: ResNetSpec, model: nn.Module, trained: bool, inputs: int, seed: int,
    share: bool = False, built: list[nn.Module] | None = None,
) -> Proof:  # fmt: skip
    """The proof on the user's model on the CPU; ``share``: the reference holds the user's
    tensors themselves rather than copies, and :class:`_Changed` is raised where the user's
    forward changed one of them (then the comparison would not be the one copies give);
    ``built``: the reference of ``spec`` on meta, where built already (see :func:`_reference`)."""
    if not trained:  # drawn before the alignment pass, so that its output is the first one compared
        randomise(model, seed)
    xs = random_inputs(base.input_shape, inputs, seed)
    mine = Mine(model, *calls_and_output(model, xs[0].clone()))
    alignment, ref = _aligned(_reference(spec, built), mine, base.input_shape)
    classes = _classes(alignment)
    if classes is not None:
        spec = dataclasses.replace(spec, num_classes=classes)
        note = (f"reference built with num_classes={classes}, as the model's last Linear" if classes
                else "reference built with num_classes=0: the model ends without its final Linear")  # fmt: skip
        base = dataclasses.replace(base, reference=spec_string(spec), notes=(*base.notes, note))
        alignment, ref = _aligned(_reference(spec), mine, base.input_shape)
    base = dataclasses.replace(base, alignment=alignment)
    if alignment.unaligned is not None:
        return dataclasses.replace(base, not_compared=f"its parametrised layers do not align with "
                                   f"{base.reference}'s: {alignment.unaligned.reason}")  # fmt: skip
    copied = transfer(alignment, model, ref, share=share)
    before = versions(model)
    materialise(ref)  # what the reference does not take from the user's model
    randomise(ref, seed + 1, skip=copied)  # a tensor only the reference has: a draw of its own
    comparison = compare_outputs(model, ref, xs, seed, known=[mine.output])
    result = dataclasses.replace(base, comparison=comparison)
    if not comparison.equal:
        loc, seen = localise(alignment, ref, model, xs[0], comparison.tolerance)
        result = dataclasses.replace(
            result, localisation=loc, departure=_words(loc, alignment, model, ref, seen, base)
        )
    if share and versions(model) != before:
        raise _Changed
    return result


def with_channels(spec: ResNetSpec, shape: tuple[int, ...]) -> tuple[ResNetSpec, tuple[str, ...]]:
    """The reference with the input's channels (a grey-scale model is compared as such)."""
    if len(shape) < 2 or shape[1] == spec.in_chans:
        return spec, ()
    return dataclasses.replace(spec, in_chans=shape[1]), (
        f"reference built with in_chans={shape[1]}, the input's",
    )


def _classes(alignment: Alignment) -> int | None:
    """The user's number of classes, where the only call that does not align is both models'
    last, a Linear with as many inputs on each side: a head for 10 or 1 classes is the user's
    choice, not a departure in the layers (the structural departures name it)."""
    u = alignment.unaligned
    if u is not None and u.b is None and u.a is not None and u.a.kind == "Linear":
        # the reference's last call is a Linear the model never makes: a headless net
        headless = u.index == len(alignment.b_calls) == len(alignment.a_calls) - 1
        return 0 if headless else None
    if u is None or u.a is None or u.b is None or u.index is None:
        return None
    last = u.index == len(alignment.a_calls) - 1 == len(alignment.b_calls) - 1
    a, b = u.a.weight, u.b.weight
    if (
        last
        and u.a.kind == u.b.kind == "Linear"
        and a
        and b
        and len(a) == len(b) == 2
        and a[1] == b[1]
    ):
        return b[0]
    return None


def _words(loc: Localisation, alignment: Alignment, mine: nn.Module, ref: nn.Module,
           seen: dict[str, tuple[Any, ...]], base: Proof) -> tuple[str, ...]:  # fmt: skip
    """The departure at the divergence: the words reader's, else the engine's own."""
    div = loc.divergence
    if div is None:  # outputs differ, yet no module's own output does: the model's own code
        return (f"the output differs from {base.reference}'s on the same input, although every mapped "
                "module agrees on its own input",)  # fmt: skip
    mine_mod, ref_mod = (
        dict(mine.named_modules())[div.user_module],
        dict(ref.named_modules())[div.module],
    )
    args = tuple(a for a in seen.get(div.module, ()) if _is_tensor(a))
    said = words.describe_departure(div.module, mine_mod, ref_mod, args, base.reference)
    if said:
        return said
    where = div.module or "the model's own forward (outside its modules)"
    theirs = f"{base.reference}'s {div.module or 'output'}"
    if div.own is None:
        text = f"{where}: does not run on the input {theirs} takes"
    elif div.own_shape is not None and div.shape is not None and div.own_shape != div.shape:
        text = f"{where}: its output is {shape_text(div.own_shape)} where {theirs} gives {shape_text(div.shape)} on the same input"
    else:
        text = f"{where}: its output differs from {theirs} on the same input (relative L2 {div.own:.2g})"
    first = loc.first_propagated
    if div.module == "" and first is not None and first.module != "":
        text += f"; the first module whose output differs in a normal run is {first.module}"
    return (text,)


def _is_tensor(x: Any) -> bool:
    import torch

    return isinstance(x, torch.Tensor)

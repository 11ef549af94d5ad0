"""A checkpoint's variant, proved: identified from its shapes (:mod:`.weights`), then built on
the meta device and loaded strictly, so ``identify`` never names a variant the file does not
fit. A file in another ecosystem's layout is identified in our names after its mapping
(checkpoint/layouts/), and what the layout implies (Keras's stride on the 1x1, a config.json's
``downsample_in_bottleneck``) is applied to the spec before the proof."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..checkpoint.compare import Comparison, compare_checkpoint, strict_load_error
from ..checkpoint.read import Checkpoint
from ..spec import FIELD_NAMES, format_value
from .evidence import Evidence, Identified, IdentifyError
from .weights import identify_shapes


@dataclass(frozen=True, eq=False)
class Identification:
    checkpoint: Checkpoint
    identified: Identified
    comparison: Comparison  # the identified spec against the checkpoint
    load_error: str | None  # None: built the spec and loaded the file with strict=True

    @property
    def proved(self) -> bool:
        return self.comparison.loads_strictly and self.load_error is None


def identify_checkpoint(checkpoint: Checkpoint) -> Identification:
    """Identify the variant, then prove it: build it and load the checkpoint strictly."""
    from ..model import build_model

    try:
        identified = identify_shapes(checkpoint.shapes)
    except IdentifyError as exc:  # say which file: a script may identify many
        raise IdentifyError(f"{str(checkpoint.path)!r}: {exc}") from None
    identified = with_layout(identified, checkpoint)
    model = build_model(identified.spec, "meta")  # once: a deep one takes seconds to build
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    comparison = compare_checkpoint(expected, checkpoint)
    return Identification(checkpoint, identified, comparison,
                          strict_load_error(model, checkpoint))  # fmt: skip


def with_layout(identified: Identified, checkpoint: Checkpoint) -> Identified:
    """The identified spec with the layout's spec hints applied, each with its evidence, and
    the assumptions the layout makes in place of identify's own for the same field. A hint
    for a field this spec does not have is left out (not applicable to this version)."""
    if not checkpoint.layout:
        return identified
    hints = {k: v for k, v in checkpoint.spec_hints.items() if k in FIELD_NAMES}
    spec = identified.spec.replace(**hints) if hints else identified.spec
    evidence = tuple(e for e in identified.evidence if e.field not in hints) + tuple(
        Evidence(k, format_value(getattr(spec, k)), checkpoint.hint_sources.get(k, "the layout"))
        for k in hints)  # fmt: skip
    theirs = {a.partition(":")[0] for a in checkpoint.assumptions} | set(hints)
    assumed = tuple(a for a in identified.assumptions if a.partition(":")[0] not in theirs)
    return replace(identified, spec=spec, evidence=evidence, assumptions=(*assumed, *checkpoint.assumptions))

"""A checkpoint's variant, proved: identified from its shapes (:mod:`.weights`), then built on
the meta device and loaded strictly, so ``identify`` never names a variant the file does not
fit."""

from __future__ import annotations

from dataclasses import dataclass

from ..checkpoint.compare import Comparison, compare_checkpoint, strict_load_error
from ..checkpoint.read import Checkpoint
from .evidence import Identified, IdentifyError
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
    model = build_model(identified.spec, "meta")  # once: a deep one takes seconds to build
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    comparison = compare_checkpoint(expected, checkpoint)
    return Identification(checkpoint, identified, comparison,
                          strict_load_error(model, checkpoint))  # fmt: skip

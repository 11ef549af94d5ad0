"""Which variant a thing is, through one front door, :func:`identify`: a checkpoint by its
weights (:mod:`.weights`, pure Python, proved by a strict load in :mod:`.proof`), a module by
its structure (:mod:`.structure`, one meta-device pass).

Sits with tracing and checkpoint: it traces (structure) and reads checkpoints (proof), and
checkpoint's mismatch message asks :func:`looks_like` what a file holds. Only the pure reading
is imported here; the proof and the structure reader load when asked, so importing
``checkpoint`` (which reads ``weights``) closes no cycle and ``--help`` imports no torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, overload

from .evidence import Evidence, Identified, IdentifyError
from .weights import identify_shapes, looks_like

if TYPE_CHECKING:
    from torch import nn

    from ..checkpoint.read import Checkpoint
    from ..spec import ResNetSpec
    from .proof import Identification
    from .structure import Passes, StructureMatch

__all__ = ["Evidence", "Identified", "IdentifyError", "identify", "identify_shapes", "looks_like"]


@overload
def identify(
    target: Checkpoint | str | Path, input_shape: None = None, reference: None = None
) -> Identification: ...
@overload
def identify(
    target: nn.Module, input_shape: tuple[int, ...], reference: ResNetSpec | None = None,
    passes: Passes | None = None,
) -> StructureMatch: ...  # fmt: skip
def identify(
    target: Checkpoint | str | Path | nn.Module, input_shape: tuple[int, ...] | None = None,
    reference: ResNetSpec | None = None, passes: Passes | None = None,
) -> Identification | StructureMatch:  # fmt: skip
    """The variant ``target`` is: a checkpoint (read, or a path to read) by its weights, proved
    by a strict load; a module by its structure on ``input_shape``, the nearest preset and
    every departure from it (from ``reference``, where given, instead of the nearest; its
    passes from ``passes``, where given: :class:`.structure.Passes`). The one entrance both
    of identify's paths go through."""
    from ..checkpoint.read import Checkpoint, read_checkpoint

    if isinstance(target, (str, Path)):
        target = read_checkpoint(target)
    if isinstance(target, Checkpoint):
        from .proof import identify_checkpoint

        return identify_checkpoint(target)
    if input_shape is None:  # a caller's mistake, not the user's: the Source always passes one
        raise TypeError("identify: a module is identified on an input shape; pass input_shape")
    from .structure import identify_module

    return identify_module(target, input_shape, reference, passes)

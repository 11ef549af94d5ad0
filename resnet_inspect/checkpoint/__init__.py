"""Checkpoints as data: reading files (``read``, ``hdf5``), other ecosystems' layouts mapped to
our names (``layouts``), comparing with a variant and loading (``compare``). Which variant a state_dict holds is :mod:`resnet_inspect.identification`'s."""

from __future__ import annotations

from .compare import (
    Comparison,
    ShapeMismatch,
    Uncopyable,
    compare,
    compare_checkpoint,
    compare_shapes,
    expected_shapes,
    load_weights_into,
    mismatch_message,
    verify_weights,
)
from .read import (
    NESTING_KEYS,
    Checkpoint,
    CheckpointError,
    FileFormat,
    Shape,
    WeightsMismatch,
    read_checkpoint,
)

__all__ = [
    "NESTING_KEYS",
    "Checkpoint",
    "CheckpointError",
    "Comparison",
    "FileFormat",
    "Shape",
    "ShapeMismatch",
    "Uncopyable",
    "WeightsMismatch",
    "compare",
    "compare_checkpoint",
    "compare_shapes",
    "expected_shapes",
    "load_weights_into",
    "mismatch_message",
    "read_checkpoint",
    "verify_weights",
]

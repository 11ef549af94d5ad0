"""Checkpoints as data: reading files (``read``), comparing with a variant and loading
(``compare``), and which variant a state_dict holds (``identify``, pure Python)."""

from __future__ import annotations

from .compare import (
    Comparison,
    Identification,
    ShapeMismatch,
    Uncopyable,
    compare,
    compare_checkpoint,
    compare_shapes,
    expected_shapes,
    identify_checkpoint,
    load_strictly_on_meta,
    load_weights_into,
    looks_like,
    mismatch_message,
    verify_weights,
)
from .evidence import Evidence, Identified, IdentifyError
from .identify import identify_shapes
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
    "Evidence",
    "FileFormat",
    "Identification",
    "Identified",
    "IdentifyError",
    "Shape",
    "ShapeMismatch",
    "Uncopyable",
    "WeightsMismatch",
    "compare",
    "compare_checkpoint",
    "compare_shapes",
    "expected_shapes",
    "identify_checkpoint",
    "identify_shapes",
    "load_strictly_on_meta",
    "load_weights_into",
    "looks_like",
    "mismatch_message",
    "read_checkpoint",
    "verify_weights",
]

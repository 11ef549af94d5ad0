"""Proof over resemblance: two models aligned by what they compute, then run on the same
random inputs with the same weights.

``align`` (:mod:`.align`) pairs the parametrised modules of two models in the order their
forward passes call them, whatever their names and nesting; ``transfer`` copies tensors along
that alignment; ``compare`` runs both and compares the outputs; ``localise`` finds the first
module whose own output differs; ``proof`` puts them together for identify. ``words`` names a
departure. Sits with tracing and checkpoint: imports spec, model, usermodel, tracing and
checkpoint only; no top-level torch import.
"""

from __future__ import annotations

from .align import Alignment, Call, Pair, Unaligned, align
from .compare import TOLERANCE, OutputComparison
from .localise import Localisation, ModuleError
from .proof import Proof, prove

__all__ = ["TOLERANCE", "Alignment", "Call", "Localisation", "ModuleError", "OutputComparison", "Pair", "Proof",
           "Unaligned", "align", "prove"]  # fmt: skip

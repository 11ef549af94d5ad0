"""Deterministic weights in other ecosystems' names, shared by generate.py and the tests.

torch-based libraries (transformers, mmpretrain, open_clip) name tensors as torch does, so
reference/weights.py's ``deterministic_tensor`` applies to their keys unchanged. Keras names
a variable ``{layer}/{kernel,bias,gamma,beta,moving_mean,moving_variance}`` and stores a conv's
kernel as HWIO: here each gets the value range its torch counterpart has (a kernel uniform with
variance 1/fan_in, fan_in the product of all but the last dimension; gamma 0.9..1.1; variances
0.5..1.5; the rest -0.1..0.1), from the same seeded generator (``_uniform``), seeded by the
Keras name and shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from reference.weights import _uniform, deterministic_tensor

Shape = Sequence[int]


def keras_tensor(key: str, shape: Shape) -> torch.Tensor:
    variable = key.rsplit("/", 1)[-1]
    if variable == "kernel":
        high = math.sqrt(3.0 / math.prod(shape[:-1]))
        return _uniform(key, shape, -high, high)
    low, high = {"gamma": (0.9, 1.1), "moving_variance": (0.5, 1.5)}.get(variable, (-0.1, 0.1))
    return _uniform(key, shape, low, high)


def foreign_state_dict(
    library: str, shapes: Mapping[str, tuple[Shape, str]]
) -> dict[str, torch.Tensor]:
    """``{key: (shape, dtype name)}`` -> tensors, by the library's naming."""
    if library == "keras":
        return {k: keras_tensor(k, s) for k, (s, _) in shapes.items()}
    return {k: deterministic_tensor(k, s, getattr(torch, d)) for k, (s, d) in shapes.items()}

"""Deterministic weights and inputs, shared by the generator and the tests.

Every value is derived from the state-dict key (or the input shape) alone, so two models
with the same keys and shapes get the same weights whichever library built them. Only
``torch.rand`` from a seeded ``torch.Generator`` (the Mersenne twister; float32 takes 24 of
its bits, exactly) and one multiply and one add per element are used, each rounded by IEEE
rules, so the values are bit-identical on every CPU.

Scales keep a 150-layer network in range when BatchNorm runs in eval mode on these made-up
running statistics: convolution and linear weights are uniform with variance 1/fan_in (a
He-like scale with gain 1, so a residual branch adds less than the identity carries), norm
weights lie in 0.9..1.1, biases and running means in -0.1..0.1, running variances in 0.5..1.5.
Integer entries (``num_batches_tracked``) are zero, which is what a fresh model holds.
"""

from __future__ import annotations

import base64
import hashlib
import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import torch

# Changing anything below changes every stored reference output: bump this and regenerate.
SCHEME = "crc32-uniform-v1"

Shape = Sequence[int]


def _uniform(name: str, shape: Shape, low: float, high: float) -> torch.Tensor:
    """Uniform in [low, high), float32, from a generator seeded by the name and the shape."""
    seed = zlib.crc32(f"{name}|{'x'.join(map(str, shape))}".encode())
    generator = torch.Generator().manual_seed(seed)
    u = torch.rand(tuple(shape), generator=generator, dtype=torch.float32)
    # two separate in-place ops, never fused into one multiply-add: the same rounding everywhere
    return u.mul_(high - low).add_(low)


def deterministic_tensor(
    key: str, shape: Shape, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The value of one state-dict entry, chosen by the last part of its key and its rank."""
    if not dtype.is_floating_point:
        return torch.zeros(tuple(shape), dtype=dtype)
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "running_var":
        low, high = 0.5, 1.5
    elif leaf == "weight" and len(shape) >= 2:
        # conv (out, in/groups, kh, kw) or linear (out, in): variance 1/fan_in
        high = math.sqrt(3.0 / math.prod(shape[1:]))
        low = -high
    elif leaf == "weight":  # a norm's scale
        low, high = 0.9, 1.1
    else:  # biases, running means, anything else
        low, high = -0.1, 0.1
    return _uniform(key, shape, low, high).to(dtype)


def deterministic_state_dict(
    shapes: Mapping[str, tuple[Shape, torch.dtype]],
) -> dict[str, torch.Tensor]:
    """``{key: (shape, dtype)}`` to ``{key: tensor}`` with :func:`deterministic_tensor`."""
    return {key: deterministic_tensor(key, shape, dtype) for key, (shape, dtype) in shapes.items()}


def state_dict_shapes(model: torch.nn.Module) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """``{key: (shape, dtype)}`` of a model's state dict (works on the meta device)."""
    return {key: (tuple(t.shape), t.dtype) for key, t in model.state_dict().items()}


def load_deterministic(model: torch.nn.Module) -> torch.nn.Module:
    """Give ``model`` (on any device, meta included) the deterministic weights, on the CPU,
    in eval mode. Loading is strict and assigns the new tensors, so a meta model needs no
    allocation of its own."""
    weights = deterministic_state_dict(state_dict_shapes(model))
    model.load_state_dict(weights, strict=True, assign=True)
    meta = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if meta:
        raise ValueError(f"not in the state dict, left on the meta device: {meta[:5]}")
    return model.eval()


def deterministic_input(shape: Shape) -> torch.Tensor:
    """A float32 input batch in -1..1, from the shape alone."""
    return _uniform("input", shape, -1.0, 1.0)


# --- shared by the generator and the tests --------------------------------------------------
FINGERPRINT_SAMPLE: dict[str, tuple[tuple[int, ...], torch.dtype]] = {
    "conv1.weight": ((64, 3, 7, 7), torch.float32),
    "bn1.running_var": ((64,), torch.float32),
    "fc.bias": ((1000,), torch.float32),
}
FINGERPRINT_INPUT = (2, 3, 64, 64)


def _raw_bytes(t: torch.Tensor) -> bytes:
    return bytes(t.contiguous().view(torch.uint8).reshape(-1).tolist())  # no numpy needed


def fingerprint() -> dict[str, str]:
    """SHA-256 of a few deterministic values: a test compares them with the generation's, so
    a changed random generator (other weights) is told apart from a changed model."""
    tensors = dict(
        deterministic_state_dict(FINGERPRINT_SAMPLE), input=deterministic_input(FINGERPRINT_INPUT)
    )
    return {k: hashlib.sha256(_raw_bytes(t)).hexdigest() for k, t in tensors.items()}


def encode_float32(t: torch.Tensor) -> dict[str, Any]:
    """A tensor as JSON: shape, dtype and little-endian float32 bytes in base64."""
    t = t.detach().to(torch.float32).contiguous()
    return {
        "shape": list(t.shape),
        "dtype": "float32",
        "base64": base64.b64encode(_raw_bytes(t)).decode("ascii"),
    }


def decode_float32(stored: Mapping[str, Any]) -> torch.Tensor:
    if stored["dtype"] != "float32":
        raise ValueError(f"expected float32, got {stored['dtype']}")
    raw = bytearray(base64.b64decode(stored["base64"]))
    return torch.frombuffer(raw, dtype=torch.float32).reshape(stored["shape"])


def describe(t: torch.Tensor) -> str:
    """A state-dict entry as ``float32[64,3,7,7]`` (``int64[]`` for a scalar)."""
    return f"{str(t.dtype).removeprefix('torch.')}[{','.join(map(str, t.shape))}]"

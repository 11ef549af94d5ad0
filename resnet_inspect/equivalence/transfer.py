"""One model's tensors copied into another along an :class:`~.align.Alignment`.

Without the user's weights every tensor is first drawn again, seeded, whatever the
constructors did: a zero-initialised last BN (timm, ``zero_init_residual``) makes a residual
branch add nothing, so a branch that is wrong would still give equal outputs; a bias that the
user's code zeroes would hide a bias the reference lacks. Then the paired modules' tensors are
copied from the source (the user's model) to the destination (the reference); a tensor only
the destination has keeps its own random draw, so it shows in the comparison. With the user's
weights nothing is drawn on their side: the proof then holds for those trained weights.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TYPE_CHECKING

from .align import Alignment, parametrised

if TYPE_CHECKING:
    from torch import nn


def randomise(model: nn.Module, seed: int, skip: Collection[tuple[str, str]] = ()) -> None:
    """Every floating tensor a module holds itself, drawn again, in place and uniformly, from a
    generator seeded with ``seed``: a normalisation's scales in [0.5, 1.5], running variances in
    [0.5, 2] (so that eval-mode BN neither zeroes nor normalises exactly), its shifts and
    running means with a standard deviation of 0.1; any other weight with He's variance
    2 / fan_in (activations keep their scale through a deep network), any other tensor 0.1.
    ``skip``: (module, tensor) names left as they are (those about to be copied over)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    skipped = set(skip)
    with torch.no_grad():
        for owner, module in parametrised(model).items():
            norm = is_norm(module)
            for name, t in [*module._parameters.items(), *module._buffers.items()]:
                if t is not None and t.is_floating_point() and (owner, name) not in skipped:
                    low, high = _bounds(name, tuple(t.shape), norm)
                    t.uniform_(low, high, generator=gen)


def is_norm(module: nn.Module) -> bool:
    """A normalisation: torch's (batch, group, layer, instance norm and their subclasses) or a
    class of the user's own whose name says so (``FrozenBatchNorm2d``)."""
    from torch import nn

    torch_norms = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)
    return isinstance(module, torch_norms) or "norm" in type(module).__name__.lower()


def _bounds(name: str, shape: tuple[int, ...], norm: bool) -> tuple[float, float]:
    """The uniform draw's bounds; a standard deviation s is U(-s * sqrt(3), s * sqrt(3))."""
    if norm and name in ("weight", "scale", "gamma"):
        return 0.5, 1.5
    if norm and name == "running_var":
        return 0.5, 2.0
    std = (
        math.sqrt(2.0 / math.prod(shape[1:]))
        if not norm and name == "weight" and len(shape) > 1
        else 0.1
    )
    return -std * math.sqrt(3.0), std * math.sqrt(3.0)


def transfer(
    alignment: Alignment, source: nn.Module, destination: nn.Module, *, source_is_b: bool = True
) -> set[tuple[str, str]]:
    """Copy each paired module's tensors from ``source`` to ``destination`` (B to A where
    ``source_is_b``; the alignment's A and B name the modules); tensors one side lacks are
    left alone. Returns the (module, tensor) names of ``destination`` that were copied. A
    module called twice is copied once."""
    import torch

    src_modules, dst_modules = dict(source.named_modules()), dict(destination.named_modules())
    copied: set[tuple[str, str]] = set()
    done: set[str] = set()
    with torch.no_grad():
        for pair in alignment.pairs:
            src, dst = (pair.b, pair.a) if source_is_b else (pair.a, pair.b)
            if src.name in done:
                continue
            done.add(src.name)
            copied |= {(dst.name, t) for t in _copy(src_modules[src.name], dst_modules[dst.name])}
    return copied


def _copy(src: nn.Module, dst: nn.Module) -> list[str]:
    """The tensors of the same name and shape, copied."""
    theirs = {n: t for n, t in [*src._parameters.items(), *src._buffers.items()] if t is not None}
    mine = {n: t for n, t in [*dst._parameters.items(), *dst._buffers.items()] if t is not None}
    copied = []
    for name, t in mine.items():
        other = theirs.pop(name, None)
        if other is not None and other.shape == t.shape:
            t.copy_(other.to(t.dtype))
            copied.append(name)
    return copied

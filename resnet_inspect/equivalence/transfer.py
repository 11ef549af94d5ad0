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
    import torch
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


def empty_copy(model: nn.Module, loaded: bool) -> nn.Module | None:
    """A copy of ``model`` (built on the meta device) on the CPU, its tensors allocated but not
    set, where the proof sets every one of them next: :func:`randomise` draws every floating
    tensor, or (``loaded``) a strict load of the user's checkpoint sets every parameter and
    persistent buffer. A BN's ``num_batches_tracked`` is set to 0, as torch's constructor sets
    it. The constructor's own initialisation, which those would throw away, is never run on the
    CPU (a tenth of a second for a resnet50). None where a tensor would keep no defined value
    (an integer or non-persistent buffer of the user's: only the constructor knows it), where
    two modules share a tensor (the copy would part them) or where a tensor is not on meta."""
    import copy

    named = [(m, n, t) for m in model.modules() for n, t in [*m._parameters.items(), *m._buffers.items()]
             if t is not None]  # fmt: skip
    if len({id(t) for _, _, t in named}) != len(named) or not all(t.is_meta for _, _, t in named):
        return None
    if not all(_set_next(m, n, t, loaded) or _step_count(m, n) for m, n, t in named):
        return None
    try:
        made = copy.deepcopy(model).to_empty(device="cpu")
    except Exception:  # an attribute deepcopy cannot copy: the caller builds on the CPU instead
        return None
    for m in made.modules():
        steps = m._buffers.get("num_batches_tracked")
        if steps is not None and _step_count(m, "num_batches_tracked"):
            steps.zero_()
    return made


def _set_next(module: nn.Module, name: str, t: torch.Tensor, loaded: bool) -> bool:
    if loaded:  # a strict load sets the state_dict: parameters and persistent buffers
        return name in module._parameters or name not in module._non_persistent_buffers_set
    return t.is_floating_point()


def _step_count(module: nn.Module, name: str) -> bool:
    """torch's batch norm step count: 0 from the constructor, read only in training."""
    from torch import nn

    return name == "num_batches_tracked" and isinstance(module, nn.modules.batchnorm._NormBase)


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
    alignment: Alignment, source: nn.Module, destination: nn.Module, *, source_is_b: bool = True,
    share: bool = False,
) -> set[tuple[str, str]]:  # fmt: skip
    """Copy each paired module's tensors from ``source`` to ``destination`` (B to A where
    ``source_is_b``; the alignment's A and B name the modules); tensors one side lacks are
    left alone. Returns the (module, tensor) names of ``destination`` that were copied. A
    module called twice is copied once. ``share``: a tensor of the same dtype is not copied
    but handed over, the two models then hold the same tensor (no second copy of a resnet50's
    100 MB to write; the caller checks with :func:`versions` that no forward changed one)."""
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
            got = _copy(src_modules[src.name], dst_modules[dst.name], share)
            copied |= {(dst.name, t) for t in got}
    return copied


def versions(model: nn.Module) -> dict[int, int]:
    """Every tensor's version counter (torch bumps it on each in-place change), by id."""
    return {id(t): t._version for t in (*model.parameters(), *model.buffers())}


def _copy(src: nn.Module, dst: nn.Module, share: bool = False) -> list[str]:
    """The tensors of the same name and shape, copied (``share``: handed over); a destination
    tensor on the meta device gets its storage on the CPU first."""
    theirs = {n: t for n, t in [*src._parameters.items(), *src._buffers.items()] if t is not None}
    mine = {n: t for n, t in [*dst._parameters.items(), *dst._buffers.items()] if t is not None}
    copied = []
    for name, t in mine.items():
        other = theirs.pop(name, None)
        if other is None or other.shape != t.shape:
            continue
        if share and other.dtype == t.dtype and type(other) is type(t):
            if name in dst._parameters:
                dst._parameters[name] = other  # type: ignore[assignment]  # a Parameter: same type as t
            else:
                dst._buffers[name] = other
        else:
            _on_cpu(dst, name, t).copy_(other.to(t.dtype))
        copied.append(name)
    return copied


def materialise(model: nn.Module) -> nn.Module:
    """Every tensor of ``model`` still on the meta device given its storage on the CPU,
    not set (as ``to_empty``, but a tensor already on the CPU, handed over by
    :func:`transfer`, stays); BN step counts set to 0 as torch's constructor sets them."""
    for module in model.modules():
        for name, t in [*module._parameters.items(), *module._buffers.items()]:
            if t is not None and t.is_meta:
                made = _on_cpu(module, name, t)
                if _step_count(module, name):
                    made.zero_()
    return model


def _on_cpu(module: nn.Module, name: str, t: torch.Tensor) -> torch.Tensor:
    """``module``'s tensor ``name`` (``t``), where it is on meta replaced by an empty one on
    the CPU of the same kind (a Parameter stays one); the tensor now held."""
    import torch
    from torch import nn

    if not t.is_meta:
        return t
    made = torch.empty_like(t, device="cpu")
    if name in module._parameters:
        param = nn.Parameter(made, requires_grad=t.requires_grad)
        module._parameters[name] = param
        return param
    module._buffers[name] = made
    return made

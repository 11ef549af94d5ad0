"""A checkpoint against a variant: what matches, what is missing or unexpected, which shapes
differ; a strict load on the meta device; the one-line message when a file does not load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..identification.weights import looks_like
from ..spec import ResNetSpec, spec_string
from ..units import shape_text
from .read import _TOLERATED_SUFFIX, Checkpoint, Shape, WeightsMismatch, read_checkpoint

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class ShapeMismatch:
    key: str
    expected: Shape
    found: Shape


@dataclass(frozen=True)
class Uncopyable:
    """A tensor of the right name and shape that torch's ``load_state_dict`` still cannot copy
    into the model (its ``copy_`` raises): ``found`` is its dtype or layout."""

    key: str
    found: str
    reason: str


@dataclass(frozen=True)
class Comparison:
    """A variant's state_dict (expected) against a checkpoint's (found), key by key."""

    matching: tuple[str, ...]
    missing: tuple[str, ...]  # expected, not in the checkpoint
    unexpected: tuple[str, ...]  # in the checkpoint, not expected
    mismatched: tuple[ShapeMismatch, ...]
    tolerated: tuple[str, ...] = ()  # missing num_batches_tracked: torch fills in 0
    uncopyable: tuple[Uncopyable, ...] = ()  # the right shape, a dtype torch will not copy

    @property
    def loads_strictly(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched or self.uncopyable)

    @property
    def expected_count(self) -> int:
        return (len(self.matching) + len(self.missing) + len(self.mismatched) + len(self.tolerated)
                + len(self.uncopyable))  # fmt: skip

    def counts(self) -> str:
        text = (f"{len(self.missing)} missing, {len(self.unexpected)} unexpected, "
                f"{len(self.mismatched)} with a different shape")  # fmt: skip
        if self.uncopyable:
            kinds = ", ".join(sorted({u.found for u in self.uncopyable}))
            text += f", {len(self.uncopyable)} that torch cannot copy into the model ({kinds})"
        return text


def compare_shapes(expected: Mapping[str, Shape], found: Mapping[str, Shape]) -> Comparison:
    matching: list[str] = []
    missing: list[str] = []
    tolerated: list[str] = []
    mismatched: list[ShapeMismatch] = []
    for key, shape in expected.items():
        if key not in found:
            (tolerated if key.endswith(_TOLERATED_SUFFIX) else missing).append(key)
        elif tuple(found[key]) != tuple(shape):
            mismatched.append(ShapeMismatch(key, tuple(shape), tuple(found[key])))
        else:
            matching.append(key)
    unexpected = [k for k in found if k not in expected]
    return Comparison(tuple(matching), tuple(missing), tuple(unexpected), tuple(mismatched),
                      tuple(tolerated))  # fmt: skip


def uncopyable_reason(tensor: torch.Tensor) -> tuple[str, str] | None:
    """(what it is, why) when ``load_state_dict`` cannot copy ``tensor`` into a model's dense,
    unquantized tensor of the same shape: ``copy_`` raises for a quantized source and for a
    sparse one. Any other dtype (bfloat16, float64, int8, bool...) is converted on the copy."""
    import torch

    if tensor.is_quantized:
        name = str(tensor.dtype).removeprefix("torch.")
        return name, f"{name} is quantized; torch copies no quantized tensor into a float one (dequantize it first)"
    if tensor.layout is not torch.strided:
        name = str(tensor.layout).removeprefix("torch.")
        return name, f"{name} layout; torch copies no sparse tensor into a dense one (call .to_dense() first)"
    return None


def compare_checkpoint(expected: Mapping[str, Shape], checkpoint: Checkpoint) -> Comparison:
    """:func:`compare_shapes`, and of the tensors whose shape fits, those torch cannot copy
    into the model (:func:`uncopyable_reason`): a strict load fails on them too."""
    result = compare_shapes(expected, checkpoint.shapes)
    bad: list[Uncopyable] = []
    for key in result.matching:
        why = uncopyable_reason(checkpoint.tensors[key])
        if why is not None:
            bad.append(Uncopyable(key, *why))
    if not bad:
        return result
    refused = {u.key for u in bad}
    return replace(result, matching=tuple(k for k in result.matching if k not in refused),
                   uncopyable=tuple(bad))  # fmt: skip


def expected_shapes(spec: ResNetSpec) -> dict[str, Shape]:
    """The variant's state_dict names and shapes, from a model on the meta device (free)."""
    from ..model import build_model

    return {k: tuple(v.shape) for k, v in build_model(spec, "meta").state_dict().items()}


def compare(spec: ResNetSpec, checkpoint: Checkpoint) -> Comparison:
    return compare_checkpoint(expected_shapes(spec), checkpoint)


def strict_load_error(model: nn.Module, checkpoint: Checkpoint) -> str | None:
    """Torch's own strict load of the checkpoint's names and shapes into ``model`` (on the meta
    device), then the copies torch would refuse (:func:`uncopyable_reason`). The load takes a
    float32 meta stand-in of each tensor's shape with ``assign=True``, which copies nothing:
    a copy onto the meta device checks no dtype, and assigning an integer tensor to a
    parameter fails where a real load converts it (int8 weights load into a float model)."""
    import torch

    stand_ins = {k: torch.empty(t.shape, device="meta") for k, t in checkpoint.tensors.items()}
    try:
        load_strictly(model, stand_ins, assign=True)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        return lines[1] if len(lines) > 1 else (lines[0] if lines else "RuntimeError")
    for key, tensor in checkpoint.tensors.items():
        why = uncopyable_reason(tensor)
        if why is not None:
            return f"{key}: {why[1]}"
    return None


def load_strictly(model: nn.Module, tensors: Mapping[str, torch.Tensor], assign: bool = False) -> None:
    """``model.load_state_dict(tensors, strict=True)``, in time linear in the number of keys:
    torch hands every child the keys under its name by filtering the whole dict once per
    child, so a stage of 1,666 blocks took 15 s. Here the keys are split by module in one pass
    and each module that holds tensors itself (a conv, a norm) loads its own with torch.
    Raises RuntimeError like torch: missing and unexpected keys, then shape mismatches."""
    missing: list[str] = []
    unexpected: list[str] = []
    _load_parts(model, dict(tensors), "", assign, missing, unexpected)
    problems = [f"{what} key(s) in state_dict: " + ", ".join(f'"{k}"' for k in keys) + "."
                for what, keys in (("Unexpected", unexpected), ("Missing", missing)) if keys]  # fmt: skip
    if problems:
        raise RuntimeError(f"Error(s) in loading state_dict for {type(model).__name__}:\n\t"
                           + "\n\t".join(problems))  # fmt: skip


def _load_parts(module: nn.Module, tensors: dict[str, torch.Tensor], prefix: str, assign: bool,
                missing: list[str], unexpected: list[str]) -> None:  # fmt: skip
    holds_own = any(v is not None for v in (*module._parameters.values(), *module._buffers.values()))
    if holds_own or not module._modules:
        try:
            result = module.load_state_dict(tensors, strict=False, assign=assign)
        except RuntimeError as exc:  # shape mismatches: name the module, as torch would
            raise RuntimeError(str(exc).replace("size mismatch for ", f"size mismatch for {prefix}")) from None
        missing += [prefix + k for k in result.missing_keys]
        unexpected += [prefix + k for k in result.unexpected_keys]
        return
    by_child: dict[str, dict[str, torch.Tensor]] = {name: {} for name in module._modules}
    for key, value in tensors.items():
        head, dot, rest = key.partition(".")
        if dot and head in by_child and module._modules[head] is not None:
            by_child[head][rest] = value
        else:
            unexpected.append(prefix + key)
    for name, child in module._modules.items():
        if child is not None:
            _load_parts(child, by_child[name], f"{prefix}{name}.", assign, missing, unexpected)


def mismatch_message(spec: ResNetSpec, checkpoint: Checkpoint, result: Comparison, label: str) -> str:
    """One line: what does not fit, the first difference, and what the file looks like."""
    first = ""
    if result.uncopyable:
        u = result.uncopyable[0]
        first = f"; first: {u.key}: {u.reason}"
    elif result.mismatched:
        m = result.mismatched[0]
        first = f"; first: {m.key} expected {shape_text(m.expected)}, found {shape_text(m.found)}"
    elif result.missing:
        first = f"; first missing: {result.missing[0]}"
    elif result.unexpected:
        first = f"; first unexpected: {result.unexpected[0]}"
    guess = looks_like(checkpoint)
    hint = f"; it looks like {guess}" if guess else ""
    return (f"{label} {str(checkpoint.path)!r} does not load into {spec_string(spec)}: "
            f"{result.counts()}{first}{hint} (details: resnet-inspect check)")  # fmt: skip


# --- for the commands ------------------------------------------------------------------------
def verify_weights(spec: ResNetSpec, path: str | Path, label: str = "--weights") -> Checkpoint:
    """Read ``path`` and check it loads strictly into ``spec``, without building a real model;
    for commands that trace on the meta device (weights change no shape, count or MAC).
    Raises CheckpointError (unreadable, exit 2) or WeightsMismatch (exit 1)."""
    checkpoint = read_checkpoint(path, label)
    result = compare(spec, checkpoint)
    if not result.loads_strictly:
        raise WeightsMismatch(mismatch_message(spec, checkpoint, result, label))
    return checkpoint


def load_weights_into(model: nn.Module, path: str | Path, label: str = "--weights") -> Checkpoint:
    """Load ``path`` into a real ``model`` (built by :func:`~resnet_inspect.model.build_model`,
    on any device) with ``strict=True``; tensors are copied onto the model's device and dtype.
    Raises like :func:`verify_weights`, before touching the model."""
    spec = getattr(model, "spec", None)
    checkpoint = read_checkpoint(path, label)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    result = compare_checkpoint(expected, checkpoint)
    if not result.loads_strictly:
        if isinstance(spec, ResNetSpec):
            raise WeightsMismatch(mismatch_message(spec, checkpoint, result, label))
        raise WeightsMismatch(f"{label} {str(path)!r} does not load into the model: {result.counts()}")
    try:
        load_strictly(model, checkpoint.tensors)
    except RuntimeError as exc:  # a refusal the comparison did not foresee: torch's words, one line
        detail = " ".join(str(exc).split())
        raise WeightsMismatch(f"{label} {str(path)!r} does not load into the model: {detail}") from None
    return checkpoint

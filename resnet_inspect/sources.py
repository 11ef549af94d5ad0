"""What a command inspects: one of our variants (a :class:`ResNetSpec`) or the user's own
model (a :class:`UserModel`), resolved, built and traced the same way.

Sits with ``diff`` and ``bench``: it builds (model/, usermodel) and traces (tracing/), and both
of them, and the API, take a source from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Union

from .errors import InspectError, UsageError
from .spec import ResNetSpec, resolve, spec_string
from .units import shape_text
from .usermodel import (
    UserCodeError,
    UserModel,
    build_user_model,
    first_line,
    is_user_code,
    parse_user_code,
    user_traceback,
)

if TYPE_CHECKING:
    from torch import nn

    from .checkpoint import Checkpoint, Comparison
    from .tracing import Trace
    from .tracing.realpass import MetaCannotTrace

Source = Union[ResNetSpec, UserModel]


def resolve_source(arch: str | ResNetSpec | UserModel | None, overrides: Mapping[str, Any] | None = None) -> Source:
    """A preset, spec string or spec (with overrides), or user code (``x.py:Net``, which
    takes no architecture overrides: its own arguments go in its parentheses)."""
    if isinstance(arch, UserModel):
        user: UserModel | None = arch
    else:
        user = parse_user_code(arch) if isinstance(arch, str) and is_user_code(arch) else None
    if user is None:
        return resolve(arch, **dict(overrides or {}))  # type: ignore[arg-type]
    given = sorted(k for k, v in (overrides or {}).items() if v is not None)
    if given:
        raise UsageError(f"{', '.join(given)}: architecture fields apply to presets and spec "
                         f"strings, not to user code ({user.label}); pass the model's own "
                         "arguments in parentheses: file.py:Name(key=value)", subject=given[0])  # fmt: skip
    return user


def source_label(source: Source) -> str:
    return spec_string(source) if isinstance(source, ResNetSpec) else source.label


def build_source(source: Source, device: str = "meta") -> nn.Module:
    if isinstance(source, ResNetSpec):
        from .model import build_model

        return build_model(source, device=device)
    return build_user_model(source, device)


def model_device(model: nn.Module) -> str:
    """Where a built model lives: meta unless its constructor could not run there."""
    for tensor in (*model.parameters(), *model.buffers()):
        return str(tensor.device)
    return "meta"


def trace_source(
    source: Source, input_shape: tuple[int, ...] | None = None, dtype: str = "float32",
    model: nn.Module | None = None,
) -> Trace:  # fmt: skip
    """Trace a spec, or the user's model (built on meta where it can be, else on the CPU)."""
    from .tracing import trace_model, trace_spec

    shape = input_shape or source.default_input_shape()
    if isinstance(source, ResNetSpec) and model is None:
        return trace_spec(source, shape, dtype)
    model = model if model is not None else build_source(source, "meta")
    if isinstance(source, ResNetSpec):
        return trace_model(model, shape, dtype)
    from .tracing.realpass import MetaCannotTrace

    try:
        return _trace_user(source, model, shape, dtype)
    except MetaCannotTrace as exc:
        if model_device(model) != "meta":
            raise
        return _trace_for_real(source, model, shape, dtype, exc)


def _trace_user(source: UserModel, model: nn.Module, shape: tuple[int, ...], dtype: str) -> Trace:
    from .tracing import trace_model

    try:
        return trace_model(model, shape, dtype, device=model_device(model), arch=source.label)
    except (InspectError, KeyboardInterrupt):
        raise
    except BaseException as exc:  # the user's forward may raise anything: SystemExit too
        raise UserCodeError(f"{source.source}: {source.name}'s forward on {shape_text(shape)} "
                            f"raised {first_line(exc)}", user_traceback(exc)) from None  # fmt: skip


def _trace_for_real(
    source: UserModel, meta_model: nn.Module, shape: tuple[int, ...], dtype: str, failure: MetaCannotTrace
) -> Trace:  # fmt: skip
    """The meta device cannot run this forward: trace it on the CPU, and say so in the trace."""
    import dataclasses

    trace = _trace_user(source, real_model(source, meta_model, shape, failure), shape, dtype)
    return dataclasses.replace(trace, real_pass_reason=failure.reason)


def real_model(source: UserModel, meta_model: nn.Module, shape: tuple[int, ...], failure: MetaCannotTrace) -> nn.Module:
    """The user's model built again on the CPU, for a pass with real tensors, where the meta
    device cannot run its forward (``failure``) and that pass fits the budget; else the one
    error that says why and asks for a smaller input. The weights are the constructor's own
    random ones, seeded, so that runs agree."""
    import torch

    from .tracing.realpass import REAL_PASS_BUDGET_BYTES, real_pass_bytes, too_big

    params = sum(p.numel() for p in meta_model.parameters())
    needed = real_pass_bytes(params, shape, failure.seen_bytes)
    if needed > REAL_PASS_BUDGET_BYTES:
        raise too_big(source.label, failure.reason, shape, needed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build_source(source, "cpu")


def expected_shapes_of(source: Source) -> dict[str, tuple[int, ...]]:
    """The state_dict names and shapes the source's model expects (meta where possible)."""
    return {k: tuple(v.shape) for k, v in build_source(source, "meta").state_dict().items()}


def compare_source(
    source: Source, checkpoint: Checkpoint, expected: Mapping[str, tuple[int, ...]] | None = None
) -> Comparison:
    """The checkpoint against the source's state_dict (``expected``, where already known)."""
    from .checkpoint import compare, compare_checkpoint

    if isinstance(source, ResNetSpec) and expected is None:
        return compare(source, checkpoint)
    return compare_checkpoint(expected if expected is not None else expected_shapes_of(source), checkpoint)


def verify_weights_for(source: Source, path: str, label: str = "--weights") -> Checkpoint:
    """``path`` loads strictly into the source's model (read as data), else WeightsMismatch."""
    from .checkpoint import WeightsMismatch, read_checkpoint, verify_weights

    if isinstance(source, ResNetSpec):
        return verify_weights(source, path, label)
    checkpoint = read_checkpoint(path, label)
    result = compare_source(source, checkpoint)
    if not result.loads_strictly:
        raise WeightsMismatch(f"{label} {str(checkpoint.path)!r} does not load into "
                              f"{source.label}: {result.counts()}")  # fmt: skip
    return checkpoint

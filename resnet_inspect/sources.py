"""What a command or API function inspects, resolved once: a :class:`Source`.

A preset, a spec string, a :class:`ResNetSpec` (with overrides), the user's ``FILE.py:NAME``, an
``nn.Module`` object, or a checkpoint file: :func:`open_source` turns each into a Source that
knows its label, its spec (None for user code), how to build and how to trace it. Every
command and every API function goes through it, so both take the same things and agree.

Sits with ``diff`` and ``bench``: it builds (model/, usermodel) and traces (tracing/), and both
of them, and the API, take a source from here.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from .errors import InspectError, SpecError, UsageError
from .spec import ResNetSpec, resolve, spec_string
from .units import shape_text
from .usermodel import (
    UserCodeError,
    UserModel,
    build_user_model,
    first_line,
    is_user_code,
    model_device,
    parse_user_code,
    user_traceback,
)

if TYPE_CHECKING:
    from torch import nn

    from .checkpoint import Checkpoint, Comparison
    from .equivalence.operations import Pass
    from .identification.function import ModuleMatch
    from .identification.proof import Identification
    from .tracing import Trace
    from .tracing.graph import CallGraph
    from .tracing.realpass import MetaCannotTrace

DEFAULT_INPUT = (1, 3, 224, 224)  # a model that is not one of ours: ImageNet's


class Kind(str, Enum):
    """What a target turned out to be; ``accept`` in :func:`open_source` lists those allowed."""

    SPEC = "a preset, spec string or ResNetSpec"
    USER = "file.py:Name"
    MODULE = "an nn.Module"
    CHECKPOINT = "a checkpoint file"


MODELS = frozenset({Kind.SPEC, Kind.USER, Kind.MODULE})  # what traces: summary, flops, diff
EVERYTHING = frozenset(Kind)  # identify
BENCHABLE = frozenset({Kind.SPEC, Kind.USER})  # bench builds its own copies on the device


@dataclass(frozen=True)
class Identified:
    """What identify found: a checkpoint's variant (``checkpoint``), or the nearest preset to
    a model by structure (``match``, with ``notes`` on how it was traced)."""

    label: str
    match: ModuleMatch | None = None
    checkpoint: Identification | None = None
    notes: tuple[str, ...] = ()

    @property
    def proved(self) -> bool:
        return self.checkpoint is None or self.checkpoint.proved


class Source(ABC):
    """One thing to inspect. ``spec``: the variant, None where the model is the user's own."""

    kind: Kind
    origin: Any  # what it was resolved from: the spec, the UserModel, the module, the path

    @property
    @abstractmethod
    def label(self) -> str: ...

    @property
    def spec(self) -> ResNetSpec | None:
        return None

    def default_input_shape(self) -> tuple[int, int, int, int]:
        return self.spec.default_input_shape() if self.spec is not None else DEFAULT_INPUT

    @abstractmethod
    def build(self, device: str = "meta") -> nn.Module: ...

    def trace(
        self, input_shape: tuple[int, ...] | None = None, dtype: str = "float32", model: nn.Module | None = None
    ) -> Trace:  # fmt: skip
        """The model traced on ``input_shape`` (default: its own); ``model``: already built."""
        return self._trace(input_shape or self.default_input_shape(), dtype, model)

    def _trace(self, shape: tuple[int, ...], dtype: str, model: nn.Module | None) -> Trace:
        from .tracing import trace_model

        built = model if model is not None else self.build("meta")
        arch = "" if self.spec is not None else self.label  # ours: the trace names its spec
        return trace_model(built, shape, dtype, model_device(built), arch)

    def compare(self, checkpoint: Checkpoint, expected: Mapping[str, tuple[int, ...]] | None = None) -> Comparison:
        """The checkpoint against this model's state_dict (``expected``, where already known)."""
        from .checkpoint import compare_checkpoint

        return compare_checkpoint(expected if expected is not None else self.expected_shapes(), checkpoint)

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """The state_dict names and shapes the model expects (meta where possible)."""
        return {k: tuple(v.shape) for k, v in self.build("meta").state_dict().items()}

    def verify_weights(self, path: str, flag: str = "--weights") -> Checkpoint:
        """``path`` loads strictly into the model (read as data), else WeightsMismatch."""
        from .checkpoint import WeightsMismatch, read_checkpoint

        checkpoint = read_checkpoint(path, flag)
        result = self.compare(checkpoint)
        if not result.loads_strictly:
            raise WeightsMismatch(f"{flag} {str(checkpoint.path)!r} does not load into "
                                  f"{self.label}: {result.counts()}")  # fmt: skip
        return checkpoint

    def identify(
        self, input_shape: tuple[int, ...] | None = None, reference: ResNetSpec | None = None,
        weights: str | None = None,
    ) -> Identified:  # fmt: skip
        """The nearest preset by structure (or ``reference``), every departure from it, and
        the proof: do the two compute the same function (with the ``weights`` file loaded
        into this model first, where given)?"""
        from .equivalence import prove
        from .equivalence.words import operation_departures
        from .identification import identify
        from .identification.function import ModuleMatch
        from .spec import PRESETS
        from .tracing.realpass import MetaCannotTrace, real_pass_note

        if weights is not None:
            self.verify_weights(weights)  # a file that does not load fails now, before any pass
        shape = input_shape or self.default_input_shape()
        model = self.build("meta")
        passes = _SharedPasses()  # one pass per model, one build per preset: read by all three
        notes: tuple[str, ...] = ()
        try:
            match = identify(model, shape, reference, passes)
        except MetaCannotTrace as exc:  # the forward reads values: one real pass on the CPU
            if model_device(model) != "meta":
                raise
            match = identify(self.real_model(model, shape, exc), shape, reference, passes)
            notes = (real_pass_note(exc.reason),)
        spec = reference if reference is not None else PRESETS[match.preset]
        ref, recorded = passes.for_words(model, spec, shape)  # before the proof gives ref tensors
        proof = prove(model, lambda: self.proof_model(weights), spec, shape, weights=weights,
                      reference_model=ref)  # fmt: skip
        try:
            words = () if ref is None or recorded is None else (
                operation_departures(model, ref, shape, proof.reference, recorded))  # fmt: skip
        except Exception:  # the user's forward on its own: the proof already says what it found
            words = ()
        return Identified(self.label, ModuleMatch(match, proof, words), notes=notes)

    def proof_model(self, weights: str | None = None) -> nn.Module:
        """The model built on the CPU for the functional proof, ``weights`` loaded strictly."""
        from .checkpoint import load_weights_into

        model = self.build("cpu")
        if weights is not None:
            load_weights_into(model, weights)
        return model

    def real_model(self, meta_model: nn.Module, shape: tuple[int, ...], failure: MetaCannotTrace) -> nn.Module:
        """The model built again on the CPU, for a pass with real tensors, where the meta
        device cannot run its forward (``failure``) and that pass fits the budget; else the
        one error that says why and asks for a smaller input. The weights are the
        constructor's own random ones, seeded, so that runs agree."""
        import torch

        from .tracing.realpass import REAL_PASS_BUDGET_BYTES, real_pass_bytes, too_big

        params = sum(p.numel() for p in meta_model.parameters())
        needed = real_pass_bytes(params, shape, failure.seen_bytes)
        if needed > REAL_PASS_BUDGET_BYTES:
            raise too_big(self.label, failure.reason, shape, needed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return self.build("cpu")


@dataclass(frozen=True)
class SpecSource(Source):
    """One of our variants: a preset, a spec string, or a ResNetSpec, overrides applied."""

    origin: ResNetSpec
    kind = Kind.SPEC

    @property
    def label(self) -> str:
        return spec_string(self.origin)

    @property
    def spec(self) -> ResNetSpec:
        return self.origin

    def build(self, device: str = "meta") -> nn.Module:
        from .model import build_model

        return build_model(self.origin, device=device)

    def _trace(self, shape: tuple[int, ...], dtype: str, model: nn.Module | None) -> Trace:
        from .tracing import trace_spec

        return trace_spec(self.origin, shape, dtype) if model is None else super()._trace(shape, dtype, model)

    def compare(self, checkpoint: Checkpoint, expected: Mapping[str, tuple[int, ...]] | None = None) -> Comparison:
        from .checkpoint import compare

        return compare(self.origin, checkpoint) if expected is None else super().compare(checkpoint, expected)

    def verify_weights(self, path: str, flag: str = "--weights") -> Checkpoint:
        from .checkpoint import verify_weights

        return verify_weights(self.origin, path, flag)


@dataclass(frozen=True)
class UserSource(Source):
    """The user's own model, ``FILE.py:NAME`` or ``module.path:NAME``: its code runs on build."""

    origin: UserModel
    kind = Kind.USER

    @property
    def label(self) -> str:
        return self.origin.label

    def build(self, device: str = "meta") -> nn.Module:
        return build_user_model(self.origin, device)

    def _trace(self, shape: tuple[int, ...], dtype: str, model: nn.Module | None) -> Trace:
        """Built on meta where it can be, else on the CPU; where the meta device cannot run
        its forward, traced again on the CPU with real tensors, and the trace says so."""
        import dataclasses

        from .tracing.realpass import MetaCannotTrace

        built = model if model is not None else self.build("meta")
        try:
            return self._run_forward(built, shape, dtype)
        except MetaCannotTrace as exc:
            if model_device(built) != "meta":
                raise
            trace = self._run_forward(self.real_model(built, shape, exc), shape, dtype)
            return dataclasses.replace(trace, real_pass_reason=exc.reason)

    def _run_forward(self, model: nn.Module, shape: tuple[int, ...], dtype: str) -> Trace:
        try:
            return super()._trace(shape, dtype, model)
        except (InspectError, KeyboardInterrupt):
            raise
        except BaseException as exc:  # the user's forward may raise anything: SystemExit too
            user = self.origin
            raise UserCodeError(f"{user.source}: {user.name}'s forward on {shape_text(shape)} "
                                f"raised {first_line(exc)}", user_traceback(exc)) from None  # fmt: skip


@dataclass(frozen=True, eq=False)
class ModuleSource(Source):
    """An ``nn.Module`` object the caller built (one of ours, or anything else), as it is."""

    origin: nn.Module
    kind = Kind.MODULE

    @property
    def label(self) -> str:
        return type(self.origin).__name__

    @property
    def spec(self) -> ResNetSpec | None:
        spec = getattr(self.origin, "spec", None)  # one of ours carries its spec
        return spec if isinstance(spec, ResNetSpec) else None

    def build(self, device: str = "meta") -> nn.Module:
        return self.origin  # built already, on the device the caller chose

    def proof_model(self, weights: str | None = None) -> nn.Module:
        """A copy on the CPU (the caller's module is never changed); from the meta device,
        its tensors allocated but not set: the proof draws them, or ``weights`` sets them."""
        import copy

        from .checkpoint import load_weights_into

        if model_device(self.origin) == "meta":
            model = copy.deepcopy(self.origin).to_empty(device="cpu")
        else:
            model = copy.deepcopy(self.origin).to("cpu")
        if weights is not None:
            load_weights_into(model, weights)
        return model


@dataclass(frozen=True)
class CheckpointSource(Source):
    """A weights file: identify reads which variant it holds (as data, never as code)."""

    origin: str  # the file's path
    subject: str = "FILE"  # the argument that named it, in a read error
    kind = Kind.CHECKPOINT

    @property
    def label(self) -> str:
        return self.origin

    def build(self, device: str = "meta") -> nn.Module:
        raise UsageError(f"{self.origin!r}: a checkpoint holds weights, not a model; give it to "
                         "identify or check", subject=self.subject)  # fmt: skip

    def identify(
        self, input_shape: tuple[int, ...] | None = None, reference: ResNetSpec | None = None,
        weights: str | None = None,
    ) -> Identified:  # fmt: skip
        given = "reference" if reference is not None else "weights" if weights is not None else None
        if given is not None:
            raise UsageError(f"{given}: applies to a model (FILE.py:NAME, a preset or an nn.Module); "
                             f"{self.origin!r} is a checkpoint, identified by its own weights", subject=given)  # fmt: skip
        from .checkpoint import read_checkpoint
        from .identification import identify

        return Identified(self.label, checkpoint=identify(read_checkpoint(self.origin, self.subject)))


class _SharedPasses:
    """identify's meta passes and presets, each made once for the three readers: the
    structure (:class:`.identification.structure.Passes`) and the words reader
    (:func:`.equivalence.words.operation_departures`) read one pass of each model, and the
    proof takes the preset's model as its reference (``prove``'s ``reference_model``). A pass
    that raises on meta, or a model not on meta, is left to each reader's own pass, as
    without sharing, so that their errors and fallbacks are what they were."""

    def __init__(self) -> None:
        self._presets: dict[ResNetSpec, nn.Module] = {}
        self._passes: dict[
            tuple[int, tuple[int, ...]], tuple[nn.Module, tuple[Pass, CallGraph] | None]
        ] = {}

    def preset(self, spec: ResNetSpec) -> nn.Module:
        from .model import build_model

        if spec not in self._presets:
            self._presets[spec] = build_model(spec, "meta")
        return self._presets[spec]

    def recorded(self, model: nn.Module, shape: tuple[int, ...]) -> tuple[Pass, CallGraph] | None:
        """The words reader's pass of ``model`` on a meta input and its call graph; None where
        the model is not on meta or that pass raised."""
        from .equivalence.operations import meta_pass

        if model_device(model) != "meta":  # a real model is not kept alive for another reader
            return None
        key = (id(model), tuple(shape))
        if key not in self._passes:
            try:
                made = meta_pass(model, shape)
            except Exception:  # the reader that needs it makes its own, and says why
                made = None
            self._passes[key] = (model, made)  # the model kept alive: its id stays its own
        return self._passes[key][1]

    def graph(self, model: nn.Module, input_shape: tuple[int, ...]) -> CallGraph:
        from .tracing.tracer import record_pass

        made = self.recorded(model, input_shape)
        return made[1] if made is not None else record_pass(model, input_shape, model_device(model))

    def for_words(
        self, model: nn.Module, spec: ResNetSpec, shape: tuple[int, ...]
    ) -> tuple[nn.Module | None, tuple[Pass | None, Pass] | None]:
        """The reference for the proof and the words reader (``spec`` with the input's
        channels, as the proof builds it), and the two passes the words reader reads (the
        user's None where it raised on meta: the reader makes its own); None where the
        reference's pass raised (the words reader then says nothing, as without sharing)."""
        from .equivalence.proof import with_channels

        try:
            ref = self.preset(with_channels(spec, shape)[0])
        except Exception:  # the proof builds it and says why
            return None, None
        ours, theirs = self.recorded(model, shape), self.recorded(ref, shape)
        if theirs is None:
            return ref, None
        return ref, (ours[0] if ours is not None else None, theirs[0])


# --- the one way in ------------------------------------------------------------------------------
def open_source(
    target: Any, overrides: Mapping[str, Any] | None = None, *, subject: str = "arch",
    accept: Collection[Kind] = MODELS, named: str | None = None,
) -> Source:  # fmt: skip
    """``target`` (a preset, spec string or ResNetSpec with ``overrides``; ``file.py:Name``; an
    nn.Module; a checkpoint path where ``accept`` has it; None for the default variant) as a
    Source, resolved once. Errors name ``subject``; ``named`` (a diff side, "A") prefixes a
    bad spec string's error with the side and the text."""
    if isinstance(target, Source):
        source = target
    else:
        source = _open(target, {k: v for k, v in (overrides or {}).items() if v is not None}, subject, accept, named)
    if source.kind not in accept:
        wanted = ", ".join(k.value for k in Kind if k in accept)
        raise UsageError(f"{subject}: expected {wanted}; got {source.kind.value}", subject=subject)
    return source


def _open(target: Any, overrides: dict[str, Any], subject: str, accept: Collection[Kind], named: str | None) -> Source:
    if _is_module(target):
        return ModuleSource(target)
    if isinstance(target, UserModel) or (isinstance(target, str) and is_user_code(target)):
        user = target if isinstance(target, UserModel) else parse_user_code(target)
        if overrides:
            given = sorted(overrides)
            raise UsageError(f"{', '.join(given)}: architecture fields apply to presets and spec "
                             f"strings, not to user code ({user.label}); pass the model's own "
                             "arguments in parentheses: file.py:Name(key=value)", subject=given[0])  # fmt: skip
        return UserSource(user)
    if isinstance(target, os.PathLike) or (Kind.CHECKPOINT in accept and isinstance(target, str)
                                           and os.path.isfile(target)):  # fmt: skip
        return CheckpointSource(os.fspath(target), subject)
    if target is not None and not isinstance(target, (str, ResNetSpec)):
        path = ", a checkpoint path" if Kind.CHECKPOINT in accept else ""
        raise UsageError(f"{subject}: expected an nn.Module, a ResNetSpec or a preset, spec string "
                         f"or file.py:Name{path}, got {type(target).__name__}", subject=subject)  # fmt: skip
    try:
        return SpecSource(resolve(target, **overrides))
    except SpecError as exc:
        if Kind.CHECKPOINT in accept and isinstance(target, str) and _looks_like_a_path(target):
            return CheckpointSource(target, subject)  # not a variant: a file, which says why it cannot be read
        if named is None:
            raise
        raise type(exc)(f"{named} {target!r}: {exc}", subject=exc.subject) from None


def _looks_like_a_path(text: str) -> bool:
    """Text that names a file (a folder in it, or an extension: ``weights.pth``) rather than a
    mistyped preset (``resnt50``), whose error should say "did you mean resnet50?"."""
    name = os.path.basename(text)
    return name != text or ("." in name and ":" not in text)


def _is_module(target: Any) -> bool:
    """Without importing torch: a caller who has not imported it holds no nn.Module."""
    import sys

    torch_nn = sys.modules.get("torch.nn")
    return torch_nn is not None and isinstance(target, torch_nn.Module)

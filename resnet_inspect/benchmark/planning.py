"""Before anything runs: the variants resolved, one configuration per variant and batch size, and
every check that can fail before a model is built (the config's values, the device and the
precision on this machine, the weights, the input fitting each variant). The result is a
:class:`BenchPlan`, which ``engine.run`` measures.

The plan holds each configuration's meta-device trace, made once for the run: its FLOPs are
checked before the run, reported after it, and split by stage for ``breakdown``.

Errors name the argument (``batches``, ``input_shape``, ``warmup_s``) at the start of the
message and as the error's ``subject``; the command line renames them to its flags.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import InspectError, RuntimeFailure, UsageError
from ..spec import ResNetSpec
from ..units import human_bytes
from ..usermodel import UserModel
from .config import (
    BenchConfig,
    BenchTask,
    Breakdown,
    Optimizer,
    check_batches,
    check_input_shape,
    check_values,
    resolve_variants,
)
from .environment import check_device, check_precision_runs

if TYPE_CHECKING:
    from ..sources import Source
    from ..tracing import Trace

TRACE_ITEMSIZE = 4  # the plan's traces are float32; their byte counts are scaled to the run's
# Backward FLOPs per forward FLOP: convolution and linear compute the input's and the
# weight's gradient (two products the size of the forward); every other operator one
# gradient of its input, about its forward's cost. The optimizer's step (a few FLOPs per
# parameter) is not counted.
BACKWARD_FACTOR = {"convolution": 2, "linear": 2}
TRAIN_FLOPS_NOTE = (
    "Training step FLOPs: the forward's, plus the backward at twice the forward for "
    "convolution and linear (input and weight gradients) and once the forward for every other "
    "operator; the optimizer's step (a few FLOPs per parameter) is not counted."
)


@dataclass(frozen=True, eq=False)
class BenchPlan:
    """Checked configurations under one config, each with its trace."""

    tasks: tuple[BenchTask, ...]
    config: BenchConfig
    traces: Mapping[BenchTask, Trace]
    weights_ecosystem: str | None = None  # the --weights file's layout, where it was mapped

    def flops(self, task: BenchTask) -> int:
        """FLOPs of one forward pass of the batch, from the meta-device trace."""
        return self.traces[task].totals.flops

    def step_flops(self, task: BenchTask) -> int:
        """FLOPs of what is timed: a forward pass, or with training forward + backward (see
        BACKWARD_FACTOR)."""
        if not self.config.training:
            return self.flops(task)
        return self.flops(task) + backward_flops(self.traces[task])

    def saved_estimate(self, task: BenchTask) -> int:
        """The trace's "kept for backward" estimate, in the run's precision."""
        trace = self.traces[task]
        return trace.totals.training_activation_bytes * self.config.precision.itemsize // TRACE_ITEMSIZE

    def layer_costs(self, task: BenchTask) -> dict[str, tuple[int, int, str]]:
        """Per leaf layer: FLOPs, bytes moved (as for the stages) and its class."""
        trace = self.traces[task]
        return {r.name: (r.flops, self._moved(r), r.type) for r in trace.layers if r.is_leaf}

    def _moved(self, r: Any) -> int:
        act = self.config.precision.itemsize
        weight = 4 if self.config.amp else act
        return int(r.params * weight + (math.prod(r.input_shape) + math.prod(r.output_shape)) * act)

    def required_bytes(self) -> tuple[int, int]:
        """An estimate of the run's peak memory, and the activations' part of it: every
        configuration's input and (training) model, gradients and optimizer state, or each
        variant's weights (inference) stay resident; the largest configuration's activations
        come on top."""
        resident = sum(math.prod(t.input_shape) * self.config.precision.itemsize for t in self.tasks)
        holders = self.tasks if self.config.training else tuple({t.source: t for t in self.tasks}.values())
        resident += sum(self.model_bytes(t) for t in holders)
        activations = max((self.activation_bytes(t) for t in self.tasks), default=0)
        return resident + activations, activations

    def model_bytes(self, task: BenchTask) -> int:
        """Weights; with training also their gradients and the optimizer's state."""
        weights = self.traces[task].totals.params * (4 if self.config.amp else self.config.precision.itemsize)
        if not self.config.training:
            return weights
        states = 2 if self.config.optimizer is Optimizer.ADAMW else 1  # Adam's moments; momentum
        return weights * (2 + states)

    def activation_bytes(self, task: BenchTask) -> int:
        totals = self.traces[task].totals
        peak = totals.peak_activation_bytes * self.config.precision.itemsize // TRACE_ITEMSIZE
        return peak + (self.saved_estimate(task) if self.config.training else 0)

    def stage_costs(self, task: BenchTask) -> dict[str, tuple[int, int]]:
        """Per stage: FLOPs, and bytes moved if every layer reads its weights and input and
        writes its output once (activations in the run's precision; weights float32 under
        autocast)."""
        trace = self.traces[task]
        act = self.config.precision.itemsize
        weight = 4 if self.config.amp else act
        costs: dict[str, tuple[int, int]] = {}
        for row in trace.stages():
            leaves = [r for r in trace.layers if r.is_leaf and r.stage == row.name]
            moved = sum(r.params * weight + (math.prod(r.input_shape) + math.prod(r.output_shape)) * act
                        for r in leaves)  # fmt: skip
            costs[row.name] = (row.flops, moved)
        return costs


def plan(
    variants: Sequence[Source | ResNetSpec | UserModel | str | None],
    batches: Sequence[int] = (1,),
    input_shape: Sequence[int] | None = None,
    config: BenchConfig | None = None,
) -> BenchPlan:
    """Every variant at every batch size, checked and traced, ready to run.

    ``variants``: specs, presets or spec strings (None: the default variant); ``batches``: batch
    sizes, each measured once; ``input_shape``: one image, CxHxW (default: each variant's own).
    """
    sources = resolve_variants(variants)
    sizes = check_batches(batches)
    chw = check_input_shape(input_shape) if input_shape is not None else None
    tasks = [BenchTask(s, b, chw or s.default_input_shape()[1:]) for s in sources for b in sizes]
    return plan_tasks(tasks, config if config is not None else BenchConfig())


def plan_tasks(tasks: Sequence[BenchTask], config: BenchConfig, check_memory: bool = True) -> BenchPlan:
    """Configurations made by hand, checked and traced like :func:`plan`'s. With
    ``check_memory``, a run that would not fit in the memory available is refused
    (RuntimeFailure) before anything is built."""
    check_config(config)
    user_code = [t.label for t in tasks if t.spec is None]
    if config.breakdown is Breakdown.STAGE and user_code:
        raise UsageError(f"breakdown stage: times our variants' stems, stages and heads; {user_code[0]} "
                         "is your own model, whose forward cannot be cut into them",
                         subject="breakdown")  # fmt: skip
    ecosystem = None
    if config.weights is not None:
        for source in dict.fromkeys(t.source for t in tasks):
            ecosystem = _check_weights(source, config.weights)  # before anything is built or timed
    traces = {task: _trace(task) for task in tasks}  # the input fits the network
    planned = BenchPlan(tuple(tasks), config, MappingProxyType(traces), ecosystem)
    if config.training:
        for task in tasks:
            _check_batch_norm_trains(task, traces[task])
    if check_memory:
        check_fits(planned)
    return planned


def check_fits(planned: BenchPlan) -> None:
    """Refuse a run whose estimated peak is more than the memory available to it (on the CPU
    the kernel's OOM killer would end it with no message)."""
    from .memory import available_bytes

    config = planned.config
    available, where = available_bytes(config)
    need, activations = planned.required_bytes()
    if available is not None and need > available:
        raise RuntimeFailure(
            f"memory: this run needs about {human_bytes(need)} ({human_bytes(need - activations)} "
            f"of {'weights, inputs, gradients and optimizer state' if config.training else 'weights and inputs'}, "
            f"{human_bytes(activations)} of activations at the largest configuration) but "
            f"{human_bytes(available)} is available on {config.device} ({where}); use smaller "
            "batches, fewer variants or a lower precision", subject="memory",
        )  # fmt: skip


def _check_batch_norm_trains(task: BenchTask, trace: Trace) -> None:
    """Batch norm in train mode needs more than one value per channel (batch x height x width)."""
    for r in trace.layers:
        if r.is_leaf and "BatchNorm" in r.type and math.prod(r.input_shape) // r.input_shape[1] <= 1:
            raise UsageError(f"batches {task.batch}: training {task.label}, {r.name} normalises "
                             f"{r.type} inputs of shape {list(r.input_shape)}: one value per "
                             "channel; train with a batch of at least 2", subject="batches")  # fmt: skip


def backward_flops(trace: Trace) -> int:
    """The backward pass's FLOPs by BACKWARD_FACTOR, from every module's own operator."""
    return sum(r.self_flops * BACKWARD_FACTOR.get(r.operator or "", 1) for r in trace.layers)


def check_config(config: BenchConfig) -> None:
    """Bad combinations and a precision this machine cannot run: UsageError (exit 2); a GPU it
    does not have: RuntimeFailure (exit 1)."""
    check_values(config)
    check_device(config)
    check_precision_runs(config)


def _check_weights(source: Source, path: str) -> str | None:
    """The file loads strictly into the variant (read as data; no model is built for it); the
    ecosystem whose layout it was mapped from, if any."""
    try:
        return source.verify_weights(path, "weights").ecosystem
    except InspectError as exc:
        exc.subject = "weights"
        raise


def _trace(task: BenchTask) -> Trace:
    return task.source.trace(task.input_shape)

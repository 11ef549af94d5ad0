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
from typing import TYPE_CHECKING

from ..errors import InspectError, UsageError
from ..spec import ResNetSpec
from ..usermodel import UserModel
from .config import (
    BenchConfig,
    BenchTask,
    check_batches,
    check_input_shape,
    check_values,
    resolve_variants,
)
from .environment import check_device, check_precision_runs

if TYPE_CHECKING:
    from ..tracing import Trace


@dataclass(frozen=True, eq=False)
class BenchPlan:
    """Checked configurations under one config, each with its trace."""

    tasks: tuple[BenchTask, ...]
    config: BenchConfig
    traces: Mapping[BenchTask, Trace]

    def flops(self, task: BenchTask) -> int:
        """FLOPs of one forward pass of the batch, from the meta-device trace."""
        return self.traces[task].totals.flops

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
    variants: Sequence[ResNetSpec | UserModel | str | None],
    batches: Sequence[int] = (1,),
    input_shape: Sequence[int] | None = None,
    config: BenchConfig | None = None,
) -> BenchPlan:
    """Every variant at every batch size, checked and traced, ready to run.

    ``variants``: specs, presets or spec strings (None: the default variant); ``batches``: batch
    sizes, each measured once; ``input_shape``: one image, CxHxW (default: each variant's own).
    """
    specs = resolve_variants(variants)
    sizes = check_batches(batches)
    chw = check_input_shape(input_shape) if input_shape is not None else None
    tasks = [BenchTask(s, b, chw or s.default_input_shape()[1:]) for s in specs for b in sizes]
    return plan_tasks(tasks, config if config is not None else BenchConfig())


def plan_tasks(tasks: Sequence[BenchTask], config: BenchConfig) -> BenchPlan:
    """Configurations made by hand, checked and traced like :func:`plan`'s."""
    check_config(config)
    user_code = [t.label for t in tasks if isinstance(t.spec, UserModel)]
    if config.breakdown and user_code:
        raise UsageError(f"breakdown: times our variants' stems, stages and heads; {user_code[0]} "
                         "is your own model, whose forward cannot be cut into them",
                         subject="breakdown")  # fmt: skip
    if config.weights is not None:
        for spec in dict.fromkeys(t.spec for t in tasks):
            _check_weights(spec, config.weights)  # before anything is built or timed
    traces = {task: _trace(task) for task in tasks}  # the input fits the network
    return BenchPlan(tuple(tasks), config, MappingProxyType(traces))


def check_config(config: BenchConfig) -> None:
    """Bad combinations and a precision this machine cannot run: UsageError (exit 2); a GPU it
    does not have: RuntimeFailure (exit 1)."""
    check_values(config)
    check_device(config)
    check_precision_runs(config)


def _check_weights(spec: ResNetSpec | UserModel, path: str) -> None:
    """The file loads strictly into the variant (read as data; no model is built for it)."""
    from ..sources import verify_weights_for

    try:
        verify_weights_for(spec, path, "weights")
    except InspectError as exc:
        exc.subject = "weights"
        raise


def _trace(task: BenchTask) -> Trace:
    from ..sources import trace_source

    return trace_source(task.spec, task.input_shape)

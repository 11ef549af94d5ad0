"""Before anything runs: the checks of a config on this machine, and each configuration's
trace (its FLOPs, checked before the run and reported after it, split by stage for
``breakdown``)."""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

from .config import BenchConfig, BenchTask, check_values
from .environment import check_device, check_precision_runs

if TYPE_CHECKING:
    from ..tracing import Trace


def check_config(config: BenchConfig) -> None:
    """Bad combinations and a precision this machine cannot run: UsageError (exit 2); a GPU it
    does not have: RuntimeFailure (exit 1)."""
    check_values(config)
    check_device(config)
    check_precision_runs(config)


@functools.lru_cache(maxsize=64)
def _trace(task: BenchTask) -> Trace:
    """The meta-device trace of a configuration, made once: its FLOPs are checked before the
    run, reported after it, and split by stage for --breakdown."""
    from ..tracing import trace_spec

    return trace_spec(task.spec, task.input_shape)


def task_flops(task: BenchTask) -> int:
    """FLOPs of one forward pass of the batch, from the meta-device trace."""
    return _trace(task).totals.flops


def stage_costs(task: BenchTask, config: BenchConfig) -> dict[str, tuple[int, int]]:
    """Per stage: FLOPs, and bytes moved if every layer reads its weights and input and writes
    its output once (activations in the run's precision; weights float32 under autocast)."""
    trace = _trace(task)
    act = config.precision.itemsize
    weight = 4 if config.amp else act
    costs: dict[str, tuple[int, int]] = {}
    for row in trace.stages():
        leaves = [r for r in trace.layers if r.is_leaf and r.stage == row.name]
        moved = sum(r.params * weight + (math.prod(r.input_shape) + math.prod(r.output_shape)) * act
                    for r in leaves)  # fmt: skip
        costs[row.name] = (row.flops, moved)
    return costs

"""The largest batch that fits: ``bench --max-batch``.

The search is a bisection over batch sizes: the size doubles from 1 until one does not fit (or
the largest batch bench accepts, MAX_BATCH, does), then the gap between the last size that fit
and the first that did not is halved until they meet. It needs about 2 log2(answer) probes.

What "fits" means depends on the device:

- on a GPU, a probe runs the real thing (a forward pass, or a training step with its
  optimizer) at that batch size. An out-of-memory error is caught, every tensor of the probe
  dropped and the caching allocator emptied, so the next probe (and whatever runs after) starts
  from a clean device;
- on the CPU an out-of-memory is the kernel's OOM killer ending the process, so nothing is
  probed for real: a size fits when the estimate of ``BenchPlan.required_bytes`` is within the
  memory the process may use (the container's limit included). The answer says it is an
  estimate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .config import MAX_BATCH, BenchConfig, BenchTask
from .memory import available_bytes, free_memory
from .planning import plan_tasks

if TYPE_CHECKING:
    from ..sources import Source


@dataclass(frozen=True)
class BatchFit:
    """The largest batch of one variant that fits, and how it was found."""

    task: BenchTask  # at the largest batch that fits (batch 0: not even one image fits)
    probes: tuple[tuple[int, bool], ...]  # (batch, fitted), in the order tried
    measured: bool  # True: real probes on the device; False: the memory estimate
    available_bytes: int | None
    basis: str  # where the available figure comes from


def bisect_largest(fits: Callable[[int], bool], upper: int = MAX_BATCH,
                   start: int = 1) -> tuple[int, list[tuple[int, bool]]]:  # fmt: skip
    """The largest n in start..upper with ``fits(n)`` (0 if none), assuming that fitting is
    monotone, and the probes made."""
    probes: list[tuple[int, bool]] = []

    def probe(n: int) -> bool:
        ok = fits(n)
        probes.append((n, ok))
        return ok

    good, bad, n = 0, upper + 1, start
    while n <= upper:  # doubling
        if not probe(n):
            bad = n
            break
        good, n = n, n * 2
    else:
        if good < upper and probe(upper):
            return upper, probes
        bad = upper if good < upper else upper + 1
    if good == 0:
        return 0, probes
    while bad - good > 1:  # halving
        mid = (good + bad) // 2
        if probe(mid):
            good = mid
        else:
            bad = mid
    return good, probes


def find_max_batch(source: Source, input_chw: tuple[int, int, int] | None, config: BenchConfig) -> BatchFit:
    """The largest batch of ``source`` (on its default input, or ``input_chw``) for
    ``config``'s device, mode and precision."""
    return max_batch(BenchTask(source, 1, input_chw or source.default_input_shape()[1:]), config)


def max_batch(task: BenchTask, config: BenchConfig) -> BatchFit:
    """The largest batch of ``task``'s variant and input for ``config``'s mode and precision."""
    available, basis = available_bytes(config)
    start = 2 if config.training else 1  # batch norm trains on more than one value per channel
    plan_tasks([_at(task, start)], config, check_memory=False)  # the input fits the network
    if config.is_cuda:
        best, probes = bisect_largest(lambda n: run_probe(_at(task, n), config), start=start)
    else:
        def fits(n: int) -> bool:
            planned = plan_tasks([_at(task, n)], config, check_memory=False)
            return available is None or planned.required_bytes()[0] <= available

        best, probes = bisect_largest(fits, start=start)
    return BatchFit(_at(task, best), tuple(probes), config.is_cuda, available, basis)


def _at(task: BenchTask, batch: int) -> BenchTask:
    return dataclasses.replace(task, batch=batch)


def run_probe(task: BenchTask, config: BenchConfig) -> bool:
    """One real step at this batch size; False on out-of-memory, with the device cleaned."""
    from .engine import is_oom, probe_step

    try:
        probe_step(task, config)
        return True
    except Exception as exc:
        if not is_oom(exc):
            raise
        return False
    finally:
        free_memory(config)
        if config.is_cuda:
            torch.cuda.synchronize(torch.device(config.device))

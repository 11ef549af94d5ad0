"""torch.compile for a run, so that a compiled row is really compiled.

The model of each variant is compiled once, with static shapes (``dynamic=False``): every batch
size of the sweep gets its own graph, specialised to its shape, as a fixed-batch deployment
would. torch._dynamo keeps those graphs in one cache per code object (the model's ``forward``,
shared by every variant built from the same class) and, past ``recompile_limit`` entries
(8 by default), silently runs the frame eagerly. For the run the limit is raised to hold one
entry per configuration with room to spare, and ``fail_on_recompile_limit_hit`` is set, so a
configuration that would still fall back to eager fails loudly: the engine marks it "not
compiled" and times it not at all. Both settings are restored afterwards.

Every configuration's row says how many graphs its first call compiled, how many graph breaks
it found and whether anything was compiled again while it was timed (:class:`CompileStats`,
read from ``torch._dynamo.utils.counters``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from .config import BenchConfig
from .results import CompileStats

LIMIT_MARGIN = 8  # torch's default limit, kept free on top of one entry per configuration


@contextmanager
def compile_limits(configurations: int) -> Iterator[None]:
    """Room for one cache entry per configuration; a fallback to eager raises instead."""
    config: Any = torch._dynamo.config
    names = ("recompile_limit", "accumulated_recompile_limit", "fail_on_recompile_limit_hit")
    saved = {name: getattr(config, name) for name in names if hasattr(config, name)}
    try:
        wanted = configurations + LIMIT_MARGIN
        for name in ("recompile_limit", "accumulated_recompile_limit"):
            if name in saved:
                setattr(config, name, max(saved[name], wanted))
        if "fail_on_recompile_limit_hit" in saved:
            config.fail_on_recompile_limit_hit = True
        yield
    finally:
        for name, value in saved.items():
            setattr(config, name, value)


def compile_model(model: nn.Module, config: BenchConfig) -> Callable[..., Any]:
    assert config.compile_mode is not None
    return torch.compile(model, mode=config.compile_mode.value, dynamic=False)


def counts() -> tuple[int, int, int]:
    """Frames compiled, graphs made and graph breaks found so far in this process."""
    from torch._dynamo.utils import counters

    return (int(counters["frames"]["total"]), int(counters["stats"]["unique_graphs"]),
            int(sum(counters["graph_break"].values())))  # fmt: skip


def stats_between(first: tuple[int, int, int], compiled: tuple[int, int, int],
                  recompiled_frames: int) -> CompileStats:  # fmt: skip
    """The counts of one configuration: its first call (``first`` -> ``compiled``), and the
    frames compiled while it was timed."""
    return CompileStats(graphs=compiled[1] - first[1], graph_breaks=compiled[2] - first[2],
                        recompiles=recompiled_frames)  # fmt: skip


def is_fallback(exc: BaseException) -> bool:
    """torch._dynamo refused to compile again (the recompile limit), instead of going eager."""
    return type(exc).__name__ in ("FailOnRecompileLimitHit", "FailOnCacheLimitHit")

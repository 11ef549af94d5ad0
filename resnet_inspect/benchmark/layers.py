"""The per-layer breakdown: every leaf module's forward timed between a pre- and a post-hook.

The clock marks (a ``perf_counter`` reading on the CPU, a recorded CUDA event on a GPU) are
read after the pass, so a pass is not synchronised layer by layer. The time between the
modules (the residual additions, functional ReLUs, the hooks' own work) is kept as "outside
the layers", so that the rows add up to the hooked pass.

Hooks cost time. The overhead is measured, not guessed: whole passes with the hooks and
without them are timed in turn, and both medians are reported. The breakdown runs the eager
model, even under ``--compile`` (a compiled graph fuses layers and has no module boundaries).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn

from .clocks import Clock


def leaf_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in model.named_modules() if name and not any(m.children())]


@contextmanager
def layer_hooks(model: nn.Module, clock: Clock, marks: dict[str, list[Any]]) -> Iterator[None]:
    """Marks before and after every leaf module's forward, into ``marks[name]``."""
    handles = []
    for name, module in leaf_modules(model):
        def pre(_m: nn.Module, _args: Any, name: str = name) -> None:
            marks.setdefault(name, []).append(clock.mark())

        def post(_m: nn.Module, _args: Any, _out: Any, name: str = name) -> None:
            marks[name].append(clock.mark())

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def hooked_pass(forward: Callable[[], Any], model: nn.Module, clock: Clock) -> tuple[dict[str, float], float]:
    """One forward with every leaf timed: seconds per leaf (summed over its calls), and the
    whole pass."""
    marks: dict[str, list[Any]] = {}
    clock.sync()
    with layer_hooks(model, clock, marks):
        start = clock.mark()
        forward()
        end = clock.mark()
    clock.sync()
    times = {name: sum(clock.between(a, b) for a, b in zip(m[::2], m[1::2], strict=True))
             for name, m in marks.items()}  # fmt: skip
    return times, clock.between(start, end)


def plain_pass(forward: Callable[[], Any], clock: Clock) -> float:
    return clock.time_one(forward)



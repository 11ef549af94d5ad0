"""Clocks: wall time on the CPU, where a forward pass is synchronous; CUDA events on a GPU."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .config import BenchConfig


class Clock:
    """Wall-clock timing; forward passes on the CPU are synchronous."""

    def sync(self) -> None:
        pass

    def time_one(self, step: Callable[[], Any]) -> float:
        self.sync()
        start = time.perf_counter()
        step()
        self.sync()
        return time.perf_counter() - start

    def time_block(self, step: Callable[[], Any], n: int) -> float | None:
        """Seconds per iteration over ``n`` back-to-back iterations; None where that is the
        same as the per-iteration timing (the CPU)."""
        return None

    def time_pieces(self, pieces: Sequence[Callable[[Any], Any]], x: Any) -> list[float]:
        """Each piece's time within one pass, the output of one feeding the next."""
        self.sync()
        marks = [time.perf_counter()]
        for piece in pieces:
            x = piece(x)
            self.sync()
            marks.append(time.perf_counter())
        return [b - a for a, b in itertools.pairwise(marks)]

    def mark(self) -> Any:
        """A point in time, to be read by :meth:`between` once the work is done."""
        return time.perf_counter()

    def between(self, start: Any, end: Any) -> float:
        """Seconds from one :meth:`mark` to another (after :meth:`sync`)."""
        return float(end - start)


class CudaClock(Clock):
    def __init__(self, device: str) -> None:
        self.device = torch.device(device)

    def sync(self) -> None:
        torch.cuda.synchronize(self.device)

    def time_block(self, step: Callable[[], Any], n: int) -> float | None:
        event: Any = torch.cuda.Event
        start, end = event(enable_timing=True), event(enable_timing=True)
        self.sync()
        start.record()
        for _ in range(n):
            step()
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end)) / 1e3 / n

    def time_pieces(self, pieces: Sequence[Callable[[Any], Any]], x: Any) -> list[float]:
        event: Any = torch.cuda.Event
        events = [event(enable_timing=True) for _ in range(len(pieces) + 1)]
        self.sync()
        events[0].record()
        for piece, event in zip(pieces, events[1:], strict=True):
            x = piece(x)
            event.record()
        events[-1].synchronize()
        return [float(a.elapsed_time(b)) / 1e3 for a, b in itertools.pairwise(events)]


    def mark(self) -> Any:
        make: Any = torch.cuda.Event
        event = make(enable_timing=True)
        event.record()
        return event

    def between(self, start: Any, end: Any) -> float:
        return float(start.elapsed_time(end)) / 1e3


def clock_for(config: BenchConfig) -> Clock:
    return CudaClock(config.device) if config.is_cuda else Clock()

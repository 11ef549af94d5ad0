"""What was measured: frozen records, raw times in, statistics as properties (``stats.py``).

Plain data, no torch. A :class:`Measurement` is one configuration's result; a
:class:`BenchResult` is every configuration's, with the environment they ran in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .config import BenchTask, Status
from .stats import TimeStatistics, quantile

if TYPE_CHECKING:
    from .environment import Environment


@dataclass(frozen=True)
class MemoryPeak:
    """CUDA: this configuration's weights + input + the forward's working memory (allocated),
    and the caching allocator's reservation at that peak. CPU: the process's resident peak."""

    allocated_bytes: int | None = None
    reserved_bytes: int | None = None
    resident_bytes: int | None = None


@dataclass(frozen=True)
class StageTiming(TimeStatistics):
    name: str  # stem, layer1.., head
    times_s: tuple[float, ...]
    flops: int
    bytes_moved: int  # weights + input + output of every layer, each once (no fusion, no cache)

    @property
    def flops_per_s(self) -> float:
        return self.flops / self.median_s

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: FLOPs per byte moved."""
        return self.flops / self.bytes_moved if self.bytes_moved else 0.0


@dataclass(frozen=True)
class Measurement(TimeStatistics):
    task: BenchTask
    status: Status
    flops: int = 0  # of one forward pass of the whole batch (see counting.py)
    times_s: tuple[float, ...] = ()  # one per synchronised iteration: latency
    block_times_s: tuple[float, ...] = ()  # per iteration, from back-to-back blocks (CUDA)
    compile_s: float | None = None
    memory: MemoryPeak | None = None
    stages: tuple[StageTiming, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is Status.OK and bool(self.times_s)

    @property
    def time_per_batch_s(self) -> float:
        """Back-to-back time per iteration where measured (CUDA), else the median latency."""
        return quantile(self.block_times_s, 0.5) if self.block_times_s else self.median_s

    @property
    def images_per_s(self) -> float:
        return self.task.batch / self.time_per_batch_s

    @property
    def flops_per_s(self) -> float:
        return self.flops / self.time_per_batch_s

    @property
    def stages_median_s(self) -> float:
        """The stages' medians added up (each stage timed on its own; see the engine)."""
        return sum(s.median_s for s in self.stages)

    def stage_share(self, stage: StageTiming) -> float:
        """One stage's median as a share of :attr:`stages_median_s`."""
        total = self.stages_median_s
        return stage.median_s / total if total else 0.0


@dataclass(frozen=True)
class BenchResult:
    environment: Environment
    measurements: tuple[Measurement, ...]
    interrupted: bool = False

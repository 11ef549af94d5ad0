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
    # the parts of it, each where it can be measured (tensor sizes: every device)
    weight_bytes: int | None = None  # parameters and buffers
    gradient_bytes: int | None = None  # train: the .grad tensors of one backward
    optimizer_bytes: int | None = None  # train: the optimizer's state (momentum, moments)
    saved_bytes: int | None = None  # train: kept for backward, measured by saved-tensor hooks
    saved_estimate_bytes: int | None = None  # train: the trace's "kept for backward" estimate


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
class LayerTiming(StageTiming):
    """One leaf module's forward, timed between hooks around it."""

    type: str = ""  # its class: Conv2d, BatchNorm2d, ...


@dataclass(frozen=True)
class HookOverhead:
    """The cost of timing every layer: whole passes with the hooks and without, interleaved."""

    plain_times_s: tuple[float, ...]
    hooked_times_s: tuple[float, ...]

    @property
    def plain_median_s(self) -> float:
        return quantile(self.plain_times_s, 0.5)

    @property
    def hooked_median_s(self) -> float:
        return quantile(self.hooked_times_s, 0.5)

    @property
    def share(self) -> float:
        """How much longer a pass takes with the hooks, as a share of a plain pass."""
        return self.hooked_median_s / self.plain_median_s - 1


@dataclass(frozen=True)
class CompileStats:
    """What torch.compile did for one configuration (torch._dynamo's counters)."""

    graphs: int  # graphs compiled at this batch size's first call
    graph_breaks: int  # graph breaks found then
    recompiles: int  # frames compiled again while it was timed (0: it stayed compiled)


@dataclass(frozen=True)
class Measurement(TimeStatistics):
    task: BenchTask
    status: Status
    flops: int = 0  # of what is timed, for the whole batch: a forward pass, or a training step
    times_s: tuple[float, ...] = ()  # one per synchronised iteration: latency
    block_times_s: tuple[float, ...] = ()  # per iteration, from back-to-back blocks (CUDA)
    compile_s: float | None = None
    memory: MemoryPeak | None = None
    stages: tuple[StageTiming, ...] = ()
    forward_flops: int = 0  # of the forward pass alone (the same as flops when inferring)
    layers: tuple[LayerTiming, ...] = ()  # every leaf module, as measured (unsorted)
    layer_overhead: HookOverhead | None = None
    compiled: CompileStats | None = None
    outside_layers_s: tuple[float, ...] = ()  # per hooked pass: time outside every leaf module

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

    @property
    def layers_median_s(self) -> float:
        """The layers' medians added up, and the median time outside them (additions, glue)."""
        outside = quantile(self.outside_layers_s, 0.5) if self.outside_layers_s else 0.0
        return sum(layer.median_s for layer in self.layers) + outside

    def layer_share(self, layer: StageTiming) -> float:
        total = self.layers_median_s
        return layer.median_s / total if total else 0.0

    def stage_share(self, stage: StageTiming) -> float:
        """One stage's median as a share of :attr:`stages_median_s`."""
        total = self.stages_median_s
        return stage.median_s / total if total else 0.0


@dataclass(frozen=True)
class BenchResult:
    environment: Environment
    measurements: tuple[Measurement, ...]
    interrupted: bool = False
    weights_ecosystem: str | None = None  # --weights mapped from another layout (BenchPlan's)

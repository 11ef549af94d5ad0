"""The engine: every configuration of a checked plan (``planning.py``) prepared, then timed
round-robin, then (with ``breakdown``) stage by stage or layer by layer.

What is timed is a forward pass (``Mode.INFER``: eval mode, ``torch.inference_mode``) or a
training step (``Mode.TRAIN``: train mode, forward, loss, backward, optimizer step; see
``training.py``).

Method, in order:

1. every configuration is prepared: the model built on the device (shared between batch sizes
   of one variant; in training each configuration has its own model and optimizer, as a
   step changes them), the input made once on the device, ``torch.compile`` timed on its first
   call (shown apart, never mixed into the latency; see ``compiled.py`` for what makes a row
   compiled), a warm-up by time, and a separate pass that measures peak memory;
2. the configurations are timed round-robin, a slice of ``min_time`` each per turn, so that
   clock drift and thermal changes hit all of them alike. Every iteration is timed on its own
   (synchronised on CUDA): that is the latency. On CUDA each turn also times the same number
   of iterations back to back between two events: that is the throughput. On CPU a forward is
   synchronous, so the throughput is batch / median latency;
3. with ``breakdown``, each stage (stem, layer1.., head) is timed on its own, or every leaf
   layer between hooks (``layers.py``), eagerly, the forward pass only.

Everything runs under :func:`~.environment.backend_settings` (and ``torch.inference_mode``
when inferring). An out-of-memory configuration is marked and freed, and the others go on;
Ctrl-C returns what finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..errors import RuntimeFailure
from . import compiled as dynamo
from .clocks import Clock, clock_for
from .config import MIN_SAMPLES, ROUNDS, BenchConfig, BenchTask, Breakdown, CompileMode, Status
from .environment import TORCH_DTYPE, autocast, backend_settings, collect_environment
from .layers import hooked_pass, plain_pass
from .memory import free_memory, memory_pass
from .planning import BenchPlan, plan_tasks
from .results import (
    BenchResult,
    HookOverhead,
    LayerTiming,
    Measurement,
    MemoryPeak,
    StageTiming,
)
from .training import (
    TrainParts,
    gradient_bytes,
    make_optimizer,
    make_scaler,
    make_target,
    optimizer_state_bytes,
    saved_activation_bytes,
    train_step,
    weight_bytes,
)

if TYPE_CHECKING:
    from ..sources import Source

CUDA_GRAPH_WARMUP_CALLS = 3  # reduce-overhead records its CUDA graph after a few calls
ProgressFn = Callable[[float, str], None]  # (fraction done 0..1, what is running)


@dataclass
class _Live:
    """A configuration being measured (mutable, private to the engine)."""

    task: BenchTask
    model: nn.Module | None = None
    step: Callable[[], Any] | None = None
    x: torch.Tensor | None = None
    times: list[float] = field(default_factory=list)
    blocks: list[float] = field(default_factory=list)
    compile_s: float | None = None
    memory: MemoryPeak | None = None
    stages: tuple[StageTiming, ...] = ()
    layers: tuple[LayerTiming, ...] = ()
    outside_s: list[float] = field(default_factory=list)
    overhead: HookOverhead | None = None
    counts_before: tuple[int, int, int] | None = None  # torch._dynamo's, before the first call
    counts_after: tuple[int, int, int] | None = None  # and after it
    recompiles: int = 0  # frames compiled while it was timed
    status: Status = Status.INTERRUPTED

    @property
    def pending(self) -> bool:
        return self.status is Status.INTERRUPTED

    def enough(self, min_time_s: float) -> bool:
        return sum(self.times) >= min_time_s and len(self.times) >= MIN_SAMPLES


def run(plan: BenchPlan, progress: ProgressFn | None = None) -> BenchResult:
    """Measure every configuration of ``plan``. Ctrl-C returns what finished, with
    ``interrupted=True``."""
    config = plan.config
    report = progress or (lambda _f, _d: None)
    grad = contextlib.nullcontext() if config.training else torch.inference_mode()
    limits = dynamo.compile_limits(len(plan.tasks)) if config.compile_mode else contextlib.nullcontext()
    with backend_settings(config), grad, limits:
        env = collect_environment(config)
        lives = [_Live(t) for t in plan.tasks]
        interrupted = False
        try:
            _prepare_all(lives, plan, report)
            _rounds(lives, config, report)
            if config.breakdown is not Breakdown.OFF:
                _breakdowns(lives, plan, report)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            for live in lives:
                _release(live)
    return BenchResult(env, tuple(_result(live, plan) for live in lives), interrupted, plan.weights_ecosystem)


def run_bench(
    tasks: Sequence[BenchTask], config: BenchConfig, progress: ProgressFn | None = None
) -> BenchResult:
    """Check and measure configurations made by hand: :func:`run` of their plan."""
    return run(plan_tasks(tasks, config), progress)


# --- 1. preparing ------------------------------------------------------------------------------
def _prepare_all(lives: list[_Live], plan: BenchPlan, report: ProgressFn) -> None:
    config = plan.config
    models: dict[Source, nn.Module] = {}
    compiled: dict[Source, Callable[..., Any]] = {}
    for i, live in enumerate(lives):
        report(0.2 * i / len(lives), f"warming up {live.task.label} @ batch {live.task.batch}")
        try:
            _prepare(live, plan, models, compiled)
        except Exception as exc:
            _handle(live, config, exc)


def _handle(live: _Live, config: BenchConfig, exc: Exception) -> None:
    """An eager fallback or an out-of-memory marks its configuration and the sweep goes on;
    anything else ends the run."""
    if isinstance(exc, _NotCompiled) or dynamo.is_fallback(exc):
        _mark(live, config, Status.NOT_COMPILED)
    elif is_oom(exc):
        _mark(live, config, Status.OOM)
    else:
        raise _failure(live.task, exc) from exc


def _prepare(live: _Live, plan: BenchPlan, models: dict[Source, nn.Module],
             compiled: dict[Source, Callable[..., Any]]) -> None:  # fmt: skip
    config, source = plan.config, live.task.source
    if config.training:  # a step changes the weights: each configuration trains its own copy
        models.pop(source, None)
        compiled.pop(source, None)
    if source not in models:
        models[source] = _make_model(source, config)
        if config.compile_mode is not None:
            compiled[source] = dynamo.compile_model(models[source], config)
    live.model = models[source]
    live.x = x = make_input(live.task, config)
    fn = compiled.get(source, live.model)
    parts = None
    if config.training:
        parts = TrainParts(live.model, make_optimizer(live.model, config), make_scaler(config), x,
                           make_target(live.task, plan.traces[live.task].output_shape[-1], config.device))  # fmt: skip
        step = train_step(parts, fn, config)
    else:
        step = _forward_step(fn, x, config)
    live.step = step
    clock = clock_for(config)
    if config.compile_mode is not None:
        live.counts_before = dynamo.counts()
        live.compile_s = clock.time_one(step)  # the first call compiles (for this batch size)
        live.counts_after = dynamo.counts()
        if live.counts_after[1] == live.counts_before[1]:  # no graph: it ran eagerly
            raise _NotCompiled
    calls = CUDA_GRAPH_WARMUP_CALLS if config.compile_mode is CompileMode.REDUCE_OVERHEAD else 1
    _warm_up(step, clock, config.warmup_s, calls)
    live.memory = memory_pass(step, live.model, x, config)
    if parts is not None:
        live.memory = _train_memory(live.memory, parts, plan, live.task)
    else:
        live.memory = dataclasses.replace(live.memory, weight_bytes=weight_bytes(live.model))


class _NotCompiled(Exception):
    """The first call under torch.compile made no graph: the model ran eagerly."""


def _forward_step(fn: Callable[..., Any], x: torch.Tensor, config: BenchConfig) -> Callable[[], Any]:
    context = autocast(config)

    def step() -> Any:
        with context:
            return fn(x)

    return step


def _train_memory(peak: MemoryPeak, parts: TrainParts, plan: BenchPlan, task: BenchTask) -> MemoryPeak:
    """The step's peak with its parts: weights, gradients, optimizer state, kept for backward
    (measured, and the trace's estimate in the run's precision)."""
    config = plan.config
    return dataclasses.replace(
        peak,
        weight_bytes=weight_bytes(parts.model),
        gradient_bytes=gradient_bytes(parts, config),
        optimizer_bytes=optimizer_state_bytes(parts.optimizer),
        saved_bytes=saved_activation_bytes(parts.model, parts.x, config),
        saved_estimate_bytes=plan.saved_estimate(task),
    )


def _num_classes(task: BenchTask, model: nn.Module, x: torch.Tensor) -> int:
    """The classes a training step's labels are drawn from: the spec's, or what the user's
    model outputs (one eager pass of one image). A headless spec (num_classes=0) outputs its
    pooled features: the loss is cross-entropy over those, one label per image drawn from the
    feature channels, so the step costs what a classifier's does, less the fc."""
    if task.spec is not None:
        return task.spec.num_classes or task.spec.feature_channels
    with torch.no_grad():
        return int(model(x[:1]).shape[-1])


def probe_step(task: BenchTask, config: BenchConfig) -> None:
    """One call of what ``config`` times, eagerly, at ``task``'s batch size, and nothing kept."""
    grad = contextlib.nullcontext() if config.training else torch.inference_mode()
    with backend_settings(config), grad:
        model = _make_model(task.source, config)
        x = make_input(task, config)
        if config.training:
            parts = TrainParts(model, make_optimizer(model, config), make_scaler(config), x,
                               make_target(task, _num_classes(task, model, x), config.device))  # fmt: skip
            step = train_step(parts, model, config)
        else:
            step = _forward_step(model, x, config)
        step()
        step()  # the optimizer's state exists from the first step on


def _make_model(source: Source, config: BenchConfig) -> nn.Module:
    model = source.build(config.device)
    model = model.train() if config.training else model.eval().requires_grad_(False)
    if config.weights is not None:
        from ..checkpoint import load_weights_into

        load_weights_into(model, config.weights)
    if not config.amp:
        model = model.to(TORCH_DTYPE[config.precision])
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return model


def make_input(task: BenchTask, config: BenchConfig) -> torch.Tensor:
    """The input, made once, on the device, in the precision (float32 under autocast)."""
    dtype = torch.float32 if config.amp else TORCH_DTYPE[config.precision]
    x = torch.randn(task.input_shape, device=config.device, dtype=dtype)
    return x.contiguous(memory_format=torch.channels_last) if config.channels_last else x


def _warm_up(step: Callable[[], Any], clock: Clock, seconds: float, min_calls: int) -> None:
    spent, calls = 0.0, 0
    while calls < min_calls or spent < seconds:
        spent += clock.time_one(step)
        calls += 1


# --- 2. timing, round-robin ----------------------------------------------------------------------
def _rounds(lives: list[_Live], config: BenchConfig, report: ProgressFn) -> None:
    """Round-robin: each unfinished configuration gets a turn of ``min_time / ROUNDS``."""
    clock = clock_for(config)
    turn = config.min_time_s / ROUNDS
    while pending := [live for live in lives if live.pending]:
        for live in pending:
            report(_progress(lives, config), f"timing {live.task.label} @ batch {live.task.batch}")
            before = dynamo.counts()[0] if config.compile_mode else 0
            try:
                _turn(live, clock, turn)
            except Exception as exc:
                _handle(live, config, exc)
                continue
            if config.compile_mode:
                live.recompiles += dynamo.counts()[0] - before
            if live.enough(config.min_time_s):
                live.status = Status.OK
    report(0.9 if config.breakdown is not Breakdown.OFF else 1.0, "done")


def _turn(live: _Live, clock: Clock, budget_s: float) -> None:
    assert live.step is not None
    spent, n = 0.0, 0
    while n == 0 or spent < budget_s:
        t = clock.time_one(live.step)
        live.times.append(t)
        spent += t
        n += 1
    block = clock.time_block(live.step, n)
    if block is not None:
        live.blocks.append(block)


def _progress(lives: list[_Live], config: BenchConfig) -> float:
    def share(live: _Live) -> float:
        if not live.pending:
            return 1.0
        return min(sum(live.times) / config.min_time_s, len(live.times) / MIN_SAMPLES)

    timed = sum(share(live) for live in lives) / len(lives)
    return 0.2 + (0.5 if config.breakdown is not Breakdown.OFF else 0.8) * timed


# --- 3. the per-stage breakdown ------------------------------------------------------------------
def stage_pieces(model: nn.Module) -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
    """The forward pass cut at the stage boundaries: stem, layer1..layerN, head."""
    m: Any = model
    stages = [(f"layer{i + 1}", s) for i, s in enumerate(m.stages)]
    return [("stem", m.forward_stem), *stages, ("head", m.forward_head)]


def _breakdowns(lives: list[_Live], plan: BenchPlan, report: ProgressFn) -> None:
    """Each stage, or each leaf layer, timed (eagerly, even under --compile), configuration by
    configuration, for ``min_time`` and at least MIN_SAMPLES passes."""
    clock = clock_for(plan.config)
    by_layer = plan.config.breakdown is Breakdown.LAYER
    what = "layers" if by_layer else "stages"
    measured = [live for live in lives if live.status is Status.OK]
    for i, live in enumerate(measured):
        report(0.7 + 0.3 * i / len(measured), f"{what} of {live.task.label} @ batch {live.task.batch}")
        try:
            if by_layer:
                _layer_breakdown(live, plan, clock)
            else:
                live.stages = _breakdown(live, plan, clock)
        except Exception as exc:
            if not is_oom(exc):
                raise _failure(live.task, exc) from exc
            live.stages, live.layers = (), ()
    report(1.0, "done")


def _layer_breakdown(live: _Live, plan: BenchPlan, clock: Clock) -> None:
    """Hooked passes (every leaf timed) and plain passes in turn: the layers' times, and the
    hooks' overhead on the whole pass."""
    model, x, config = live.model, live.x, plan.config
    assert model is not None and x is not None
    context = autocast(config)

    def forward() -> Any:
        with context:
            return model(x)

    samples: dict[str, list[float]] = {}
    plain: list[float] = []
    hooked: list[float] = []
    hooked_pass(forward, model, clock)  # warm-up
    while len(plain) < MIN_SAMPLES or sum(hooked) + sum(plain) < config.min_time_s:
        plain.append(plain_pass(forward, clock))
        times, total = hooked_pass(forward, model, clock)
        hooked.append(total)
        live.outside_s.append(total - sum(times.values()))
        for name, t in times.items():
            samples.setdefault(name, []).append(t)
    costs = plan.layer_costs(live.task)
    live.layers = tuple(LayerTiming(name, tuple(ts), *costs.get(name, (0, 0, "")))
                        for name, ts in samples.items())  # fmt: skip
    live.overhead = HookOverhead(tuple(plain), tuple(hooked))


def _breakdown(live: _Live, plan: BenchPlan, clock: Clock) -> tuple[StageTiming, ...]:
    assert live.model is not None and live.x is not None
    config = plan.config
    names, fns = zip(*stage_pieces(live.model), strict=True)
    samples: list[list[float]] = [[] for _ in names]
    with autocast(config):
        clock.time_pieces(fns, live.x)  # warm-up
        while len(samples[0]) < MIN_SAMPLES or sum(map(sum, samples)) < config.min_time_s:
            for acc, t in zip(samples, clock.time_pieces(fns, live.x), strict=True):
                acc.append(t)
    costs = plan.stage_costs(live.task)
    return tuple(StageTiming(n, tuple(s), *costs[n]) for n, s in zip(names, samples, strict=True))


# --- results, and what goes wrong ----------------------------------------------------------------
def _result(live: _Live, plan: BenchPlan) -> Measurement:
    task = live.task
    flops, forward = plan.step_flops(task), plan.flops(task)
    if live.status is not Status.OK:
        return Measurement(task, live.status, flops=flops, forward_flops=forward)
    stats = None
    if live.counts_before is not None and live.counts_after is not None:
        stats = dynamo.stats_between(live.counts_before, live.counts_after, live.recompiles)
    return Measurement(task, Status.OK, times_s=tuple(live.times), block_times_s=tuple(live.blocks),
                       compile_s=live.compile_s, memory=live.memory, stages=live.stages,
                       layers=live.layers, layer_overhead=live.overhead, compiled=stats,
                       outside_layers_s=tuple(live.outside_s), flops=flops,
                       forward_flops=forward)  # fmt: skip


def _release(live: _Live) -> None:
    live.step, live.x, live.model = None, None, None


def _mark(live: _Live, config: BenchConfig, status: Status) -> None:
    """This configuration ran out of memory (or would not compile): free what it held; the
    others go on."""
    _release(live)
    live.status = status
    live.times.clear()
    live.blocks.clear()
    free_memory(config)


def is_oom(exc: BaseException) -> bool:
    oom_type = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    text = str(exc).lower()
    return isinstance(exc, oom_type) or "out of memory" in text or "can't allocate memory" in text


def _failure(task: BenchTask, exc: BaseException) -> RuntimeFailure:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return RuntimeFailure(f"{task.label} at batch {task.batch}: {type(exc).__name__}: {first}")

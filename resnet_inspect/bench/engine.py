"""The engine: every configuration of a checked plan (``planning.py``) prepared, then timed
round-robin, then (with ``breakdown``) stage by stage.

Method, in order:

1. every configuration is prepared: the model built on the device in eval mode (shared between
   batch sizes of one variant), the input made once on the device, ``torch.compile`` timed on
   its first call (shown apart, never mixed into the latency), a warm-up by time, and a
   separate forward pass that measures peak memory;
2. the configurations are timed round-robin, a slice of ``min_time`` each per turn, so that
   clock drift and thermal changes hit all of them alike. Every iteration is timed on its own
   (synchronised on CUDA): that is the latency. On CUDA each turn also times the same number
   of iterations back to back between two events: that is the throughput. On CPU a forward is
   synchronous, so the throughput is batch / median latency;
3. with ``breakdown``, each stage (stem, layer1.., head) is timed on its own, eagerly.

Everything runs under ``torch.inference_mode`` and :func:`~.environment.backend_settings`.
An out-of-memory configuration is marked and freed, and the others go on; Ctrl-C returns
what finished.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import RuntimeFailure
from ..spec import ResNetSpec
from ..usermodel import UserModel
from .clocks import Clock, clock_for
from .config import MIN_SAMPLES, ROUNDS, BenchConfig, BenchTask, CompileMode, Status
from .environment import TORCH_DTYPE, autocast, backend_settings, collect_environment
from .memory import free_memory, memory_pass
from .planning import BenchPlan, plan_tasks
from .results import BenchResult, Measurement, MemoryPeak, StageTiming

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
    with backend_settings(config), torch.inference_mode():
        env = collect_environment(config)
        lives = [_Live(t) for t in plan.tasks]
        interrupted = False
        try:
            _prepare_all(lives, config, report)
            _rounds(lives, config, report)
            if config.breakdown:
                _breakdowns(lives, plan, report)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            for live in lives:
                _release(live)
    return BenchResult(env, tuple(_result(live, plan) for live in lives), interrupted)


def run_bench(
    tasks: Sequence[BenchTask], config: BenchConfig, progress: ProgressFn | None = None
) -> BenchResult:
    """Check and measure configurations made by hand: :func:`run` of their plan."""
    return run(plan_tasks(tasks, config), progress)


# --- 1. preparing ------------------------------------------------------------------------------
def _prepare_all(lives: list[_Live], config: BenchConfig, report: ProgressFn) -> None:
    models: dict[ResNetSpec | UserModel, nn.Module] = {}
    compiled: dict[ResNetSpec | UserModel, Callable[..., Any]] = {}
    for i, live in enumerate(lives):
        report(0.2 * i / len(lives), f"warming up {live.task.label} @ batch {live.task.batch}")
        try:
            _prepare(live, config, models, compiled)
        except Exception as exc:
            if not _is_oom(exc):
                raise _failure(live.task, exc) from exc
            _mark_oom(live, config)


def _prepare(live: _Live, config: BenchConfig, models: dict[ResNetSpec | UserModel, nn.Module],
             compiled: dict[ResNetSpec | UserModel, Callable[..., Any]]) -> None:  # fmt: skip
    spec = live.task.spec
    if spec not in models:
        models[spec] = _make_model(spec, config)
        if config.compile_mode is not None:
            compiled[spec] = torch.compile(models[spec], mode=config.compile_mode.value, dynamic=False)
    live.model = models[spec]
    x = make_input(live.task, config)
    fn = compiled.get(spec, live.model)
    context = autocast(config)

    def step() -> Any:
        with context:
            return fn(x)

    live.x, live.step = x, step
    clock = clock_for(config)
    if config.compile_mode is not None:
        live.compile_s = clock.time_one(step)  # the first call compiles (for this batch size)
    calls = CUDA_GRAPH_WARMUP_CALLS if config.compile_mode is CompileMode.REDUCE_OVERHEAD else 1
    _warm_up(step, clock, config.warmup_s, calls)
    live.memory = memory_pass(step, live.model, x, config)


def _make_model(spec: ResNetSpec | UserModel, config: BenchConfig) -> nn.Module:
    from ..sources import build_source

    model = build_source(spec, device=config.device).eval().requires_grad_(False)
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
            try:
                _turn(live, clock, turn)
            except Exception as exc:
                if not _is_oom(exc):
                    raise _failure(live.task, exc) from exc
                _mark_oom(live, config)
                continue
            if live.enough(config.min_time_s):
                live.status = Status.OK
    report(0.9 if config.breakdown else 1.0, "done")


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
    return 0.2 + (0.5 if config.breakdown else 0.8) * timed


# --- 3. the per-stage breakdown ------------------------------------------------------------------
def stage_pieces(model: nn.Module) -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
    """The forward pass cut at the stage boundaries: stem, layer1..layerN, head."""
    m: Any = model
    stages = [(f"layer{i + 1}", s) for i, s in enumerate(m.stages)]
    return [("stem", m.forward_stem), *stages, ("head", m.forward_head)]


def _breakdowns(lives: list[_Live], plan: BenchPlan, report: ProgressFn) -> None:
    """Each stage timed on its own (eagerly, even under --compile), configuration by
    configuration, for ``min_time`` and at least MIN_SAMPLES passes."""
    clock = clock_for(plan.config)
    measured = [live for live in lives if live.status is Status.OK]
    for i, live in enumerate(measured):
        report(0.7 + 0.3 * i / len(measured), f"stages of {live.task.label} @ batch {live.task.batch}")
        try:
            live.stages = _breakdown(live, plan, clock)
        except Exception as exc:
            if not _is_oom(exc):
                raise _failure(live.task, exc) from exc
            live.stages = ()
    report(1.0, "done")


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
    if live.status is not Status.OK:
        return Measurement(task, live.status, flops=plan.flops(task))
    return Measurement(task, Status.OK, flops=plan.flops(task), times_s=tuple(live.times),
                       block_times_s=tuple(live.blocks), compile_s=live.compile_s,
                       memory=live.memory, stages=live.stages)  # fmt: skip


def _release(live: _Live) -> None:
    live.step, live.x, live.model = None, None, None


def _mark_oom(live: _Live, config: BenchConfig) -> None:
    """This configuration ran out of memory: free what it held; the others go on."""
    _release(live)
    live.status = Status.OOM
    live.times.clear()
    live.blocks.clear()
    free_memory(config)


def _is_oom(exc: BaseException) -> bool:
    oom_type = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    text = str(exc).lower()
    return isinstance(exc, oom_type) or "out of memory" in text or "can't allocate memory" in text


def _failure(task: BenchTask, exc: BaseException) -> RuntimeFailure:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return RuntimeFailure(f"{task.label} at batch {task.batch}: {type(exc).__name__}: {first}")

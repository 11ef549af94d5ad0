"""bench: forward-pass timing on CPU and CUDA, and the result types it hands to the renderers.

Three separate things, after ``torch.utils.benchmark``: what is timed (:class:`BenchTask`, one
variant at one batch size, under a :class:`BenchConfig`), the measurement (:class:`Measurement`:
raw times, statistics as properties, a noise warning) and the environment it ran in
(:class:`Environment`). The table is assembled in ``bench_view.py``.

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

Everything runs under ``torch.inference_mode``. cuDNN autotuning (``cudnn.benchmark``) is on
for CUDA runs; TF32 is left as PyTorch has it unless the precision is ``tf32``, which turns it on
explicitly. Both are restored afterwards and stated in the environment block.
GPU-only code is kept to the small functions whose names start with ``_cuda``.
"""

from __future__ import annotations

import functools
import gc
import itertools
import math
import os
import platform
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .errors import RuntimeFailure, UsageError
from .spec import ResNetSpec, parse_dims, spec_string

if TYPE_CHECKING:
    from .tracing import Trace

NOISE_THRESHOLD = 0.10  # IQR / median above this: the measurement is flagged as noisy
MIN_SAMPLES = 5  # per configuration, however long one iteration takes
ROUNDS = 5  # min_time is spread over at least this many interleaved turns
CUDA_GRAPH_WARMUP_CALLS = 3  # reduce-overhead records its CUDA graph after a few calls


class Precision(str, Enum):
    FP32 = "fp32"
    TF32 = "tf32"  # float32 tensors, TF32 tensor-core math for matmul and convolution
    BF16 = "bf16"
    FP16 = "fp16"


PRECISION_ALIASES = {"float32": "fp32", "float": "fp32", "bfloat16": "bf16", "float16": "fp16",
                     "half": "fp16"}  # fmt: skip
TORCH_DTYPE = {Precision.FP32: torch.float32, Precision.TF32: torch.float32,
               Precision.BF16: torch.bfloat16, Precision.FP16: torch.float16}  # fmt: skip


class CompileMode(str, Enum):
    DEFAULT = "default"
    REDUCE_OVERHEAD = "reduce-overhead"  # CUDA graphs
    MAX_AUTOTUNE = "max-autotune"


class Status(str, Enum):
    OK = "ok"
    OOM = "oom"  # out of memory at this batch size; the sweep went on
    INTERRUPTED = "interrupted"  # Ctrl-C before this configuration finished


# --- parsing the command's values (plain data, no torch) --------------------------------------
def parse_precision(text: str) -> Precision:
    key = text.strip().lower()
    try:
        return Precision(PRECISION_ALIASES.get(key, key))
    except ValueError:
        allowed = ", ".join(p.value for p in Precision)
        raise UsageError(f"--dtype {text!r}: not one of {allowed}") from None


def parse_compile_mode(text: str | None) -> CompileMode | None:
    if text is None:
        return None
    try:
        return CompileMode(text.strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in CompileMode)
        raise UsageError(f"--compile-mode {text!r}: not one of {allowed}") from None


def parse_batches(text: str) -> tuple[int, ...]:
    """``"1,8,32"`` -> (1, 8, 32); repeated sizes are measured once, in the order given."""
    try:
        sizes = [int(p) for p in text.replace(" ", "").split(",")]
    except ValueError:
        raise UsageError(f"--batch {text!r}: expected batch sizes like 1,8,32") from None
    if any(b < 1 for b in sizes):
        raise UsageError(f"--batch {text!r}: every batch size must be at least 1")
    return tuple(dict.fromkeys(sizes))


def parse_chw(text: str) -> tuple[int, int, int]:
    """``"3x224x224"`` -> (3, 224, 224). The batch comes from --batch, not from here."""
    c, h, w = parse_dims(text, "--input", "CxHxW", "3x224x224", " (the batch is --batch)")
    return c, h, w


def parse_device(text: str) -> str:
    """Syntax only: ``cpu``, ``cuda`` or ``cuda:N``; whether it exists is :func:`check_device`."""
    key = text.strip().lower()
    if key == "cpu" or key == "cuda":
        return key
    index = key.removeprefix("cuda:")
    if key.startswith("cuda:") and index.isdigit():
        return f"cuda:{int(index)}"
    raise UsageError(f"--device {text!r}: not one of cpu, cuda, cuda:N")


# --- statistics (plain data) -------------------------------------------------------------------
def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile, interpolating linearly between the closest ranks (numpy's default)."""
    if not values:
        raise ValueError("quantile of no values")
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


# --- dense peaks of known parts (plain data) ----------------------------------------------------
@dataclass(frozen=True)
class DevicePeak:
    """A GPU's dense (not 2:4-sparse) tensor throughput in TFLOP/s, and memory bandwidth."""

    part: str
    tflops: Mapping[str, float]  # by precision: fp32 (no tensor cores), tf32, bf16, fp16
    bandwidth_gb_s: float | None = None


# NVIDIA datasheets (H100: "NVIDIA H100 Tensor Core GPU" datasheet; A100: "NVIDIA A100 Tensor
# Core GPU" datasheet). The datasheets headline the 2:4-sparse figures; dense is half of those.
# H200 has H100 SXM's compute and faster memory. A100 bandwidth differs between its 40 and
# 80 GB versions, so it is left out.
H100_SXM = DevicePeak("H100 SXM", {"fp32": 67.0, "tf32": 495.0, "bf16": 989.0, "fp16": 989.0}, 3350.0)
H100_PCIE = DevicePeak("H100 PCIe", {"fp32": 51.0, "tf32": 378.0, "bf16": 756.0, "fp16": 756.0}, 2000.0)
H200 = DevicePeak("H200", {"fp32": 67.0, "tf32": 495.0, "bf16": 989.0, "fp16": 989.0}, 4800.0)
A100 = DevicePeak("A100", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0})
KNOWN_PARTS: tuple[tuple[str, int, DevicePeak], ...] = (
    ("H100", 132, H100_SXM), ("H100", 114, H100_PCIE), ("H200", 132, H200), ("A100", 108, A100),
)  # fmt: skip


def identify_peak(name: str, sm_count: int | None) -> DevicePeak | None:
    """The part from its name and multiprocessor count; None when it is not one we know.

    NVL parts share the SXM's SM count but run at a lower power limit: not assumed to match.
    """
    upper = name.upper()
    if "NVL" in upper or sm_count is None:
        return None
    return next((p for token, sms, p in KNOWN_PARTS if token in upper and sms == sm_count), None)


def peak_basis(precision: Precision, tf32_convolutions: bool) -> str:
    """Which peak a run is compared with: fp32 convolutions run on TF32 tensor cores whenever
    cuDNN is allowed TF32 (PyTorch's default), so that is the ceiling they can reach."""
    if precision is Precision.FP32:
        return "tf32" if tf32_convolutions else "fp32"
    return str(precision.value)


# --- what is timed ----------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchConfig:
    """The settings every configuration of one run shares."""

    device: str = "cpu"
    precision: Precision = Precision.FP32
    amp: bool = False  # autocast with float32 weights, instead of casting the model
    channels_last: bool = False
    compile_mode: CompileMode | None = None
    warmup_s: float = 1.0
    min_time_s: float = 2.0
    threads: int | None = None  # None: leave torch's default (one per physical core)
    breakdown: bool = False
    weights: str | None = None  # a checkpoint loaded into every model before timing

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def layout(self) -> str:
        return "channels_last" if self.channels_last else "contiguous (NCHW)"


@dataclass(frozen=True)
class BenchTask:
    """One configuration: a variant at one batch size."""

    spec: ResNetSpec
    batch: int
    input_chw: tuple[int, int, int]

    @property
    def label(self) -> str:
        return spec_string(self.spec)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.batch, *self.input_chw)


# --- what was measured ------------------------------------------------------------------------
@dataclass(frozen=True)
class MemoryPeak:
    """CUDA: this configuration's weights + input + the forward's working memory (allocated),
    and the caching allocator's reservation at that peak. CPU: the process's resident peak."""

    allocated_bytes: int | None = None
    reserved_bytes: int | None = None
    resident_bytes: int | None = None


@dataclass(frozen=True)
class StageTiming:
    name: str  # stem, layer1.., head
    times_s: tuple[float, ...]
    flops: int
    bytes_moved: int  # weights + input + output of every layer, each once (no fusion, no cache)

    @property
    def median_s(self) -> float:
        return quantile(self.times_s, 0.5)

    @property
    def flops_per_s(self) -> float:
        return self.flops / self.median_s

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: FLOPs per byte moved."""
        return self.flops / self.bytes_moved if self.bytes_moved else 0.0


@dataclass(frozen=True)
class Measurement:
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
    def samples(self) -> int:
        return len(self.times_s)

    @property
    def median_s(self) -> float:
        return quantile(self.times_s, 0.5)

    @property
    def p10_s(self) -> float:
        return quantile(self.times_s, 0.1)

    @property
    def p90_s(self) -> float:
        return quantile(self.times_s, 0.9)

    @property
    def iqr_s(self) -> float:
        return quantile(self.times_s, 0.75) - quantile(self.times_s, 0.25)

    @property
    def min_s(self) -> float:
        return min(self.times_s)

    @property
    def max_s(self) -> float:
        return max(self.times_s)

    @property
    def noisy(self) -> bool:
        return self.iqr_s > NOISE_THRESHOLD * self.median_s

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


@dataclass(frozen=True)
class Environment:
    torch_version: str
    cuda_version: str | None  # the CUDA torch was built with
    cudnn_version: int | None
    python_version: str
    device: str  # cpu, cuda:0
    device_name: str
    sm_count: int | None
    threads: int
    precision: Precision
    amp: bool
    layout: str
    compile_mode: CompileMode | None
    tf32_matmul: bool
    tf32_cudnn: bool
    cudnn_benchmark: bool
    peak: DevicePeak | None
    peak_basis: str | None  # which of the peak's figures the utilisation is of

    @property
    def peak_tflops(self) -> float | None:
        if self.peak is None or self.peak_basis is None:
            return None
        return self.peak.tflops.get(self.peak_basis)


@dataclass(frozen=True)
class BenchResult:
    environment: Environment
    measurements: tuple[Measurement, ...]
    interrupted: bool = False


# --- checks before anything runs ---------------------------------------------------------------
def check_config(config: BenchConfig) -> None:
    """Bad combinations and a precision this machine cannot run: UsageError (exit 2); a GPU it
    does not have: RuntimeFailure (exit 1)."""
    if config.amp and config.precision not in (Precision.BF16, Precision.FP16):
        raise UsageError(f"--amp: autocast needs --dtype bf16 or fp16, not {config.precision.value}")
    if not 0 <= config.warmup_s < math.inf:  # nan and inf would time forever
        raise UsageError(f"--warmup {config.warmup_s}: must be at least 0 seconds, and finite")
    if not 0 < config.min_time_s < math.inf:
        raise UsageError(f"--min-time {config.min_time_s}: must be more than 0 seconds, and finite")
    if config.threads is not None and config.threads < 1:
        raise UsageError(f"--threads {config.threads}: must be at least 1")
    if config.is_cuda:
        _cuda_check_device(config.device)
    elif config.precision is Precision.TF32:
        raise UsageError("--dtype tf32: TF32 is a CUDA tensor-core mode; on cpu use fp32")
    _check_precision_runs(config)


def _cuda_check_device(device: str) -> None:
    if not torch.cuda.is_available():
        built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise RuntimeFailure(f"--device {device}: CUDA is not available here (torch {torch.__version__}, {built})")
    index = int(device.partition(":")[2] or torch.cuda.current_device())
    count = torch.cuda.device_count()
    if index >= count:
        raise RuntimeFailure(f"--device {device}: no such GPU; this machine has {count} (cuda:0..cuda:{count - 1})")


def _check_precision_runs(config: BenchConfig) -> None:
    """A convolution, norm and linear in the precision on the device, or a one-line error."""
    dtype = TORCH_DTYPE[config.precision]
    if dtype is torch.float32:
        return
    probe = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 2)).eval()  # fmt: skip
    x = torch.randn(1, 3, 8, 8, device=config.device)
    try:
        with torch.inference_mode(), _autocast(config):
            if config.amp:
                probe.to(config.device)(x)
            else:
                probe.to(config.device, dtype)(x.to(dtype))
    except (RuntimeError, NotImplementedError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--dtype {config.precision.value}: not supported on {config.device} "
                         f"here ({reason})") from None  # fmt: skip


# --- the environment ---------------------------------------------------------------------------
@contextmanager
def backend_settings(config: BenchConfig) -> Iterator[None]:
    """Threads, cuDNN autotuning and TF32 for the run; every setting restored afterwards."""
    saved = (torch.get_num_threads(), torch.backends.cudnn.benchmark,
             torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)  # fmt: skip
    try:
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        if config.is_cuda:
            torch.backends.cudnn.benchmark = True
        if config.precision is Precision.TF32:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        yield
    finally:
        torch.set_num_threads(saved[0])
        torch.backends.cudnn.benchmark = saved[1]
        torch.backends.cuda.matmul.allow_tf32 = saved[2]
        torch.backends.cudnn.allow_tf32 = saved[3]


def collect_environment(config: BenchConfig) -> Environment:
    """The facts of this run, read while :func:`backend_settings` is in force."""
    name, sms, peak = _cpu_name(), None, None
    if config.is_cuda:
        name, sms = _cuda_device_facts(config.device)
        peak = identify_peak(name, sms)
    cudnn_mod: Any = torch.backends.cudnn
    cudnn = cudnn_mod.version() if cudnn_mod.is_available() else None
    return Environment(
        torch_version=torch.__version__,
        cuda_version=torch.version.cuda,
        cudnn_version=cudnn,
        python_version=platform.python_version(),
        device=_canonical_device(config.device),
        device_name=name,
        sm_count=sms,
        threads=torch.get_num_threads(),
        precision=config.precision,
        amp=config.amp,
        layout=config.layout,
        compile_mode=config.compile_mode,
        tf32_matmul=bool(torch.backends.cuda.matmul.allow_tf32),
        tf32_cudnn=bool(torch.backends.cudnn.allow_tf32),
        cudnn_benchmark=bool(torch.backends.cudnn.benchmark),
        peak=peak,
        peak_basis=peak_basis(config.precision, torch.backends.cudnn.allow_tf32) if peak else None,
    )


def _canonical_device(device: str) -> str:
    return f"cuda:{torch.cuda.current_device()}" if device == "cuda" else device


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        model = ""
    return f"{model or platform.processor() or 'CPU'} ({os.cpu_count()} logical cores)"


def _cuda_device_facts(device: str) -> tuple[str, int]:
    props: Any = torch.cuda.get_device_properties(torch.device(device))
    return str(props.name), int(props.multi_processor_count)


# --- the engine --------------------------------------------------------------------------------
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


def run_bench(
    tasks: Sequence[BenchTask], config: BenchConfig, progress: ProgressFn | None = None
) -> BenchResult:
    """Measure every task under ``config``. Ctrl-C returns what finished, ``interrupted=True``."""
    check_config(config)
    report = progress or (lambda _f, _d: None)
    with backend_settings(config), torch.inference_mode():
        env = collect_environment(config)
        lives = [_Live(t) for t in tasks]
        interrupted = False
        try:
            _prepare_all(lives, config, report)
            _rounds(lives, config, report)
            if config.breakdown:
                _breakdowns(lives, config, report)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            for live in lives:
                _release(live)
    return BenchResult(env, tuple(_result(live) for live in lives), interrupted)


def _prepare_all(lives: list[_Live], config: BenchConfig, report: ProgressFn) -> None:
    models: dict[ResNetSpec, nn.Module] = {}
    compiled: dict[ResNetSpec, Callable[..., Any]] = {}
    for i, live in enumerate(lives):
        report(0.2 * i / len(lives), f"warming up {live.task.label} @ batch {live.task.batch}")
        try:
            _prepare(live, config, models, compiled)
        except Exception as exc:
            if not _is_oom(exc):
                raise _failure(live.task, exc) from exc
            _mark_oom(live, config)


def _prepare(live: _Live, config: BenchConfig, models: dict[ResNetSpec, nn.Module],
             compiled: dict[ResNetSpec, Callable[..., Any]]) -> None:  # fmt: skip
    spec = live.task.spec
    if spec not in models:
        models[spec] = _make_model(spec, config)
        if config.compile_mode is not None:
            compiled[spec] = torch.compile(models[spec], mode=config.compile_mode.value, dynamic=False)
    live.model = models[spec]
    x = make_input(live.task, config)
    fn = compiled.get(spec, live.model)
    autocast = _autocast(config)

    def step() -> Any:
        with autocast:
            return fn(x)

    live.x, live.step = x, step
    clock = _clock(config)
    if config.compile_mode is not None:
        live.compile_s = clock.time_one(step)  # the first call compiles (for this batch size)
    calls = CUDA_GRAPH_WARMUP_CALLS if config.compile_mode is CompileMode.REDUCE_OVERHEAD else 1
    _warm_up(step, clock, config.warmup_s, calls)
    live.memory = _memory_pass(step, live, config)


def _make_model(spec: ResNetSpec, config: BenchConfig) -> nn.Module:
    from .model import build_model

    model = build_model(spec, device=config.device).eval().requires_grad_(False)
    if config.weights is not None:
        from .checkpoint import load_weights_into

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


def _autocast(config: BenchConfig) -> Any:
    if not config.amp:
        return nullcontext()
    return torch.autocast(device_type=config.device.split(":")[0], dtype=TORCH_DTYPE[config.precision])


def _warm_up(step: Callable[[], Any], clock: _Clock, seconds: float, min_calls: int) -> None:
    spent, calls = 0.0, 0
    while calls < min_calls or spent < seconds:
        spent += clock.time_one(step)
        calls += 1


def _rounds(lives: list[_Live], config: BenchConfig, report: ProgressFn) -> None:
    """Round-robin: each unfinished configuration gets a turn of ``min_time / ROUNDS``."""
    clock = _clock(config)
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


def _turn(live: _Live, clock: _Clock, budget_s: float) -> None:
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


def _result(live: _Live) -> Measurement:
    task = live.task
    if live.status is not Status.OK:
        return Measurement(task, live.status, flops=task_flops(task))
    return Measurement(task, Status.OK, flops=task_flops(task), times_s=tuple(live.times),
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
    gc.collect()
    if config.is_cuda:
        _cuda_free_cached()


def _is_oom(exc: BaseException) -> bool:
    oom_type = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    text = str(exc).lower()
    return isinstance(exc, oom_type) or "out of memory" in text or "can't allocate memory" in text


def _failure(task: BenchTask, exc: BaseException) -> RuntimeFailure:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return RuntimeFailure(f"{task.label} at batch {task.batch}: {type(exc).__name__}: {first}")


# --- clocks: the CPU one, and the CUDA one with events ----------------------------------------
class _Clock:
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


class _CudaClock(_Clock):
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


def _clock(config: BenchConfig) -> _Clock:
    return _CudaClock(config.device) if config.is_cuda else _Clock()


# --- memory ------------------------------------------------------------------------------------
def _memory_pass(step: Callable[[], Any], live: _Live, config: BenchConfig) -> MemoryPeak:
    if config.is_cuda:
        return _cuda_memory_pass(step, live, config.device)
    return MemoryPeak(resident_bytes=_cpu_resident_peak(step))


def _cuda_memory_pass(step: Callable[[], Any], live: _Live, device: str) -> MemoryPeak:
    """One forward alone: its working memory on top of what was allocated, plus this
    configuration's own weights and input (other configurations' are resident too)."""
    dev = torch.device(device)
    torch.cuda.synchronize(dev)
    before = torch.cuda.memory_allocated(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    step()
    torch.cuda.synchronize(dev)
    own = _tensor_bytes(live)
    working = torch.cuda.max_memory_allocated(dev) - before
    return MemoryPeak(allocated_bytes=own + working, reserved_bytes=torch.cuda.max_memory_reserved(dev))


def _tensor_bytes(live: _Live) -> int:
    assert live.model is not None and live.x is not None
    tensors = [*live.model.parameters(), *live.model.buffers(), live.x]
    return sum(t.numel() * t.element_size() for t in tensors)


def _cpu_resident_peak(step: Callable[[], Any]) -> int | None:
    """The process's peak resident memory during one forward: Linux lets the high-water mark
    be reset (``/proc/self/clear_refs``), so it is this pass's peak, not the process's
    lifetime one. None where that is not available."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return None
    step()
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def _cuda_free_cached() -> None:
    torch.cuda.empty_cache()


# --- FLOPs, and the per-stage breakdown --------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _trace(task: BenchTask) -> Trace:
    """The meta-device trace of a configuration, made once: its FLOPs are checked before the
    run, reported after it, and split by stage for --breakdown."""
    from .tracing import trace_spec

    return trace_spec(task.spec, task.input_shape)


def task_flops(task: BenchTask) -> int:
    """FLOPs of one forward pass of the batch, from the meta-device trace."""
    return _trace(task).totals.flops


def stage_costs(task: BenchTask, config: BenchConfig) -> dict[str, tuple[int, int]]:
    """Per stage: FLOPs, and bytes moved if every layer reads its weights and input and writes
    its output once (activations in the run's precision; weights float32 under autocast)."""
    trace = _trace(task)
    act = TORCH_DTYPE[config.precision].itemsize
    weight = 4 if config.amp else act
    costs: dict[str, tuple[int, int]] = {}
    for row in trace.stages():
        leaves = [r for r in trace.layers if r.is_leaf and r.stage == row.name]
        moved = sum(r.params * weight + (math.prod(r.input_shape) + math.prod(r.output_shape)) * act
                    for r in leaves)  # fmt: skip
        costs[row.name] = (row.flops, moved)
    return costs


def stage_pieces(model: nn.Module) -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
    """The forward pass cut at the stage boundaries: stem, layer1..layerN, head."""
    m: Any = model
    stages = [(f"layer{i + 1}", s) for i, s in enumerate(m.stages)]
    return [("stem", m.forward_stem), *stages, ("head", m.forward_head)]


def _breakdowns(lives: list[_Live], config: BenchConfig, report: ProgressFn) -> None:
    """Each stage timed on its own (eagerly, even under --compile), configuration by
    configuration, for ``min_time`` and at least MIN_SAMPLES passes."""
    clock = _clock(config)
    measured = [live for live in lives if live.status is Status.OK]
    for i, live in enumerate(measured):
        report(0.7 + 0.3 * i / len(measured), f"stages of {live.task.label} @ batch {live.task.batch}")
        try:
            live.stages = _breakdown(live, config, clock)
        except Exception as exc:
            if not _is_oom(exc):
                raise _failure(live.task, exc) from exc
            live.stages = ()
    report(1.0, "done")


def _breakdown(live: _Live, config: BenchConfig, clock: _Clock) -> tuple[StageTiming, ...]:
    assert live.model is not None and live.x is not None
    names, fns = zip(*stage_pieces(live.model), strict=True)
    samples: list[list[float]] = [[] for _ in names]
    with _autocast(config):
        clock.time_pieces(fns, live.x)  # warm-up
        while len(samples[0]) < MIN_SAMPLES or sum(map(sum, samples)) < config.min_time_s:
            for acc, t in zip(samples, clock.time_pieces(fns, live.x), strict=True):
                acc.append(t)
    costs = stage_costs(live.task, config)
    return tuple(StageTiming(n, tuple(s), *costs[n]) for n, s in zip(names, samples, strict=True))

"""The environment a run is in: torch's settings for it (threads, cuDNN autotuning, TF32, the
dtype and autocast), the facts of the machine as a frozen :class:`Environment`, and the checks
that this machine has the device and runs the precision.

cuDNN autotuning (``cudnn.benchmark``) is on for CUDA runs; TF32 is left as PyTorch has it
unless the precision is ``tf32``, which turns it on explicitly. Both are restored afterwards and
stated in the environment. GPU-only code is kept to the small functions whose names start with
``_cuda``.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import RuntimeFailure, UsageError
from .config import BenchConfig, CompileMode, Precision
from .peaks import Bound, DevicePeak, identify_peak, peak_basis

TORCH_DTYPE = {Precision.FP32: torch.float32, Precision.TF32: torch.float32,
               Precision.BF16: torch.bfloat16, Precision.FP16: torch.float16}  # fmt: skip


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
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def peak_tflops(self) -> float | None:
        if self.peak is None or self.peak_basis is None:
            return None
        return self.peak.tflops.get(self.peak_basis)

    def utilisation(self, flops_per_s: float) -> float | None:
        """``flops_per_s`` as a share of the dense peak; None without a known peak."""
        return None if self.peak_tflops is None else flops_per_s / 1e12 / self.peak_tflops

    @property
    def ridge_flops_per_byte(self) -> float | None:
        """FLOPs per byte where the compute roof meets the memory roof; None without both."""
        if self.peak is None or self.peak_tflops is None or not self.peak.bandwidth_gb_s:
            return None
        return self.peak_tflops * 1e12 / (self.peak.bandwidth_gb_s * 1e9)

    def bound(self, flops_per_byte: float) -> Bound | None:
        """Which roof limits work of this arithmetic intensity; None without a ridge point."""
        ridge = self.ridge_flops_per_byte
        if ridge is None:
            return None
        return Bound.MEMORY if flops_per_byte < ridge else Bound.COMPUTE


# --- torch's settings for a run ------------------------------------------------------------------
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


def autocast(config: BenchConfig) -> Any:
    """Autocast to the precision with ``amp``; otherwise nothing (the model is cast instead)."""
    if not config.amp:
        return nullcontext()
    return torch.autocast(device_type=config.device.split(":")[0], dtype=TORCH_DTYPE[config.precision])


# --- the facts of this machine -------------------------------------------------------------------
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


# --- can this machine run it -------------------------------------------------------------------
def check_device(config: BenchConfig) -> None:
    """A GPU this machine does not have: RuntimeFailure (exit 1, it cannot run here), naming
    the ``device``."""
    if config.is_cuda:
        _cuda_check_device(config.device)


def _cuda_check_device(device: str) -> None:
    if not torch.cuda.is_available():
        built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise RuntimeFailure(f"device {device}: CUDA is not available here (torch {torch.__version__}, "
                             f"{built})", subject="device")  # fmt: skip
    index = int(device.partition(":")[2] or torch.cuda.current_device())
    count = torch.cuda.device_count()
    if index >= count:
        raise RuntimeFailure(f"device {device}: no such GPU; this machine has {count} "
                             f"(cuda:0..cuda:{count - 1})", subject="device")  # fmt: skip


def check_precision_runs(config: BenchConfig) -> None:
    """A convolution, norm and linear in the precision on the device, or a one-line UsageError
    naming the ``precision``."""
    dtype = TORCH_DTYPE[config.precision]
    if dtype is torch.float32:
        return
    probe = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 2)).eval()  # fmt: skip
    x = torch.randn(1, 3, 8, 8, device=config.device)
    try:
        with torch.inference_mode(), autocast(config):
            if config.amp:
                probe.to(config.device)(x)
            else:
                probe.to(config.device, dtype)(x.to(dtype))
    except (RuntimeError, NotImplementedError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"precision {config.precision.value}: not supported on {config.device} "
                         f"here ({reason})", subject="precision") from None  # fmt: skip

"""Memory probes: one forward pass alone, its peak on the GPU (allocated and reserved) or the
process's resident peak on the CPU; and giving memory back after running out of it."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .config import BenchConfig
from .results import MemoryPeak


def memory_pass(step: Callable[[], Any], model: nn.Module, x: torch.Tensor, config: BenchConfig) -> MemoryPeak:
    """The peak of one call of ``step`` (a forward of ``model`` on ``x``)."""
    if config.is_cuda:
        return _cuda_memory_pass(step, model, x, config.device)
    return MemoryPeak(resident_bytes=_cpu_resident_peak(step))


def free_memory(config: BenchConfig) -> None:
    """After an out-of-memory error, once the configuration's tensors are dropped."""
    gc.collect()
    if config.is_cuda:
        torch.cuda.empty_cache()


def _cuda_memory_pass(step: Callable[[], Any], model: nn.Module, x: torch.Tensor, device: str) -> MemoryPeak:
    """One forward alone: its working memory on top of what was allocated, plus this
    configuration's own weights and input (other configurations' are resident too)."""
    dev = torch.device(device)
    torch.cuda.synchronize(dev)
    before = torch.cuda.memory_allocated(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    step()
    torch.cuda.synchronize(dev)
    own = _tensor_bytes(model, x)
    working = torch.cuda.max_memory_allocated(dev) - before
    return MemoryPeak(allocated_bytes=own + working, reserved_bytes=torch.cuda.max_memory_reserved(dev))


def _tensor_bytes(model: nn.Module, x: torch.Tensor) -> int:
    tensors = [*model.parameters(), *model.buffers(), x]
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

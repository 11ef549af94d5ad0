"""Memory probes: one forward pass alone, its peak on the GPU (allocated and reserved) or the
process's resident peak on the CPU; and giving memory back after running out of it."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .cgroup import cgroup_memory
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


# --- what a run may use --------------------------------------------------------------------------
def available_bytes(config: BenchConfig) -> tuple[int | None, str]:
    """The memory a run may still use on its device, and where the figure comes from; None
    where it cannot be told."""
    if config.is_cuda:
        free, _total = torch.cuda.mem_get_info(torch.device(config.device))
        return int(free), "free device memory"
    return cpu_available_bytes()


def cpu_available_bytes(root: str = "/") -> tuple[int | None, str]:
    """The least of the machine's available memory (``MemAvailable``) and the room the
    process's memory cgroups leave it (see ``cgroup``), with where it comes from. ``root``:
    where ``/proc`` and ``/sys`` are (a fake tree in tests)."""
    limits = cgroup_memory(root)
    found: list[tuple[int, str]] = []
    for line in (_read(root, "proc/meminfo") or "").splitlines():
        fields = line.split()
        if fields[:1] == ["MemAvailable:"] and len(fields) > 1 and fields[1].isdigit():
            found.append((int(fields[1]) * 1024, "MemAvailable"))
    if limits.available_bytes is not None:
        found.append((limits.available_bytes, limits.note))
    if not found:
        return None, f"unknown (no MemAvailable in /proc/meminfo; {limits.note})"
    available, basis = min(found)
    return available, basis if basis == limits.note else f"{basis}; {limits.note}"


def _read(root: str, path: str) -> str | None:
    try:
        with open(f"{root.rstrip('/')}/{path}", encoding="ascii") as f:
            return f.read(1 << 16)
    except (OSError, UnicodeDecodeError):
        return None

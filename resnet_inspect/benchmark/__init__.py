"""benchmark: timing a forward pass or a training step on CPU and CUDA, and the result types it
hands to the report.

Three separate things, after ``torch.utils.benchmark``: what is timed (:class:`BenchTask`, one
variant at one batch size, under a :class:`BenchConfig`), the measurement (:class:`Measurement`:
raw times, statistics as properties, a noise warning) and the environment it ran in
(:class:`Environment`). The tables are assembled in ``report/bench.py``.

What each module is for: docs/architecture.md.

The library's entry point::

    from resnet_inspect import benchmark
    result = benchmark.run(benchmark.plan(["resnet18", "resnet50"], batches=[1, 8],
                                          config=benchmark.BenchConfig(min_time_s=1.0)))

The modules that import torch are imported on first use of one of their names, so that the
command line can parse its flags through ``config`` without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .config import (
    MAX_BATCH,
    MIN_SAMPLES,
    PRECISION_ALIASES,
    ROUNDS,
    BenchConfig,
    BenchTask,
    Breakdown,
    CompileMode,
    Mode,
    Optimizer,
    Precision,
    Status,
    check_batches,
    check_input_shape,
    check_values,
    parse_batches,
    parse_bench_input,
    parse_chw,
    parse_device,
    resolve_variants,
)
from .peaks import (
    A100,
    H100_PCIE,
    H100_SXM,
    H200,
    KNOWN_PARTS,
    Bound,
    DevicePeak,
    identify_peak,
    peak_basis,
)
from .results import (
    BenchResult,
    CompileStats,
    HookOverhead,
    LayerTiming,
    Measurement,
    MemoryPeak,
    StageTiming,
)
from .stats import NOISE_THRESHOLD, TimeStatistics, quantile

if TYPE_CHECKING:
    from .clocks import Clock, CudaClock, clock_for
    from .engine import (
        CUDA_GRAPH_WARMUP_CALLS,
        ProgressFn,
        make_input,
        run,
        run_bench,
        stage_pieces,
    )
    from .environment import (
        TORCH_DTYPE,
        Environment,
        autocast,
        backend_settings,
        check_device,
        check_precision_runs,
        collect_environment,
    )
    from .fit import BatchFit, bisect_largest, find_max_batch
    from .planning import TRAIN_FLOPS_NOTE, BenchPlan, check_config, plan, plan_tasks

_LAZY_MODULES = {
    "clocks": ("Clock", "CudaClock", "clock_for"),
    "engine": ("CUDA_GRAPH_WARMUP_CALLS", "ProgressFn", "make_input", "run", "run_bench",
               "stage_pieces"),
    "environment": ("TORCH_DTYPE", "Environment", "autocast", "backend_settings", "check_device",
                    "check_precision_runs", "collect_environment"),
    "planning": ("TRAIN_FLOPS_NOTE", "BenchPlan", "check_config", "plan", "plan_tasks"),
    "fit": ("BatchFit", "bisect_largest", "find_max_batch"),
}  # fmt: skip
_LAZY = {name: (module, name) for module, names in _LAZY_MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    """The names of the modules that import torch, imported when first asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value
    return value


__all__ = [
    "A100",
    "CUDA_GRAPH_WARMUP_CALLS",
    "H100_PCIE",
    "H100_SXM",
    "H200",
    "KNOWN_PARTS",
    "MAX_BATCH",
    "MIN_SAMPLES",
    "NOISE_THRESHOLD",
    "PRECISION_ALIASES",
    "ROUNDS",
    "TORCH_DTYPE",
    "TRAIN_FLOPS_NOTE",
    "BatchFit",
    "BenchConfig",
    "BenchPlan",
    "BenchResult",
    "BenchTask",
    "Bound",
    "Breakdown",
    "Clock",
    "CompileMode",
    "CompileStats",
    "CudaClock",
    "DevicePeak",
    "Environment",
    "HookOverhead",
    "LayerTiming",
    "Measurement",
    "MemoryPeak",
    "Mode",
    "Optimizer",
    "Precision",
    "ProgressFn",
    "StageTiming",
    "Status",
    "TimeStatistics",
    "autocast",
    "backend_settings",
    "bisect_largest",
    "check_batches",
    "check_config",
    "check_device",
    "check_input_shape",
    "check_precision_runs",
    "check_values",
    "clock_for",
    "collect_environment",
    "find_max_batch",
    "identify_peak",
    "make_input",
    "parse_batches",
    "parse_bench_input",
    "parse_chw",
    "parse_device",
    "peak_basis",
    "plan",
    "plan_tasks",
    "quantile",
    "resolve_variants",
    "run",
    "run_bench",
    "stage_pieces",
]

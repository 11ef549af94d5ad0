"""`bench --mode train` against a hand-written training loop, and what `--breakdown layer` costs.

1. Training step: the hand loop is what a careful person writes: the same model in train mode,
   SGD with momentum 0.9, cross-entropy on fixed labels, ``zero_grad(set_to_none=True)``, a
   warm-up, then steps back to back, wall time / steps. The harness is ``bench``'s engine with
   ``mode=train`` (each step timed on its own). Trials alternate hand / harness; the figure is
   the median over trials of harness mean / hand mean - 1 (which side goes first alternates). Target: within 3%. On a loaded
   machine the trials scatter by more than that either way, so the best trial of each side is
   compared too (best harness mean / best hand mean - 1): load only ever adds time, and the
   fastest trial is the one it touched least. ``--clock thread`` times both sides in the
   thread's CPU time instead of wall time (one torch thread: the work runs in the calling
   thread), which other processes on a shared machine hardly disturb.
2. The layer breakdown: the engine's own measurement of its overhead (whole passes with the
   per-layer hooks against passes without, interleaved), and how well the layers (plus the time
   between them) add up to the hooked pass.

    python benchmarks/train_step_overhead.py [--trials 5] [--min-time 2] [--clock wall|thread] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import torch
from torch import nn

from resnet_inspect.benchmark import (
    BenchConfig,
    BenchTask,
    Breakdown,
    Mode,
    engine,
    make_input,
    run_bench,
)
from resnet_inspect.benchmark.clocks import Clock
from resnet_inspect.model import build_model
from resnet_inspect.spec import resolve

CASES = (
    ("resnet18", (3, 112, 112), 4),  # ~0.2 s a step on one core
    ("resnet18:layers=1,1,1,1,widths=8,16,32,64", (3, 32, 32), 8),  # ~5 ms: overhead shows most
)


NOW = time.perf_counter  # --clock thread: time.thread_time


class _ThreadClock(Clock):
    def time_one(self, step: Any) -> float:
        start = time.thread_time()
        step()
        return time.thread_time() - start

    def mark(self) -> Any:
        return time.thread_time()


def hand_loop(arch: str, chw: tuple[int, int, int], batch: int, warmup_s: float, min_time_s: float) -> float:
    """Seconds per training step, the plain way."""
    spec = resolve(arch)
    model = build_model(spec).train()
    x = make_input(BenchTask(spec, batch, chw), BenchConfig())
    target = torch.randint(0, spec.num_classes, (batch,), generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step() -> None:
        loss = nn.functional.cross_entropy(model(x), target)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    end = NOW() + warmup_s
    while NOW() < end:
        step()
    steps, start = 0, NOW()
    while (elapsed := NOW() - start) < min_time_s or steps < 5:
        step()
        steps += 1
    return elapsed / steps


def harness(arch: str, chw: tuple[int, int, int], batch: int, warmup_s: float,
            min_time_s: float) -> tuple[float, float]:  # fmt: skip
    config = BenchConfig(warmup_s=warmup_s, min_time_s=min_time_s, mode=Mode.TRAIN)
    m = run_bench([BenchTask(resolve(arch), batch, chw)], config).measurements[0]
    return statistics.fmean(m.times_s), m.median_s


def layer_overhead(arch: str, chw: tuple[int, int, int], batch: int, min_time_s: float) -> dict[str, Any]:
    config = BenchConfig(warmup_s=0.2, min_time_s=min_time_s, breakdown=Breakdown.LAYER)
    m = run_bench([BenchTask(resolve(arch), batch, chw)], config).measurements[0]
    assert m.layer_overhead is not None
    over = m.layer_overhead
    return {"plain_ms": 1e3 * over.plain_median_s, "hooked_ms": 1e3 * over.hooked_median_s,
            "overhead_pct": 100 * over.share, "layers_plus_outside_ms": 1e3 * m.layers_median_s,
            "layers": len(m.layers)}  # fmt: skip


def measure(arch: str, chw: tuple[int, int, int], batch: int, args: argparse.Namespace) -> dict[str, Any]:
    hands, means, medians = [], [], []
    for trial in range(args.trials):  # the order alternates: neither side always goes first
        if trial % 2:
            mean, median = harness(arch, chw, batch, args.warmup, args.min_time)
        hands.append(hand_loop(arch, chw, batch, args.warmup, args.min_time))
        if not trial % 2:
            mean, median = harness(arch, chw, batch, args.warmup, args.min_time)
        means.append(mean)
        medians.append(median)
    overheads = [m / h - 1 for m, h in zip(means, hands, strict=True)]
    return {
        "arch": arch, "input": [batch, *chw], "trials": args.trials,
        "hand_ms": 1e3 * statistics.median(hands),
        "harness_mean_ms": 1e3 * statistics.median(means),
        "harness_median_ms": 1e3 * statistics.median(medians),
        "overhead_pct": 100 * statistics.median(overheads),
        "overhead_pct_per_trial": [100 * o for o in overheads],
        "best_overhead_pct": 100 * (min(means) / min(hands) - 1),
        "layer_breakdown": layer_overhead(arch, chw, batch, args.min_time),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--min-time", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=("wall", "thread"), default="wall")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.clock == "thread":  # both sides in this thread's CPU time
        global NOW
        NOW = time.thread_time
        engine.clock_for = lambda config: _ThreadClock()  # type: ignore[assignment]
    load_before = os.getloadavg()[0]
    rows = [measure(arch, chw, batch, args) for arch, chw, batch in CASES]
    info = {"torch": torch.__version__, "threads": args.threads, "cpus": os.cpu_count(), "clock": args.clock,
            "load_before": load_before, "load_after": os.getloadavg()[0]}  # fmt: skip
    if args.json:
        print(json.dumps({"environment": info, "results": rows}, indent=2))
        return
    print(f"torch {info['torch']}, {args.threads} thread(s) of {info['cpus']} CPUs, {args.clock} clock, load average "
          f"{info['load_before']:.1f} before / {info['load_after']:.1f} after\n")  # fmt: skip
    print("| Model @ input | Hand loop ms/step | Harness mean ms | Harness median ms | Overhead (median of trials) | Best vs best | Per trial |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        shape = "x".join(map(str, r["input"]))
        trials = ", ".join(f"{o:+.2f}%" for o in r["overhead_pct_per_trial"])
        print(f"| {r['arch']} @ {shape} | {r['hand_ms']:.2f} | {r['harness_mean_ms']:.2f} | "
              f"{r['harness_median_ms']:.2f} | {r['overhead_pct']:+.2f}% | {r['best_overhead_pct']:+.2f}% "
              f"| {trials} |")  # fmt: skip
    print("\n| Model @ input | Layers | Plain pass ms | Hooked pass ms | Hook overhead | Layers + outside ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        b = r["layer_breakdown"]
        shape = "x".join(map(str, r["input"]))
        print(f"| {r['arch']} @ {shape} | {b['layers']} | {b['plain_ms']:.3f} | {b['hooked_ms']:.3f} | "
              f"{b['overhead_pct']:+.1f}% | {b['layers_plus_outside_ms']:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()

"""How much does `resnet-inspect bench` add to what it measures? The harness against a
hand-written timing loop, on the same model, the same input and the same thread count.

The hand loop is the least a careful person would write: warm up, then call the model
back to back under ``torch.inference_mode`` and divide the wall time by the number of calls.
The harness times every call on its own (two ``perf_counter`` reads, an autocast context that
is a no-op, a list append). Trials alternate hand / harness so that drift on a shared machine
hits both alike; the figure reported is the median over trials of

    overhead = harness mean time per call / hand-loop mean time per call - 1

(the harness's median is shown too: it is what the table reports, and it drops the slow tail
that a mean keeps). Target: under 2%.

    python benchmarks/bench_overhead.py [--trials 5] [--min-time 2] [--threads 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import torch

from resnet_inspect.benchmark import BenchConfig, BenchTask, make_input, run_bench
from resnet_inspect.model import build_model
from resnet_inspect.spec import resolve

CASES = (
    ("resnet18", (3, 224, 224), 1),  # ~40 ms a call on two cores: a typical CPU measurement
    ("resnet18:layers=1,1,1,1,widths=8,16,32,64", (3, 32, 32), 1),  # ~0.4 ms: overhead shows most
)


def hand_loop(arch: str, chw: tuple[int, int, int], batch: int, warmup_s: float, min_time_s: float) -> float:
    """Seconds per call, the plain way."""
    model = build_model(resolve(arch)).eval().requires_grad_(False)
    task = BenchTask(resolve(arch), batch, chw)
    x = make_input(task, BenchConfig())
    with torch.inference_mode():
        end = time.perf_counter() + warmup_s
        while time.perf_counter() < end:
            model(x)
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < min_time_s or calls < 5:
            model(x)
            calls += 1
    return elapsed / calls


def harness(arch: str, chw: tuple[int, int, int], batch: int, warmup_s: float,
            min_time_s: float) -> tuple[float, float]:  # fmt: skip
    """(mean, median) seconds per call as `bench` measures them."""
    config = BenchConfig(warmup_s=warmup_s, min_time_s=min_time_s)
    m = run_bench([BenchTask(resolve(arch), batch, chw)], config).measurements[0]
    return statistics.fmean(m.times_s), m.median_s


def fixed_cost_us(calls: int = 200_000) -> float:
    """What the harness adds inside its timing window to every call, with nothing to run: the
    step closure, the (no-op) autocast context and the clock reads. Median, in microseconds.
    Unlike the trials this hardly moves with the machine's load."""
    from contextlib import nullcontext

    from resnet_inspect.benchmark.clocks import Clock as _Clock

    context = nullcontext()

    def step() -> None:
        with context:
            return None

    clock = _Clock()
    return 1e6 * statistics.median(clock.time_one(step) for _ in range(calls))


def measure(arch: str, chw: tuple[int, int, int], batch: int, args: argparse.Namespace) -> dict[str, Any]:
    hands, means, medians = [], [], []
    for _ in range(args.trials):
        hands.append(hand_loop(arch, chw, batch, args.warmup, args.min_time))
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
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--min-time", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    rows = [measure(arch, chw, batch, args) for arch, chw, batch in CASES]
    info = {"torch": torch.__version__, "threads": args.threads, "cpus": os.cpu_count(),
            "load_before": load_before, "load_after": os.getloadavg()[0],
            "fixed_cost_us": fixed_cost_us()}  # fmt: skip
    if args.json:
        print(json.dumps({"environment": info, "results": rows}, indent=2))
        return
    print(f"torch {info['torch']}, {args.threads} thread(s) of {info['cpus']} CPUs, load average "
          f"{info['load_before']:.1f} before / {info['load_after']:.1f} after")  # fmt: skip
    print(f"fixed cost inside the timing window: {info['fixed_cost_us']:.2f} us per call")
    for r in rows:
        share = 100 * info["fixed_cost_us"] / 1e3 / r["harness_median_ms"]
        print(f"  = {share:.3f}% of a {r['harness_median_ms']:.3f} ms call ({r['arch']})")
    print("\n| Model @ input | Hand loop ms/call | Harness mean ms | Harness median ms | Overhead (median of trials) | Per trial |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        shape = "x".join(map(str, r["input"]))
        trials = ", ".join(f"{o:+.2f}%" for o in r["overhead_pct_per_trial"])
        print(f"| {r['arch']} @ {shape} | {r['hand_ms']:.3f} | {r['harness_mean_ms']:.3f} | "
              f"{r['harness_median_ms']:.3f} | {r['overhead_pct']:+.2f}% | {trials} |")  # fmt: skip


if __name__ == "__main__":
    main()

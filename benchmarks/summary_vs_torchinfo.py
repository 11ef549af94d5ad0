"""`summary` against torchinfo's `summary` on the same model and input.

Both produce per-module output shapes and parameter counts. torchinfo needs a real model and a
real forward pass; resnet-inspect traces on the meta device. Times are measured after torch's
import, each contender in its own process (peak RSS is that process's).

On a shared machine single times are noise: the two contenders run interleaved (ours,
torchinfo, ours, ...) ``--repeat`` times and the table shows each one's median wall time and
median CPU time (the process's, after torch's import: other processes disturb it less), and
the ratio of the medians.

``--sweep`` (``--sweep-only``) times both at four module counts (resnet50 with 1, 8, 16 and
41 times its blocks: 182 to 6,622 modules), so that CPU time per module shows whether either
grows faster than the network (runs: ``--repeat`` halved).

    python benchmarks/summary_vs_torchinfo.py [--arch resnet50] [--repeat 5] [--skip-large] [--sweep | --sweep-only]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from _measure import machine, run

OURS = """
from resnet_inspect.spec import resolve
from resnet_inspect.tracing import trace_spec
from resnet_inspect.report.summary import summary_report
from resnet_inspect.render import render, Format
trace = trace_spec(resolve({arch!r}), {shape!r})
text = render(summary_report(trace, 2), Format.TABLE)
extra["rows"] = text.count("\\n")
extra["modules"] = len(trace.layers)
"""
TORCHINFO = """
import torchinfo
from resnet_inspect import build
model = build({arch!r})
stats = torchinfo.summary(model, input_size={shape!r}, depth=2, verbose=0, device="cpu")
extra["rows"] = len(stats.summary_list)
extra["modules"] = sum(1 for _ in model.modules()) - 1
"""
# resnet50 (182 modules) to the 6,622 modules of issue 25's network
SWEEP = ("resnet50", "resnet50:layers=24,32,48,24", "resnet50:layers=48,64,96,48", "resnet50:layers=100,200,300,60")
BIG = "resnet50:layers=100,200,300,60"


def interleaved(arch: str, shape: tuple[int, ...], repeat: int) -> dict[str, list[dict[str, Any]]]:
    """Each contender ``repeat`` times, alternating, so that a busy spell hits both."""
    runs: dict[str, list[dict[str, Any]]] = {"resnet-inspect": [], "torchinfo": []}
    for _ in range(repeat):
        runs["resnet-inspect"].append(run(OURS.format(arch=arch, shape=shape)))
        runs["torchinfo"].append(run(TORCHINFO.format(arch=arch, shape=shape)))
    return runs


def median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def compare(arch: str, shape: tuple[int, ...], repeat: int) -> None:
    runs = interleaved(arch, shape, repeat)
    ours, theirs = runs["resnet-inspect"], runs["torchinfo"]
    label = f"{arch} @ {'x'.join(map(str, shape))}"
    print(f"\n{label}: {ours[0]['modules']} modules, median of {repeat} interleaved runs")
    print(f"{'tool':>16} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12}")
    for name, r in runs.items():
        print(f"{name:>16} {median(r, 'after_torch_s'):8.3f} {median(r, 'after_torch_cpu_s'):8.3f} "
              f"{median(r, 'peak_rss_mb'):12.0f}")  # fmt: skip
    wall = median(theirs, "after_torch_s") / median(ours, "after_torch_s")
    cpu = median(theirs, "after_torch_cpu_s") / median(ours, "after_torch_cpu_s")
    rss = median(theirs, "peak_rss_mb") / median(ours, "peak_rss_mb")
    print(f"{'ratio':>16} {wall:7.1f}x {cpu:7.1f}x {rss:11.1f}x  (torchinfo / resnet-inspect)")


def sweep(repeat: int) -> None:
    """Time per module at four sizes: flat when the time is linear in the module count."""
    print(f"\nmodule-count sweep at 1x3x224x224, median of {repeat} interleaved runs, after torch's import")
    print(f"{'arch':>32} {'modules':>8} {'ours s':>7} {'cpu s':>6} {'us/mod':>6} "
          f"{'tinfo s':>8} {'cpu s':>7} {'us/mod':>6} {'ratio':>6} {'cpu':>6}")  # fmt: skip
    for arch in SWEEP:
        runs = interleaved(arch, (1, 3, 224, 224), repeat)
        n = runs["resnet-inspect"][0]["modules"]
        (ours, ours_cpu), (theirs, theirs_cpu) = (
            (median(runs[k], "after_torch_s"), median(runs[k], "after_torch_cpu_s"))
            for k in ("resnet-inspect", "torchinfo")
        )
        print(f"{arch:>32} {n:8d} {ours:7.3f} {ours_cpu:6.3f} {ours_cpu / n * 1e6:6.0f} "
              f"{theirs:8.2f} {theirs_cpu:7.2f} {theirs_cpu / n * 1e6:6.0f} "
              f"{theirs / ours:5.1f}x {theirs_cpu / ours_cpu:5.1f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", action="append", help=f"default: resnet50 and {BIG}")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-large", action="store_true", help="no 64x3x1024x1024 (torchinfo: minutes)")
    parser.add_argument("--sweep", action="store_true", help="the module-count sweep too")
    parser.add_argument("--sweep-only", action="store_true", help="only the sweep")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    for arch in [] if args.sweep_only else args.arch or ["resnet50", BIG]:
        compare(arch, (1, 3, 224, 224), args.repeat)
    if not (args.skip_large or args.sweep_only):
        compare("resnet50", (64, 3, 1024, 1024), 1)
    if args.sweep or args.sweep_only:
        sweep(max(1, args.repeat // 2))


if __name__ == "__main__":
    main()

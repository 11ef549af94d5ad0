"""Where `summary`'s time goes: build, trace, report and render, and a cProfile of each.

The phases are timed in CPU time (process_time: other processes on a shared machine disturb
it less than wall time), the median of ``--repeat`` runs after one warm-up, with Python's
cycle collector as the library leaves it. Then one run under cProfile, sorted by own time:
a function called per module or per call that takes a growing share as the network grows is
what to look for.

    python benchmarks/trace_profile.py [--arch resnet50:layers=100,200,300,60] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import pstats
import statistics
import time

from resnet_inspect.model import build_model
from resnet_inspect.render import Format, render
from resnet_inspect.report.summary import summary_report
from resnet_inspect.spec import resolve
from resnet_inspect.tracing import trace_model, trace_spec


def phases(arch: str) -> dict[str, float]:
    """CPU seconds of each phase of `summary` (build and trace as trace_spec runs them)."""
    spec = resolve(arch)
    marks = [time.process_time()]
    model = build_model(spec, device="meta")
    marks.append(time.process_time())
    trace = trace_model(model, spec.default_input_shape())
    marks.append(time.process_time())
    report = summary_report(trace, 2)
    marks.append(time.process_time())
    render(report, Format.TABLE)
    marks.append(time.process_time())
    steps = [b - a for a, b in itertools.pairwise(marks)]
    return dict(zip(("build", "trace", "report", "render"), steps, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="resnet50:layers=100,200,300,60")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    phases(args.arch)  # warm-up: lazy imports, caches
    runs = [phases(args.arch) for _ in range(args.repeat)]
    modules = len(trace_spec(resolve(args.arch)).layers)
    print(f"{args.arch}: {modules} modules; CPU s, median of {args.repeat}")
    for name in runs[0]:
        t = statistics.median(r[name] for r in runs)
        print(f"  {name:>7} {t:7.3f} s  {t / modules * 1e6:6.0f} us/module")
    profile = cProfile.Profile()
    profile.enable()
    render(summary_report(trace_spec(resolve(args.arch)), 2), Format.TABLE)
    profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()

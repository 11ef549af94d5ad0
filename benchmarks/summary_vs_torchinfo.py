"""`summary` against torchinfo's `summary` on the same model and input.

Both produce per-module output shapes and parameter counts. torchinfo needs a real model and a
real forward pass; resnet-inspect traces on the meta device. Times are measured after torch's
import, each contender in its own process (peak RSS is that process's).

    python benchmarks/summary_vs_torchinfo.py [--arch resnet50] [--skip-large]
"""

from __future__ import annotations

import argparse

from _measure import machine, run

OURS = """
from resnet_inspect.spec import resolve
from resnet_inspect.tracing import trace_spec
from resnet_inspect.report.summary import summary_report
from resnet_inspect.render import render, Format
text = render(summary_report(trace_spec(resolve({arch!r}), {shape!r}), 2), Format.TABLE)
extra["rows"] = text.count("\\n")
"""
TORCHINFO = """
import torchinfo
from resnet_inspect import build
model = build({arch!r})
stats = torchinfo.summary(model, input_size={shape!r}, depth=2, verbose=0, device="cpu")
extra["rows"] = len(stats.summary_list)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--skip-large", action="store_true", help="only 1x3x224x224")
    args = parser.parse_args()
    shapes = [(1, 3, 224, 224)] + ([] if args.skip_large else [(64, 3, 1024, 1024)])
    print(f"machine: {machine()}")
    print(f"{'input':>16} {'tool':>14} {'time s':>8} {'peak RSS MB':>12}")
    for shape in shapes:
        ours = run(OURS.format(arch=args.arch, shape=shape))
        theirs = run(TORCHINFO.format(arch=args.arch, shape=shape))
        label = "x".join(map(str, shape))
        for name, r in (("resnet-inspect", ours), ("torchinfo", theirs)):
            print(f"{label:>16} {name:>14} {r['after_torch_s']:8.2f} {r['peak_rss_mb']:12.0f}")
        print(f"{'':>16} {'ratio':>14} {theirs['after_torch_s'] / ours['after_torch_s']:7.1f}x "
              f"{theirs['peak_rss_mb'] / ours['peak_rss_mb']:11.1f}x  (torchinfo / resnet-inspect)")


if __name__ == "__main__":
    main()

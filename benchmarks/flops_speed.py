"""`flops` speed and memory.

1. `flops resnet152 --input 256x3x1024x1024` (torch counter, meta device): seconds after
   torch's import and peak RSS. Target: within 3 s, under 500 MB.
2. resnet50 at 1x3x224x224: the torch counter against fvcore's FlopCountAnalysis (real tensors,
   same model) and against torch's FlopCounterMode used directly (meta device, totals only).
   Each in its own process; times after torch's import, model construction included.

    python benchmarks/flops_speed.py
"""

from __future__ import annotations

from _measure import machine, run

OURS = """
from resnet_inspect.spec import resolve
from resnet_inspect.model import build_model
from resnet_inspect.tracing import trace_model
from resnet_inspect.report.flops import By, flops_report
from resnet_inspect.render import render, Format
t = trace_model(build_model(resolve({arch!r}), "meta"), {shape!r})
render(flops_report(t, By.LAYER, 2), Format.TABLE)
extra["macs"] = t.totals.macs
"""
FVCORE = """
from fvcore.nn import FlopCountAnalysis
from resnet_inspect import build
model = build({arch!r}).eval()
with torch.no_grad():
    fca = FlopCountAnalysis(model, torch.zeros({shape!r}))
    fca.unsupported_ops_warnings(False)
    extra["macs"] = fca.total()
"""
FLOP_COUNTER_MODE = """
from torch.utils.flop_counter import FlopCounterMode
from resnet_inspect.spec import resolve
from resnet_inspect.model import build_model
model = build_model(resolve({arch!r}), "meta").eval()
with FlopCounterMode(display=False) as mode, torch.no_grad():
    model(torch.empty({shape!r}, device="meta"))
extra["macs"] = mode.get_total_flops() // 2
"""


def main() -> None:
    print(f"machine: {machine()}")
    big = run(OURS.format(arch="resnet152", shape=(256, 3, 1024, 1024)))
    print(f"flops resnet152 @ 256x3x1024x1024: {big['after_torch_s']:.2f} s after torch import "
          f"({big['with_import_s']:.2f} s with it), peak RSS {big['peak_rss_mb']:.0f} MB")
    shape = (1, 3, 224, 224)
    results = {name: run(code.format(arch="resnet50", shape=shape))
               for name, code in (("resnet-inspect", OURS), ("fvcore", FVCORE),
                                  ("FlopCounterMode", FLOP_COUNTER_MODE))}  # fmt: skip
    ours = results["resnet-inspect"]["after_torch_s"]
    print("resnet50 @ 1x3x224x224 (s after torch import, peak RSS MB, ratio to resnet-inspect;")
    print("  total: our MACs, fvcore's own total (MACs + BN and pooling), FlopCounterMode / 2):")
    for name, r in results.items():
        print(f"  {name:>16}: {r['after_torch_s']:6.2f} s {r['peak_rss_mb']:7.0f} MB "
              f"{r['after_torch_s'] / ours:5.1f}x  total {r['macs']:,}")


if __name__ == "__main__":
    main()

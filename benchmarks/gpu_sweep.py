"""The GPU sweep for docs/benchmarks.md: resnet18/50/101 at batch 1, 8, 64 and 256, in fp32,
tf32 and bf16, with and without channels_last and torch.compile (12 runs of `bench`, each
timing the 12 variant x batch configurations interleaved).

    python benchmarks/gpu_sweep.py --out sweep/            # run everything, then the table
    python benchmarks/gpu_sweep.py --out sweep/ --table    # only rebuild the table from sweep/*.json
    python benchmarks/gpu_sweep.py --dry-run               # print the commands

Each run writes sweep/<dtype>-<layout>-<compile>.json (the full JSON of `bench`, environment
included); the markdown table goes to stdout and to sweep/table.md. The issue's target: the best
configuration of resnet50 at batch 256 on an H100 reaches at least 30% of the dense bf16 peak.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ARCHS = ("resnet18", "resnet50", "resnet101")
BATCHES = "1,8,64,256"
DTYPES = ("fp32", "tf32", "bf16")
TARGET = 0.30  # of the dense bf16 peak, resnet50 at batch 256


def runs() -> list[tuple[str, bool, bool]]:
    return list(itertools.product(DTYPES, (False, True), (False, True)))


def run_name(dtype: str, channels_last: bool, compiled: bool) -> str:
    return f"{dtype}-{'nhwc' if channels_last else 'nchw'}-{'compiled' if compiled else 'eager'}"


def command(dtype: str, channels_last: bool, compiled: bool, out: Path, args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, "-m", "resnet_inspect", "bench", *ARCHS, "--device", args.device,
           "--batch", BATCHES, "--dtype", dtype, "--warmup", str(args.warmup),
           "--min-time", str(args.min_time), "-o", str(out / f"{run_name(dtype, channels_last, compiled)}.json")]  # fmt: skip
    if channels_last:
        cmd.append("--channels-last")
    if compiled:
        cmd += ["--compile-mode", args.compile_mode]
    return cmd


def table(out: Path) -> str:
    rows: list[dict[str, Any]] = []
    env: dict[str, Any] = {}
    for path in sorted(out.glob("*.json")):
        data = json.loads(path.read_text())
        env = data["environment"]
        for r in data["results"]:
            rows.append({**r, "run": path.stem, "env": data["environment"]})
    if not rows:
        return "no results\n"
    lines = [f"Device: {env['device_name']} ({env.get('sm_count')} SMs), torch {env['torch']}, "
             f"CUDA {env['cuda']}, cuDNN {env['cudnn']}", "",
             "| Variant | Batch | dtype-layout-compile | Median ms | P90 ms | Images/s | TFLOP/s | % of peak | Compile s |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in sorted(rows, key=lambda r: (r["variant"], r["batch"], r["run"])):
        if r["status"] != "ok":
            lines.append(f"| {r['variant']} | {r['batch']} | {r['run']} | {r['status'].upper()} | | | | | |")
            continue
        util = "" if r["utilisation"] is None else f"{100 * r['utilisation']:.1f}% ({r['env']['peak']['basis']})"
        compile_s = "" if r["compile_s"] is None else f"{r['compile_s']:.1f}"
        lines.append(f"| {r['variant']} | {r['batch']} | {r['run']} | {r['median_ms']:.3f} | "
                     f"{r['p90_ms']:.3f} | {r['images_per_s']:,.0f} | {r['tflops_per_s']:.1f} | "
                     f"{util} | {compile_s} |")  # fmt: skip
    lines += ["", _target_line(rows)]
    return "\n".join(lines) + "\n"


def _target_line(rows: list[dict[str, Any]]) -> str:
    candidates = [r for r in rows if r["variant"] == "resnet50" and r["batch"] == 256 and r["status"] == "ok"]
    if not candidates:
        return "resnet50 @ 256: no result"
    best = max(candidates, key=lambda r: r["tflops_per_s"])
    peak = (best["env"].get("peak") or {}).get("dense_tflops", {}).get("bf16")
    if not peak:
        return f"best resnet50 @ 256: {best['run']}, {best['tflops_per_s']:.1f} TFLOP/s (no known bf16 peak)"
    share = best["tflops_per_s"] / peak
    verdict = "meets" if share >= TARGET else "falls short of"
    return (f"best resnet50 @ 256: {best['run']}, {best['tflops_per_s']:.1f} TFLOP/s = "
            f"{100 * share:.1f}% of the dense bf16 peak ({peak:g}): {verdict} the {100 * TARGET:.0f}% target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("sweep"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--min-time", type=float, default=1.0)
    parser.add_argument("--compile-mode", default="max-autotune")
    parser.add_argument("--table", action="store_true", help="only rebuild the table")
    parser.add_argument("--dry-run", action="store_true", help="print the commands")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.table:
        for dtype, channels_last, compiled in runs():
            cmd = command(dtype, channels_last, compiled, args.out, args)
            print(" ".join(cmd), file=sys.stderr)
            if not args.dry_run:
                subprocess.run(cmd, check=False)
    if args.dry_run:
        return
    text = table(args.out)
    (args.out / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

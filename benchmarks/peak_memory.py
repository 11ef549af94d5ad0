"""The inference-peak estimate (a meta-device trace) against memory measured in eager PyTorch.

For each preset: build it on the CPU, run one forward pass under ``torch.no_grad`` at the
given input, and count the bytes of every tensor storage the pass creates from its creation
until the last tensor viewing it is garbage-collected (a TorchDispatchMode with weak
references; parameters and buffers excluded, the input included). That is what eager
PyTorch holds, Python's own references included; the trace's estimate never runs a kernel.

    python benchmarks/peak_memory.py                 # every preset of at most 100 M parameters
    python benchmarks/peak_memory.py resnet50 res2net50_26w_4s --input 1x3x224x224

Prints one line per preset and a summary; docs/benchmarks.md keeps a table of a run.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from test_memory_by_hand import eager_peak as measured  # noqa: E402  (the suite's measurement)

from resnet_inspect import build, trace  # noqa: E402
from resnet_inspect.spec import PRESETS, parse_input_shape  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*")
    parser.add_argument("--input", default="1x3x224x224")
    parser.add_argument("--max-params", type=float, default=100e6)
    args = parser.parse_args()
    shape = parse_input_shape(args.input)
    torch.set_num_threads(2)
    names = args.presets or list(PRESETS)
    print(f"torch {torch.__version__}, {platform.machine()}, input {args.input}")
    exact = within = 0
    rows = []
    for name in names:
        spec = PRESETS[name]
        t = trace(spec, input_shape=(shape[0], spec.in_chans, *shape[2:]))
        if t.totals.params > args.max_params:
            continue
        real = measured(build(spec), (shape[0], spec.in_chans, *shape[2:]))
        est = t.totals.peak_activation_bytes
        rel = est / real - 1
        exact += est == real
        within += abs(rel) <= 0.01
        rows.append((name, est, real, rel))
        print(f"{name:28s} estimate {est / 2**20:9.2f} MiB  measured {real / 2**20:9.2f} MiB  {rel:+.2%}", flush=True)
    print(f"{len(rows)} presets: {exact} exact, {within} within 1%; "
          f"largest difference {max((abs(r[3]) for r in rows), default=0):.2%}")


if __name__ == "__main__":
    main()

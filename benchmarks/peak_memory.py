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
import weakref
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from resnet_inspect import build, trace
from resnet_inspect.spec import PRESETS, parse_input_shape


class LiveBytes(TorchDispatchMode):
    def __init__(self, static: set[int]) -> None:
        super().__init__()
        self.static = static
        self.refs: dict[int, int] = {}
        self.size: dict[int, int] = {}
        self.live = self.peak = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if not isinstance(t, torch.Tensor):
                continue
            key = t.untyped_storage().data_ptr()
            if key in self.static or key == 0:
                continue
            if key not in self.refs:
                self.refs[key], self.size[key] = 0, t.untyped_storage().nbytes()
                self.live += self.size[key]
                self.peak = max(self.peak, self.live)
            self.refs[key] += 1
            weakref.finalize(t, self._drop, key)
        return out

    def _drop(self, key: int) -> None:
        self.refs[key] -= 1
        if not self.refs[key]:
            self.live -= self.size.pop(key)
            del self.refs[key]


def measured(model: torch.nn.Module, shape: tuple[int, ...]) -> int:
    model.eval()
    static = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    x = torch.rand(shape)
    mode = LiveBytes(static)
    with torch.no_grad(), mode:
        model(x)
    return mode.peak + x.numel() * x.element_size()


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

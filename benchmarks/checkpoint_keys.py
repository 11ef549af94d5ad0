"""Time `identify` and `check` on safetensors files with many small block keys.

Two layouts of N keys, each with a stem (conv1, bn1) and a head (fc):

- sparse: one 1-element tensor per block (``layer1.{i}.conv1.weight``), N blocks: the shape
  of the attack in issue 15 (5,000 keys in 0.4 MB).
- valid: tiny BasicBlocks of 12 tensors each (8 channels), N / 12 blocks in one stage: a real,
  loadable, absurdly deep network (ResNet-1202, the deepest published, has 600 blocks).

Each case runs in a fresh process (`python -m resnet_inspect ...`, wall time including
start-up, about 1.5 s) and is cut off after --timeout.

    python benchmarks/checkpoint_keys.py [--keys 5000 20000 24000 100000] [--layout sparse valid]
                                         [--root CHECKOUT] [--timeout 900]

--root times another checkout (e.g. an older commit) on the same files.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fake_blocks(n_keys: int, layout: str) -> dict[str, object]:
    import torch

    sd: dict[str, object] = {"conv1.weight": torch.zeros(8, 3, 3, 3), "fc.weight": torch.zeros(5, 8),
                             "fc.bias": torch.zeros(5)}  # fmt: skip
    sd |= {f"bn1.{t}": torch.zeros(8) for t in ("weight", "bias", "running_mean", "running_var")}
    sd["bn1.num_batches_tracked"] = torch.zeros((), dtype=torch.long)
    block = 0
    while layout == "sparse" and len(sd) < n_keys:
        sd[f"layer1.{block}.conv1.weight"] = torch.zeros(1)
        block += 1
    while len(sd) < n_keys:
        for i in (1, 2):
            sd[f"layer1.{block}.conv{i}.weight"] = torch.zeros(8, 8, 3, 3)
            sd |= {f"layer1.{block}.bn{i}.{t}": torch.zeros(8) for t in ("weight", "bias", "running_mean", "running_var")}
            sd[f"layer1.{block}.bn{i}.num_batches_tracked"] = torch.zeros((), dtype=torch.long)
        block += 1
    return sd


def run(root: Path, args: list[str], timeout: float) -> tuple[str, int | None, str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "resnet_inspect", *args], capture_output=True, text=True,
                              env=env, timeout=timeout, cwd=root)  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"> {timeout:.0f}", None, "cut off"
    seconds = time.perf_counter() - start
    last = (done.stderr.strip().splitlines() or [""])[-1]
    return f"{seconds:.1f}", done.returncode, last[:110]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, nargs="+", default=[5000, 20000, 24000, 100000])
    parser.add_argument("--layout", nargs="+", default=["sparse", "valid"], choices=["sparse", "valid"])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to time")
    parser.add_argument("--timeout", type=float, default=900.0)
    opts = parser.parse_args()
    from safetensors.torch import save_file

    print(f"checkout: {opts.root}\n")
    print("| layout | keys | blocks | file MB | command | seconds | exit | stderr (last line) |")
    print("|---|---:|---:|---:|---|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for layout, n in ((layout, n) for layout in opts.layout for n in opts.keys):
            path = Path(tmp) / f"{layout}{n}.safetensors"
            sd = fake_blocks(n, layout)
            save_file(sd, str(path))  # type: ignore[arg-type]
            blocks = sum(1 for k in sd if k.startswith("layer1.") and k.endswith(".conv1.weight"))
            mb = path.stat().st_size / 1e6
            for command in (["identify", str(path), "-f", "json"], ["check", "resnet18", str(path), "-f", "json"]):
                seconds, code, last = run(opts.root, command, opts.timeout)
                print(f"| {layout} | {len(sd):,} | {blocks:,} | {mb:.1f} | {command[0]} | {seconds} | {code} | {last} |", flush=True)


if __name__ == "__main__":
    main()

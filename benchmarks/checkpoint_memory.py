"""Peak memory of `resnet-inspect identify` on a ~500 MB checkpoint, memory-mapped or not.

Saves wide_resnet101_2 (126.9 M parameters, ~508 MB in float32) as a torch.save zip file and
as safetensors in a temporary directory, then runs each way of reading it in a fresh process
and reports that process's peak resident memory (ru_maxrss) above its baseline after imports.

    python benchmarks/checkpoint_memory.py [--arch wide_resnet101_2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each case runs in its own interpreter: {path} is the checkpoint file.
CASES = {
    "summary, no weights (control)": ("pth", "summary-only"),
    "identify (torch zip, mmap)": ("pth", "identify"),
    "identify (safetensors, mmap)": ("safetensors", "identify"),
    "summary --weights (torch zip, mmap)": ("pth", "summary"),
    "plain torch.load(weights_only=True), no mmap": ("pth", "torch.load"),
}

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
import torch
from resnet_inspect.cli import main
import resnet_inspect.checkpoint, resnet_inspect.model, resnet_inspect.tracing
kb = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
base = kb(); t0 = time.perf_counter()
what = {what!r}
if what == "torch.load":
    sd = torch.load({path!r}, map_location="cpu", weights_only=True)
    sum(t.numel() for t in sd.values())
else:
    args = {{"identify": ["identify", {path!r}],
            "summary": ["summary", {arch!r}, "--weights", {path!r}, "-f", "json"],
            "summary-only": ["summary", {arch!r}, "-f", "json"]}}[what]
    sys.argv = ["resnet-inspect", *args]
    import io, contextlib
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main()
        except SystemExit as e:
            assert not e.code, e.code
print(json.dumps({{"base_mib": base / 1024, "peak_mib": kb() / 1024, "seconds": time.perf_counter() - t0}}))
"""


def measure(what: str, path: Path, arch: str) -> dict[str, float]:
    code = CHILD.format(root=str(ROOT), what=what, path=str(path), arch=arch)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


SAVE = r"""
import sys
sys.path.insert(0, {root!r})
import torch
from safetensors.torch import save_file
from resnet_inspect import build
sd = build({arch!r}).state_dict()
torch.save(sd, {pth!r})
save_file(sd, {st!r})
"""


def save(arch: str, directory: Path) -> dict[str, Path]:
    """In a child process: Linux keeps a process's peak RSS across fork and exec, so a parent
    that had built the model would pass its peak on to every measurement."""
    paths = {"pth": directory / f"{arch}.pth", "safetensors": directory / f"{arch}.safetensors"}
    if not all(p.exists() for p in paths.values()):
        code = SAVE.format(root=str(ROOT), arch=arch, pth=str(paths["pth"]),
                           st=str(paths["safetensors"]))
        subprocess.run([sys.executable, "-c", code], check=True)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="wide_resnet101_2")
    parser.add_argument("--keep", type=Path, help="save the checkpoints here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        paths = save(args.arch, directory)
        size = {k: p.stat().st_size / 2**20 for k, p in paths.items()}
        print(f"{args.arch}: torch zip {size['pth']:.0f} MiB, safetensors {size['safetensors']:.0f} MiB")
        print("| case | file MiB | peak RSS above baseline MiB | seconds |")
        print("|---|---:|---:|---:|")
        for name, (kind, what) in CASES.items():
            r = measure(what, paths[kind], args.arch)
            extra = r["peak_mib"] - r["base_mib"]
            print(f"| {name} | {size[kind]:.0f} | {extra:.0f} | {r['seconds']:.2f} |")


if __name__ == "__main__":
    main()

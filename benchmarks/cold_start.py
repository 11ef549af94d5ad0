"""A cold ``resnet-inspect summary resnet50`` against a bare ``python -c "import torch"``.

torch's import is most of any command's time and no tool can shorten it; the target (issue
25) is the whole command within 1.15x of it. Each run is a fresh process; the two are
interleaved (hyperfine-style, after warm-up runs that fill the page cache) so that a busy
spell on a shared machine hits both, and the ratio is that of the medians, of wall time and
of CPU time (the child's user + system time from wait4, which other processes disturb less).

The package's bytecode is compiled first, as ``pip install`` does: where the environment sets
PYTHONDONTWRITEBYTECODE (as this project's machines do) an uncompiled package would otherwise
be compiled from source on every run, some 40 ms that no installed copy pays.

    python benchmarks/cold_start.py [--repeat 15] [-- summary resnet50 ...]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import statistics
import subprocess
import sys
import time

from _measure import machine


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv``, its output discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"{' '.join(argv)} failed:\n{err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def compile_package() -> str:
    """Compile resnet_inspect's bytecode in place (``__pycache__``, ignored by git)."""
    spec = importlib.util.find_spec("resnet_inspect")
    assert spec is not None and spec.submodule_search_locations, "resnet_inspect is not importable"
    folder = next(iter(spec.submodule_search_locations))
    if not compileall.compile_dir(folder, quiet=1):
        raise RuntimeError(f"could not compile {folder}")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("command", nargs="*", default=["summary", "resnet50"])
    args = parser.parse_args()
    folder = compile_package()
    contenders = {
        "import torch": [sys.executable, "-c", "import torch"],
        "resnet-inspect " + " ".join(args.command): [sys.executable, "-m", "resnet_inspect", *args.command],
    }
    for argv in contenders.values():
        for _ in range(args.warmup):
            timed(argv)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for _ in range(args.repeat):
        for name, argv in contenders.items():
            times[name].append(timed(argv))
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}; {args.repeat} interleaved runs")
    print(f"package: {folder} (bytecode compiled)")
    print(f"{'':>36} {'wall s':>7} {'cpu s':>7}  (medians)")
    medians = {}
    for name, runs in times.items():
        medians[name] = (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        print(f"{name:>36} {medians[name][0]:7.3f} {medians[name][1]:7.3f}")
    base, ours = medians.values()
    print(f"{'ratio':>36} {ours[0] / base[0]:6.2f}x {ours[1] / base[1]:6.2f}x  (target: 1.15x)")


if __name__ == "__main__":
    main()

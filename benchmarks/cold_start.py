"""A cold ``resnet-inspect summary resnet50`` against a bare ``python -c "import torch"``.

torch's import is most of any command's time and no tool can shorten it; the target (issue
25) is the whole command within 1.15x of it. Each run is a fresh process; the two are
interleaved (hyperfine-style, after warm-up runs that fill the page cache) so that a busy
spell on a shared machine hits both, and the ratio is that of the medians, of wall time and
of CPU time (the child's user + system time from wait4, which other processes disturb less).

The package's bytecode is compiled first, as ``pip install`` does: where the environment sets
PYTHONDONTWRITEBYTECODE (as this project's machines do) an uncompiled package would otherwise
be compiled from source on every run, some 40 ms that no installed copy pays.

``--imports N`` adds what ``python -X importtime`` says the command imports beyond torch's own
imports (the sum of the modules' own times, median of N runs, by package): a count that a busy
machine disturbs less than wall time does.

    python benchmarks/cold_start.py [--repeat 15] [--imports 5] [-- summary resnet50 ...]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import re
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


def import_times(argv: list[str]) -> dict[str, int]:
    """Each module's own import time in microseconds, from ``-X importtime``."""
    err = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], capture_output=True, text=True).stderr
    lines = (re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line) for line in err.splitlines())
    return {m[2]: int(m[1]) for m in lines if m}


PACKAGES = ("resnet_inspect", "typer", "rich", "pydantic", "pydantic_core")


def imports_beyond_torch(torch_argv: list[str], ours: list[str], runs: int) -> None:
    """Print the median over ``runs`` of the import time ``ours`` spends on modules that
    ``import torch`` does not import, in all and by package."""
    totals: dict[str, list[float]] = {name: [] for name in ("all", *PACKAGES, "other")}
    for _ in range(runs):
        torch_modules = import_times(torch_argv)
        extra = {m: t for m, t in import_times(ours).items() if m not in torch_modules}
        for name in totals:
            top = {m: m.split(".")[0] for m in extra}
            picked = [t for m, t in extra.items() if name == "all" or top[m] == name
                      or (name == "other" and top[m] not in PACKAGES)]  # fmt: skip
            totals[name].append(sum(picked) / 1000)
    print(f"-X importtime, modules beyond torch's (median of {runs}, ms of their own time):")
    print("  " + ", ".join(f"{name} {statistics.median(v):.1f}" for name, v in totals.items()))


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
    parser.add_argument("--imports", type=int, default=0, metavar="N", help="also -X importtime, N runs")
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
    if args.imports:
        imports_beyond_torch(*contenders.values(), runs=args.imports)


if __name__ == "__main__":
    main()

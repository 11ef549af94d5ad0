"""Run a snippet in a fresh Python process; return what it reports and its peak RSS.

Each measurement gets its own process so that peak resident memory (from wait4's rusage) is
that measurement's alone and no import or cache is shared between contenders.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from typing import Any

PRELUDE = """
import json, time, sys
t_start = time.perf_counter()
import torch
torch.set_num_threads({threads})
t_torch = time.perf_counter()
c_torch = time.process_time()
"""
EPILOGUE = """
t_end = time.perf_counter()
c_end = time.process_time()
print(json.dumps({{"after_torch_s": t_end - t_torch, "with_import_s": t_end - t_start,
                  "after_torch_cpu_s": c_end - c_torch, **extra}}))
"""


def run(body: str, threads: int = 2, timeout: float = 1800) -> dict[str, Any]:
    code = PRELUDE.format(threads=threads) + "extra = {}\n" + body + EPILOGUE.format()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"benchmark child failed:\n{err[-2000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def machine() -> str:
    import torch

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"

"""The GPU check (issue 24): every CUDA path of `resnet-inspect bench` in one command that fits
a short GPU lease, each step in its own process with its own time limit.

    python benchmarks/gpu_check.py --out gpu-check/                 # on the GPU: at most 480 s
    python benchmarks/gpu_check.py --out /tmp/gc --device cpu --quick   # CI: a tiny model, seconds
    python benchmarks/gpu_check.py --out gpu-check/ --steps env,eager_bf16

The steps run in priority order (the first matter most if the lease ends early); a step that
fails, crashes or hangs past its limit is recorded and the next one runs. Into OUT, as it goes:
``log.txt`` (appended: each step's command, stderr and verdict), ``NN_STEP.json`` as soon as step
NN ends, ``summary.json`` rewritten after every step (``finished`` turns true at the end), and
``raw/`` (bench's JSON, pytest's XML). Once the total budget is spent the remaining steps are
recorded as skipped. With ``--archive FILE.tgz`` all of OUT is packed into one file after every
step, for a machine that hands back only a few files. Exit 0 when no step failed or timed out.
What each step does: ``benchmarks/gpu_check_steps.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STEPS_SCRIPT = Path(__file__).resolve().parent / "gpu_check_steps.py"
BUDGET_S = 480.0
KILL_GRACE_S = 5.0  # after SIGTERM (bench writes what it measured), then SIGKILL


@dataclass(frozen=True)
class Step:
    """One step: a command run from the repository root, whose stdout is JSON lines."""

    name: str
    timeout_s: float
    argv: tuple[str, ...]
    skip: str | None = None  # why it does not run here (recorded, not run)


# (name, seconds on the GPU, seconds with --quick, None or why it is CUDA-only), priority order
PLAN: tuple[tuple[str, float, float, str | None], ...] = (
    ("env", 30, 30, None),
    ("cuda_tests", 120, 0, "the CUDA tests skip without a GPU"),
    ("eager_bf16", 60, 30, None),
    ("eager_fp32", 40, 30, None),
    ("eager_tf32", 40, 30, None),
    ("eager_fp16_amp", 40, 30, None),
    ("reference_loop", 60, 30, None),
    ("reference_timm", 50, 30, None),
    ("reference_torchvision", 50, 30, None),
    ("compiled", 150, 30, None),
    ("train_amp", 45, 30, None),
    ("breakdown_layer", 45, 30, None),
    ("sigint", 60, 30, None),
    ("oom", 60, 30, None),
    ("max_batch", 90, 30, None),
    ("reduce_overhead", 150, 30, None),
    ("profile", 45, 30, None),
)  # fmt: skip


def default_steps(device: str, quick: bool, out: Path, only: Sequence[str] = ()) -> list[Step]:
    """The plan as steps for this device; ``only`` keeps those names (in plan order)."""
    steps = []
    for name, full_s, quick_s, cuda_only in PLAN:
        if only and name not in only:
            continue
        argv = (sys.executable, str(STEPS_SCRIPT), name, "--out", str(out), "--device", device)
        skip = cuda_only if cuda_only and not device.startswith("cuda") else None
        steps.append(Step(name, quick_s if quick else full_s, argv + (("--quick",) if quick else ()), skip))
    return steps


# --- running one step --------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    rc: int | None  # None: killed at its time limit
    seconds: float
    lines: list[dict[str, Any]]
    stray: list[str]  # stdout lines that were not JSON


def run_step(step: Step, timeout_s: float, log: Path, stdout_path: Path, env: dict[str, str]) -> Outcome:
    """Run ``step`` in its own process group, stderr appended to the log, stdout to a file; at its
    limit SIGTERM to the whole group (bench saves what it measured), then SIGKILL."""
    start = time.monotonic()
    with open(log, "ab") as err, open(stdout_path, "wb") as out:
        proc = subprocess.Popen(step.argv, cwd=ROOT, stdout=out, stderr=err, env=env,
                                start_new_session=True)  # fmt: skip
        try:
            rc: int | None = proc.wait(timeout=max(timeout_s, 0.1))
        except subprocess.TimeoutExpired:
            rc = None
        _kill_group(proc)  # also after a normal end: nothing of a step may outlive it
    return Outcome(rc, time.monotonic() - start, *_read_lines(stdout_path))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the group, a grace period for it to empty, then SIGKILL to what is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + KILL_GRACE_S
    while time.monotonic() < end:
        proc.poll()  # reaps the leader, so that an empty group reads as empty
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _read_lines(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    lines: list[dict[str, Any]] = []
    stray: list[str] = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if isinstance(value, dict):
            lines.append(value)
        elif line.strip():
            stray.append(line)
    return lines, stray


def verdict(step: Step, outcome: Outcome, clipped: bool) -> dict[str, Any]:
    """The step's record: status passed, failed, timeout or skipped, and why."""
    checks = [x for x in outcome.lines if "check" in x]
    skips = [x["skip"] for x in outcome.lines if "skip" in x]
    failed = [c["check"] for c in checks if not c.get("ok")]
    if outcome.rc is None:
        status = "timeout"
        why = f"cut at {'the total budget' if clipped else 'its limit'} ({outcome.seconds:.0f} s)"
    elif outcome.rc != 0:
        status, why = "failed", f"exit {outcome.rc}"
    elif failed:
        status, why = "failed", "checks failed: " + "; ".join(failed)
    elif skips:
        status, why = "skipped", skips[0]
    else:
        status, why = "passed", None
    return {"step": step.name, "status": status, "reason": why, "rc": outcome.rc,
            "seconds": round(outcome.seconds, 2), "timeout_s": step.timeout_s, "command": list(step.argv),
            "checks": checks, "facts": [x for x in outcome.lines if "check" not in x and "skip" not in x],
            "stray_stdout": outcome.stray[-20:]}  # fmt: skip


# --- the whole run -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    out: Path
    budget_s: float = BUDGET_S
    archive: Path | None = None
    header: tuple[tuple[str, Any], ...] = ()  # facts for summary.json (device, quick)


def run_check(steps: Sequence[Step], run: Run) -> dict[str, Any]:
    """Every step in order within the budget; files written as it goes. Returns the summary."""
    run.out.mkdir(parents=True, exist_ok=True)
    (run.out / "raw").mkdir(exist_ok=True)
    log = run.out / "log.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "PYTHONUNBUFFERED": "1"}  # fmt: skip
    started, deadline = time.time(), time.monotonic() + run.budget_s
    records: list[dict[str, Any]] = [{"step": s.name, "status": "pending"} for s in steps]
    _note(log, f"=== gpu check: {len(steps)} steps, budget {run.budget_s:g} s, {time.strftime('%F %T %Z')}")
    _finish(run, records, started, finished=False)
    for i, step in enumerate(steps):
        left = deadline - time.monotonic()
        name = f"{i + 1:02d}_{step.name}"
        if step.skip or left < 1:
            record = {"step": step.name, "status": "skipped",
                      "reason": step.skip or "the total budget was spent before it began"}  # fmt: skip
        else:
            _note(log, f"=== {name}: limit {min(step.timeout_s, left):.0f} s: {' '.join(step.argv)}")
            outcome = run_step(step, min(step.timeout_s, left), log, run.out / "raw" / f"{name}.jsonl", env)
            record = verdict(step, outcome, clipped=left < step.timeout_s)
        records[i] = {**record, "file": f"{name}.json"}
        _write_json(run.out / f"{name}.json", records[i])
        _note(log, f"=== {name}: {record['status']}" + (f" ({record['reason']})" if record.get("reason") else ""))
        _finish(run, records, started, finished=False)
    _note(log, "=== done")
    return _finish(run, records, started, finished=True)


def _finish(run: Run, records: list[dict[str, Any]], started: float, finished: bool) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = {**dict(run.header), "budget_s": run.budget_s, "started": time.strftime("%FT%TZ", time.gmtime(started)),
               "elapsed_s": round(time.time() - started, 1), "finished": finished, "counts": counts,
               "steps": [{k: r.get(k) for k in ("step", "status", "reason", "seconds", "file")} for r in records]}  # fmt: skip
    _write_json(run.out / "summary.json", summary)
    if run.archive is not None:
        _pack(run.out, run.archive)
    return summary


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")  # renamed into place: never half-written
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def _note(log: Path, line: str) -> None:
    with open(log, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def _pack(out: Path, archive: Path) -> None:
    tmp = archive.with_name(f".{archive.name}.tmp")
    mine = {archive.resolve(), tmp.resolve()}  # an archive inside OUT must not pack itself

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        return None if (out.parent / info.name).resolve() in mine else info

    with tarfile.open(tmp, "w:gz") as tar:
        tar.add(out, arcname=out.name, filter=keep)
    os.replace(tmp, archive)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu-check"))
    parser.add_argument("--device", default="cuda", help="cuda (the check) or cpu (with --quick: CI)")
    parser.add_argument("--quick", action="store_true", help="a tiny model and short times")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="total seconds (default 480)")
    parser.add_argument("--steps", default="", help="only these steps, comma-separated")
    parser.add_argument("--archive", type=Path, help="pack OUT into this .tgz after every step")
    args = parser.parse_args(argv)
    only = [s for s in args.steps.split(",") if s]
    unknown = sorted(set(only) - {name for name, *_ in PLAN})
    if unknown:
        parser.error(f"--steps: unknown {', '.join(unknown)}; known: {', '.join(n for n, *_ in PLAN)}")
    out = args.out.resolve()
    steps = default_steps(args.device, args.quick, out, only)
    header = (("device", args.device), ("quick", args.quick))
    summary = run_check(steps, Run(out, args.budget, args.archive, header))
    print(json.dumps(summary["counts"]))
    return 1 if {"failed", "timeout"} & set(summary["counts"]) else 0


if __name__ == "__main__":
    sys.exit(main())

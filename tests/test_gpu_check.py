"""benchmarks/gpu_check.py: the quick CPU run CI makes (so the GPU script cannot rot), and the
runner's promises with steps injected: a step that fails, hangs or outruns the budget is
recorded and the next one runs, and a run cut short leaves what it measured."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CPU_STEPS = ("env", "eager_bf16", "eager_fp32", "reference_loop", "train_amp", "breakdown_layer",
             "sigint", "max_batch", "profile")  # fmt: skip
CUDA_ONLY = ("cuda_tests", "eager_tf32", "eager_fp16_amp", "compiled", "oom", "reduce_overhead")


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


gc = _load()


def _read(path: Path) -> Any:
    return json.loads(path.read_text())


# --- the quick CPU run, as CI makes it ---------------------------------------------------------
@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("gpu_check")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--out", str(out),
                           "--device", "cpu", "--quick", "--archive", str(out / "all.tgz")],
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    return out, done


def _steps(out: Path) -> dict[str, dict[str, Any]]:
    return {r["step"]: r for r in (_read(p) for p in sorted(out.glob("[0-9][0-9]_*.json")))}


def test_quick_run_writes_a_file_per_step_in_priority_order(quick: tuple[Path, Any]) -> None:
    out, done = quick
    assert done.returncode == 0, done.stdout + done.stderr + (out / "log.txt").read_text()[-3000:]
    # the priority order, written out: a step dropped, renamed or moved fails here
    names = ["env", "cuda_tests", "eager_bf16", "eager_fp32", "eager_tf32", "eager_fp16_amp",
             "reference_loop", "reference_timm", "reference_torchvision", "compiled", "train_amp",
             "breakdown_layer", "sigint", "oom", "max_batch", "reduce_overhead", "profile"]  # fmt: skip
    assert [name for name, *_ in gc.PLAN] == names
    files = sorted(p.name for p in out.glob("[0-9][0-9]_*.json"))
    assert files == [f"{i + 1:02d}_{n}.json" for i, n in enumerate(names)]
    summary = _read(out / "summary.json")
    assert summary["finished"] is True and summary["device"] == "cpu"
    assert [s["step"] for s in summary["steps"]] == names
    assert sum(summary["counts"].values()) == len(names)
    log = (out / "log.txt").read_text()
    assert all(f"=== {i + 1:02d}_{n}: " in log for i, n in enumerate(names))  # each verdict logged
    assert "-m resnet_inspect bench" in log  # the commands, for whoever reads it after a lease
    with tarfile.open(out / "all.tgz") as tar:  # one file to fetch from a lease: all of OUT in it
        packed = set(tar.getnames())
    assert {f"{out.name}/summary.json", f"{out.name}/log.txt", f"{out.name}/{files[-1]}"} <= packed
    assert not any("all.tgz" in name for name in packed)  # not itself


def test_quick_run_passes_every_step_that_makes_sense_on_a_cpu(quick: tuple[Path, Any]) -> None:
    steps = _steps(quick[0])
    bad = {n: (steps[n]["status"], steps[n].get("reason")) for n in CPU_STEPS if steps[n]["status"] != "passed"}
    assert not bad
    for name in CPU_STEPS:  # each judged something, not merely exited 0 (the two that only
        # measure on a CPU judge on CUDA: the device's facts, and bench against the hand loop)
        assert steps[name]["checks"] or name in ("env", "reference_loop"), name


def test_quick_run_skips_cuda_steps_saying_why(quick: tuple[Path, Any]) -> None:
    steps = _steps(quick[0])
    for name in CUDA_ONLY:
        assert steps[name]["status"] == "skipped", name
        assert steps[name]["reason"], name
    assert "GPU" in steps["cuda_tests"]["reason"]
    for peer in ("timm", "torchvision"):  # absent here: a skip, not a failure
        if importlib.util.find_spec(peer) is None:
            assert steps[f"reference_{peer}"]["status"] == "skipped"
            assert "not installed" in steps[f"reference_{peer}"]["reason"]


def test_quick_run_measures_what_the_steps_name(quick: tuple[Path, Any]) -> None:
    steps = _steps(quick[0])
    eager = [f for f in steps["eager_bf16"]["facts"] if "batch" in f]
    assert [(f["batch"], f["status"]) for f in eager] == [(1, "ok"), (2, "ok"), (4, "ok")]
    loop = [f for f in steps["reference_loop"]["facts"] if f.get("model") == "ours"]
    assert [f["batch"] for f in loop] == [1, 2, 4]
    assert all(f["loop_ms"] > 0 and f["timer_ms"] > 0 and f["bench_ms"] > 0 for f in loop)
    sigint = next(f for f in steps["sigint"]["facts"] if "rc" in f)
    assert sigint["rc"] == 130  # 128 + SIGINT, as a shell reports Ctrl-C
    fits = next(f for f in steps["max_batch"]["facts"] if "max_batch" in f)["max_batch"]
    assert fits[0]["max_batch"] > 0 and fits[0]["measured"] is False  # an estimate on the CPU
    profile = next(f for f in steps["profile"]["facts"] if "by_operator" in f)["by_operator"]
    assert 0 < profile["outside_convolution_share"] < 1


# --- the runner, with steps injected -----------------------------------------------------------
def _py(code: str, name: str, timeout_s: float = 20) -> Any:
    return gc.Step(name, timeout_s, (sys.executable, "-c", code))


OK = "import json; print(json.dumps({'check': 'fine', 'ok': True}))"


def test_a_failing_step_is_recorded_and_the_next_one_runs(tmp_path: Path) -> None:
    steps = [_py("import sys; sys.exit(3)", "crash"),
             _py("import json; print(json.dumps({'check': 'speed', 'ok': False}))", "slow"),
             _py(OK, "after")]  # fmt: skip
    summary = gc.run_check(steps, gc.Run(tmp_path))
    assert [s["status"] for s in summary["steps"]] == ["failed", "failed", "passed"]
    assert _read(tmp_path / "01_crash.json")["reason"] == "exit 3"
    assert "speed" in _read(tmp_path / "02_slow.json")["reason"]  # a failed check fails the step
    assert summary["finished"] is True


def test_a_hanging_step_is_killed_with_its_children_and_keeps_what_it_said(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    hang = ("import json, subprocess, sys, time; "
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            f"open({str(pid_file)!r}, 'w').write(str(p.pid)); "
            "print(json.dumps({'measured': 42}), flush=True); time.sleep(60)")  # fmt: skip
    start = time.monotonic()
    summary = gc.run_check([_py(hang, "hang", timeout_s=2), _py(OK, "after")], gc.Run(tmp_path))
    assert time.monotonic() - start < 20
    hung = _read(tmp_path / "01_hang.json")
    assert hung["status"] == "timeout" and "its limit" in hung["reason"]
    assert hung["facts"] == [{"measured": 42}]  # printed before the hang: not lost
    assert summary["steps"][1]["status"] == "passed"
    with pytest.raises(ProcessLookupError):  # the step's own child went down with it
        os.kill(int(pid_file.read_text()), 0)


def test_the_total_budget_cuts_a_step_and_skips_the_rest(tmp_path: Path) -> None:
    steps = [_py(OK, "first"), _py("import time; time.sleep(60)", "long", timeout_s=60), _py(OK, "never")]
    start = time.monotonic()
    summary = gc.run_check(steps, gc.Run(tmp_path, budget_s=4))
    assert time.monotonic() - start < 20  # the budget, not the step's own 60 s
    assert [s["status"] for s in summary["steps"]] == ["passed", "timeout", "skipped"]
    assert "total budget" in summary["steps"][1]["reason"] and "budget" in summary["steps"][2]["reason"]
    assert _read(tmp_path / "01_first.json")["checks"][0]["check"] == "fine"
    assert (tmp_path / "03_never.json").exists()  # recorded as skipped, not silently missing


def test_a_run_killed_midway_leaves_its_finished_steps_and_summary(tmp_path: Path) -> None:
    pid_file = tmp_path / "long.pid"
    long = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    code = (f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import gpu_check as g; "
            f"g.run_check([g.Step('first', 20, (sys.executable, '-c', {OK!r})), "
            f"g.Step('long', 60, (sys.executable, '-c', {long!r}))], "
            f"g.Run(__import__('pathlib').Path({str(tmp_path)!r})))")  # fmt: skip
    runner = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        os.killpg(runner.pid, signal.SIGKILL)  # the lease ending: no chance to tidy up
        runner.wait()
        if pid_file.exists():  # the step runs in its own session: end it too
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert _read(tmp_path / "01_first.json")["status"] == "passed"
    summary = _read(tmp_path / "summary.json")
    assert summary["finished"] is False
    assert [(s["step"], s["status"]) for s in summary["steps"]] == [("first", "passed"), ("long", "pending")]
    assert "=== 02_long: limit" in (tmp_path / "log.txt").read_text()


def test_unknown_step_names_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        gc.main(["--steps", "env,warp_drive", "--out", "unused"])
    assert exit_info.value.code == 2
    assert "warp_drive" in capsys.readouterr().err

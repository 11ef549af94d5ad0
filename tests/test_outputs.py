"""What every command writes: never a half-written or clobbered file, JSON that is versioned
and byte-stable, plain tables and pure JSON when stdout is not a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from resnet_inspect import render as render_module
from resnet_inspect.cli import app
from resnet_inspect.cli.output import write_atomic
from resnet_inspect.errors import InspectError
from resnet_inspect.model import build_model
from resnet_inspect.spec import PRESETS

ROOT = Path(__file__).resolve().parents[1]
TINY = "resnet18:widths=8,8,8,8,stem_width=8"
BENCH = ["bench", TINY, "--input", "3x16x16", "--warmup", "0", "--min-time", "0.02", "--threads", "1"]
ESC = "\x1b["


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ckpt") / "resnet20.pth"
    torch.save(build_model(PRESETS["resnet20"]).state_dict(), path)
    return str(path)


def every_command(ckpt: str) -> dict[str, list[str]]:
    """One deterministic invocation of every command (bench is timed: see its own test)."""
    return {
        "summary": ["summary", "resnet20", "--depth", "3"],
        "summary --weights": ["summary", "resnet20", "--weights", ckpt],
        "list": ["list"],
        "flops": ["flops", "resnet20"],
        "flops --by operator": ["flops", "resnet20", "--by", "operator"],
        "diff": ["diff", "resnet20", "resnet20:shortcut=B"],
        "check": ["check", "resnet20", ckpt, "--all"],
        "identify": ["identify", ckpt],
    }


# --- --output: atomic, never clobbered ---------------------------------------------------------
def _existing(tmp_path: Path) -> Path:
    target = tmp_path / "report.json"
    target.write_text("the previous report\n")
    return target


@pytest.mark.parametrize(
    "args",
    [
        ["summary", "--stem", "big"],  # bad input
        ["summary", "--input", "1x3x224"],
        ["flops", "--counter", "fvcore", "--input", "64x3x8192x8192"],  # cannot run here
        ["diff", "resnet18", "resnet5"],
    ],
)
def test_a_failing_run_leaves_the_target_untouched(runner: CliRunner, tmp_path: Path, args: list[str]) -> None:
    target = _existing(tmp_path)
    result = runner.invoke(app, [*args, "-o", str(target)])
    assert result.exit_code in (1, 2)
    assert target.read_text() == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_render_that_raises_leaves_the_target_untouched(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kw: object) -> str:
        raise RuntimeError("renderer bug")

    monkeypatch.setitem(render_module.RENDERERS, render_module.Format.JSON, broken)
    target = _existing(tmp_path)
    result = runner.invoke(app, ["summary", "resnet20", "-o", str(target)])
    assert result.exit_code != 0
    assert target.read_text() == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError])
def test_a_write_interrupted_before_the_rename_leaves_no_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: type[BaseException]
) -> None:
    target = _existing(tmp_path)

    def interrupted(*_args: object) -> None:
        raise failure()

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises((KeyboardInterrupt, InspectError)):
        write_atomic(target, "x" * 1_000_000)
    assert target.read_text() == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_successful_write_replaces_the_target(runner: CliRunner, tmp_path: Path) -> None:
    target = _existing(tmp_path)
    result = runner.invoke(app, ["summary", "resnet20", "-o", str(target)])
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(target.read_text())["spec_string"] == "resnet20"
    assert result.stderr.strip() == f"wrote {target}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


# --- JSON: versioned, pure, byte-stable ----------------------------------------------------
def test_every_command_writes_pure_versioned_json(runner: CliRunner, ckpt: str) -> None:
    for name, args in {**every_command(ckpt), "bench": BENCH}.items():
        result = runner.invoke(app, [*args, "--format", "json"])
        assert result.exit_code == 0, (name, result.stderr)
        data = json.loads(result.stdout)  # nothing but the document on stdout
        assert data["schema_version"] == 1, name
        assert result.stdout == json.dumps(data, indent=2) + "\n", name


_RUN_ALL = """
import json, sys
from typer.testing import CliRunner
from resnet_inspect.cli import app
out = {name: CliRunner().invoke(app, [*args, "--format", "json"]).stdout
       for name, args in json.loads(sys.argv[1]).items()}
print(json.dumps(out))
"""


@pytest.mark.slow
def test_json_is_byte_identical_across_runs(ckpt: str) -> None:
    # two processes with different hash seeds: set and dict orders must not leak into output
    def run(seed: str) -> dict[str, str]:
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", _RUN_ALL, json.dumps(every_command(ckpt))],
                              capture_output=True, text=True, env=env, timeout=300, check=True)  # fmt: skip
        return json.loads(done.stdout)

    first, second = run("1"), run("2")
    for name in every_command(ckpt):
        assert json.loads(first[name])["schema_version"] == 1, name
        assert first[name] == second[name], name


# --- not a terminal: plain tables -----------------------------------------------------------
def test_tables_are_plain_through_clirunner(runner: CliRunner, ckpt: str) -> None:
    for name, args in {**every_command(ckpt), "bench": BENCH}.items():
        result = runner.invoke(app, args, env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
        assert result.exit_code == 0, (name, result.stderr)
        assert result.stdout.strip(), name
        assert ESC not in result.stdout, name


@pytest.mark.parametrize("columns", ["abc", "-5", "0", ""])
def test_a_malformed_columns_variable_is_ignored(runner: CliRunner, columns: str) -> None:
    result = runner.invoke(app, ["summary", "resnet20"], env={"COLUMNS": columns})
    assert result.exit_code == 0, result.stderr
    assert result.stdout == runner.invoke(app, ["summary", "resnet20"], env={"COLUMNS": "140"}).stdout


@pytest.mark.slow
def test_tables_and_json_through_a_pipe(ckpt: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "COLUMNS": "100"}
    table = subprocess.run([sys.executable, "-m", "resnet_inspect", "summary", "resnet20"],
                           capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert "layer3" in table.stdout and ESC not in table.stdout
    bench = subprocess.run([sys.executable, "-m", "resnet_inspect", *BENCH, "-f", "json"],
                           capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    assert json.loads(bench.stdout)["schema_version"] == 1  # progress went to stderr

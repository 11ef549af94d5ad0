"""What the user's file prints goes to stderr; stdout holds the command's output alone.

The seeds end with ``print(out.shape)`` at import: that line landed on stdout before the tool's
output, and ``summary seed003.py:resnet18 -f json`` was not JSON. The model here prints, and
writes to file descriptor 1 directly, at each moment its code runs (import, constructor,
forward), and from a child process; each marker must reach stderr and none stdout, for every
command and format. ``capfd`` sees the file descriptors, ``result.stdout``/``stderr`` the
Python streams (CliRunner's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.cli import app
from resnet_inspect.cli.process import user_output_to_stderr, writing_stdout

ROOT = Path(__file__).resolve().parent.parent
SEEDS = Path(__file__).parent / "user_models" / "seeds"

PRINTING = """
import os
import subprocess
import sys

from torch import nn

print("MARK-import-print")
os.write(1, b"MARK-import-fd\\n")
sys.stdout.write("MARK-import-write\\n")
subprocess.run([sys.executable, "-c", "print('MARK-import-child')"], check=True)


class Net(nn.Sequential):
    def __init__(self):
        print("MARK-init-print")
        super().__init__(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))

    def forward(self, x):
        print("MARK-forward-print")
        os.write(1, b"MARK-forward-fd\\n")
        return super().forward(x)


net = Net()
"""
IMPORT_MARKS = ("MARK-import-print", "MARK-import-fd", "MARK-import-write", "MARK-import-child")
SMALL = ("--input", "1x3x16x16")


@pytest.fixture()
def printing(tmp_path: Path) -> Path:
    """A new file each test: a file is imported once per process, so its import prints once."""
    path = tmp_path / "printing.py"
    path.write_text(PRINTING)
    shapes = {"0.weight": (4, 3, 3, 3), "0.bias": (4,), "4.weight": (2, 4), "4.bias": (2,)}  # Net's state_dict
    torch.save({k: torch.zeros(v) for k, v in shapes.items()}, tmp_path / "weights.pth")
    return path


def marks(text: str) -> list[str]:
    return [line for line in text.splitlines() if "MARK-" in line]


def run(runner: CliRunner, capfd: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    """The command's stdout and everything that reached stderr (Python's and fd 2's)."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.stdout, result.stderr)
    fds = capfd.readouterr()
    assert marks(fds.out) == [], fds.out  # nothing written to fd 1 during the command stays there
    return result.stdout, result.stderr + fds.err


@pytest.mark.parametrize("command", [
    ("summary", "{net}", *SMALL), ("flops", "{net}", *SMALL), ("diff", "{net}", "{net}", *SMALL),
    ("identify", "{net}", *SMALL), ("check", "{net}", "{weights}"), ("bench", "{net}", *SMALL, "--warmup", "0.01", "--min-time", "0.01"),
])  # fmt: skip
def test_json_stdout_parses_and_the_users_output_is_on_stderr(
    runner: CliRunner, capfd: pytest.CaptureFixture[str], printing: Path, command: tuple[str, ...]
) -> None:
    args = [a.replace("{net}", f"{printing}:net").replace("{weights}", str(printing.parent / "weights.pth"))
            for a in command]  # fmt: skip
    out, err = run(runner, capfd, *args, "-f", "json")
    assert json.loads(out)["command"] == command[0]
    ran = ("MARK-forward-print", "MARK-forward-fd") if command[0] != "check" else ()  # check only builds
    for mark in (*IMPORT_MARKS, *ran):
        assert mark in err, (mark, err)


def test_a_constructor_that_prints_prints_on_stderr(runner: CliRunner, capfd: pytest.CaptureFixture[str],
                                                   printing: Path) -> None:  # fmt: skip
    out, err = run(runner, capfd, "summary", f"{printing}:Net", *SMALL, "-f", "csv")
    assert out.splitlines()[0].startswith("name,parent,depth,type,") and marks(out) == []
    assert "MARK-init-print" in err and "MARK-import-print" in err


def test_the_table_holds_no_user_output(runner: CliRunner, capfd: pytest.CaptureFixture[str], printing: Path) -> None:
    out, err = run(runner, capfd, "summary", f"{printing}:net", *SMALL)
    assert out.startswith(f"{printing}:net @") and marks(out) == []
    assert marks(err)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command line in a process of its own: its own fd 1, a pipe, as a script reads it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # -u unbuffers C's stdio too
    return subprocess.run([sys.executable, "-m", "resnet_inspect", *args], capture_output=True, text=True,
                          cwd=cwd, env={**env, "PYTHONPATH": str(ROOT)}, timeout=120)  # fmt: skip


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="printf from ctypes: a Linux libc")
def test_buffered_writes_to_the_real_stdout_are_flushed_to_stderr(tmp_path: Path) -> None:
    """libc buffers printf when fd 1 is a pipe and flushes it at exit (after the JSON); a write
    to ``sys.__stdout__`` waits in Python's buffer for the tool's own flush (before the JSON)."""
    (tmp_path / "cprint.py").write_text("import ctypes, sys\nfrom torch import nn\n"
                                        "ctypes.CDLL(None).printf(b'MARK-libc\\n')\n"
                                        "sys.__stdout__.write('MARK-dunder\\n')\n"
                                        "def net():\n    return nn.Linear(4, 2)\n")  # fmt: skip
    result = cli("summary", "cprint.py:net", "--input", "1x1x1x4", "-f", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["command"] == "summary"
    assert sorted(result.stderr.splitlines()) == ["MARK-dunder", "MARK-libc"]


def test_the_seed_as_the_issue_ran_it_gives_json_on_stdout() -> None:
    """The issue's own case, in a process of its own: the seed prints torch.Size at import."""
    result = cli("summary", "seed003_resnet18.py:resnet18", "-f", "json", "--input", "1x3x64x64", cwd=SEEDS)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["params"] == 11_689_512  # torchvision's resnet18
    assert "torch.Size([1, 1000])" in result.stderr.splitlines() and "torch.Size" not in result.stdout


def test_streams_are_put_back_after_a_command_that_fails(runner: CliRunner, tmp_path: Path) -> None:
    """Ctrl-C, an error in the user's forward: fd 1, sys.stdout and the number of open files
    are as before (a lost ``finally`` would leave this process writing to stderr)."""
    path = tmp_path / "fails.py"
    path.write_text("from torch import nn\nclass Net(nn.Linear):\n    def __init__(self):\n"
                    "        super().__init__(4, 2)\n    def forward(self, x):\n"
                    "        print('MARK-before-raise')\n        raise KeyboardInterrupt\n")  # fmt: skip
    before = os.fstat(1), sys.stdout, len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else 0
    result = runner.invoke(app, ["summary", f"{path}:Net", "--input", "1x1x1x4"])
    assert result.exit_code == 130 and result.stdout == "" and "MARK-before-raise" in result.stderr
    after = os.fstat(1), sys.stdout, len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else 0
    assert (after[0].st_dev, after[0].st_ino) == (before[0].st_dev, before[0].st_ino)
    assert after[1] is before[1] and after[2] == before[2]


def test_only_writing_stdout_reaches_stdout_while_redirected(capfd: pytest.CaptureFixture[str]) -> None:
    real = sys.stdout
    with user_output_to_stderr():
        print("user-print")
        os.write(1, b"user-fd\n")
        with writing_stdout():
            sys.stdout.write("tool-output\n")
        print("user-after")
    assert sys.stdout is real
    print("caller-after")
    fds = capfd.readouterr()
    assert fds.out == "tool-output\ncaller-after\n"
    assert fds.err == "user-print\nuser-fd\nuser-after\n"


def test_the_python_api_leaves_stdout_alone(capfd: pytest.CaptureFixture[str], printing: Path) -> None:
    """The API does not redirect: the caller owns its streams, and a model's prints are theirs
    to see (a notebook, a script). It must not leave anything changed either."""
    real, fd_before = sys.stdout, os.fstat(1)
    result = resnet_inspect.summary(f"{printing}:net", input_size=(1, 3, 16, 16))
    assert result.data.totals.params == 3 * 4 * 9 + 4 + 4 * 2 + 2
    assert sys.stdout is real and os.fstat(1).st_ino == fd_before.st_ino
    fds = capfd.readouterr()
    assert "MARK-forward-print" in fds.out and "MARK-import-print" in fds.out

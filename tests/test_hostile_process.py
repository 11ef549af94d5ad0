"""The process around a command: stdout closed or full, stderr closed or full, COLUMNS=0 on a
terminal, a deleted working folder, Ctrl-C, and user code that exits (SystemExit, GeneratorExit)
or names a file that cannot be one.

Each runs the real command line in a fresh process (the streams and the folder are the
process's own) and expects the project's rule: an exit code, one ``error:`` line that names
what is wrong, no traceback, and nothing on stdout but the output asked for.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
PYTHON = shlex.quote(sys.executable)
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell's redirections and ptys")


def sh(script: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
       timeout: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``script`` in sh, where ``RI`` runs the command line: the redirections (``>&-``,
    ``> /dev/full``) are the shell's, as a user types them."""
    return subprocess.run(["sh", "-c", f"RI='{PYTHON} -m resnet_inspect'; {script}"], capture_output=True,
                          text=True, cwd=cwd, env={**ENV, **(env or {})}, timeout=timeout)  # fmt: skip


def one_error_line(stderr: str, *fragments: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert all(f in lines[0] for f in fragments), (fragments, lines[0])
    return lines[0]


# --- 1. stdout closed or full, stderr closed or full ----------------------------------------------
@pytest.mark.parametrize("command", ["summary resnet18 --depth 1", "--version"])
def test_a_closed_stdout_is_an_error_not_a_traceback_or_a_silent_success(command: str) -> None:
    """Before: summary died on ``None.isatty()``; --version exited 0 having printed nothing."""
    result = sh(f"$RI {command} >&-")
    assert result.returncode == 1
    one_error_line(result.stderr, "stdout is closed")


def test_a_closed_stdout_does_not_stop_output_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "presets.json"
    result = sh(f"$RI list -o {shlex.quote(str(out))} >&-")
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["command"] == "list"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("command", ["summary resnet18 --depth 1", "list -f csv", "--version", "--help"])
def test_stdout_on_a_full_disk_is_one_error_line(command: str) -> None:
    """A large output fails at the write, a small one (the CSV, the version) only when the
    buffer is flushed: at exit, where Python reports it as "Exception ignored" (exit 120)."""
    result = sh(f"$RI {command} > /dev/full")
    assert result.returncode == 1
    one_error_line(result.stderr, "cannot write the output", "No space left on device")


def test_a_closed_stderr_leaves_stdout_to_the_output() -> None:
    """``print(..., file=None)`` writes to stdout: the error line landed in the output."""
    result = sh("$RI summary no-such-preset 2>&-")
    assert result.returncode == 2 and result.stdout == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_stderr_does_not_fail_a_command_that_worked(tmp_path: Path) -> None:
    out = tmp_path / "presets.csv"
    result = sh(f"$RI list -o {shlex.quote(str(out))} 2>/dev/full")  # 'wrote ...' cannot be said
    assert result.returncode == 0
    assert out.read_text().startswith("preset,")


# --- 2. COLUMNS that is not a width, on a terminal --------------------------------------------------
_ON_A_TERMINAL = textwrap.dedent("""
    import sys
    from resnet_inspect.cli import app
    for args in {commands!r}:
        try:
            app(args, prog_name="resnet-inspect")
        except SystemExit as exc:
            print(f"exit={{exc.code}}", file=sys.stderr)
""")


def on_a_terminal(commands: list[list[str]], columns: str, width: int = 100) -> tuple[str, str]:
    """``commands`` run in one process whose stdout is a pseudo-terminal ``width`` columns
    wide; returns what the terminal showed (styles removed) and stderr. TERM is a real
    terminal's: rich takes a 'dumb' one as 80 columns whatever COLUMNS says."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))
    code = _ON_A_TERMINAL.format(commands=commands)
    with subprocess.Popen([sys.executable, "-c", code], stdout=slave, stderr=subprocess.PIPE, cwd=ROOT,
                          env={**ENV, "COLUMNS": columns, "TERM": "xterm"}) as proc:  # fmt: skip
        os.close(slave)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        stderr = proc.stderr.read().decode() if proc.stderr else ""
    os.close(master)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode(errors="replace")), stderr


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from resnet_inspect.model import build_model
    from resnet_inspect.spec import resolve

    path = tmp_path_factory.mktemp("ckpt") / "resnet20.pth"
    torch.save(build_model(resolve("resnet20"), "meta").to_empty(device="cpu").state_dict(), path)
    return path


@pytest.mark.parametrize("columns", ["0", "99999999999"])
def test_a_columns_that_is_no_width_on_a_terminal_is_ignored(columns: str, checkpoint: Path) -> None:
    """Before: COLUMNS=0 on a terminal printed nothing at all and exited 0 (rich took it as a
    width of 0); a huge one drew tables that wide. Now the terminal's own width (100) is used."""
    commands = [["summary", "resnet18", "--depth", "1"], ["list"], ["identify", str(checkpoint)],
                ["flops", "resnet18", "--by", "stage"], ["--help"]]  # fmt: skip
    shown, stderr = on_a_terminal(commands, columns)
    assert stderr.splitlines() == ["exit=0"] * len(commands), stderr
    assert "layer4" in shown  # summary and flops: the stage rows
    assert "resnext50_32x4d" in shown  # list
    assert "resnet20" in shown  # identify
    assert "Build any ResNet variant" in shown  # the help
    assert 0 < max(len(line.rstrip()) for line in shown.splitlines()) <= 100


# --- 3. the working folder ------------------------------------------------------------------------
def test_a_deleted_working_folder_is_named_before_torch_is_imported(tmp_path: Path) -> None:
    """Before: torch's own import died with 'Intel oneMKL FATAL ERROR: Cannot load ...'."""
    gone = shlex.quote(str(tmp_path / "gone"))
    result = sh(f"mkdir {gone} && cd {gone} && rmdir {gone} && $RI summary resnet18 --depth 1")
    assert result.returncode == 1 and result.stdout == ""
    one_error_line(result.stderr, "current folder no longer exists")


# --- 4. user code: file names, literal arguments, and what it raises -----------------------------
MODELS = textwrap.dedent("""
    import os
    import signal
    import sys

    import torch


    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(8, 2)

        def forward(self, x):
            return self.fc(x)


    class ExitsInInit(Tiny):
        def __init__(self):
            super().__init__()
            sys.exit(0)


    class ExitsInForward(Tiny):
        def forward(self, x):
            raise SystemExit(0)


    class GeneratorExitInForward(Tiny):
        def forward(self, x):
            raise GeneratorExit


    class InterruptInForward(Tiny):
        def forward(self, x):
            raise KeyboardInterrupt


    class CtrlCInInit(Tiny):
        def __init__(self):
            super().__init__()
            os.kill(os.getpid(), signal.SIGINT)  # as the terminal sends it


    class ExitsOnRealTensors(Tiny):  # traced on meta, then timed for real: the last-resort net
        def forward(self, x):
            if not x.is_meta:
                sys.exit(0)
            return self.fc(x)
""")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("user") / "models.py"
    path.write_text(MODELS)
    return path


@pytest.mark.parametrize(("name", "fragments"), [
    ("ExitsInInit", ("ExitsInInit()", "SystemExit: 0")),
    ("ExitsInForward", ("ExitsInForward's forward", "SystemExit: 0")),
    ("GeneratorExitInForward", ("GeneratorExitInForward's forward", "GeneratorExit")),
])  # fmt: skip
def test_user_code_that_exits_is_its_failure_not_a_success(models: Path, name: str, fragments: tuple[str, ...]) -> None:
    """Before: SystemExit(0) exited 0 with an empty stdout (a script takes it for success);
    GeneratorExit was a traceback. Only Exception was caught around the user's code."""
    result = sh(f"$RI summary {shlex.quote(f'{models}:{name}')} --input 1x3x8x8", cwd=models.parent)
    assert result.returncode == 2 and result.stdout == ""
    one_error_line(result.stderr, "models.py", *fragments)


@pytest.mark.parametrize("name", ["InterruptInForward", "CtrlCInInit"])
def test_an_interrupt_says_so_and_exits_130(models: Path, name: str) -> None:
    """Before: exit 130 and nothing at all on stderr."""
    result = sh(f"$RI summary {shlex.quote(f'{models}:{name}')} --input 1x3x8x8", cwd=models.parent)
    assert result.returncode == 130 and result.stdout == ""
    assert result.stderr == "error: interrupted\n"


def test_a_system_exit_outside_the_traced_code_is_caught_by_the_last_net(models: Path) -> None:
    """bench runs the forward for real after tracing it on meta; what it raises there that is
    not an Exception is said with where it came from, exit 1 (the run failed)."""
    result = sh(f"$RI bench {shlex.quote(f'{models}:ExitsOnRealTensors')} --input 3x8x8 --batch 1 "
                "--warmup 0.01 --min-time 0.01", cwd=models.parent)  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    line = one_error_line(result.stderr, "SystemExit(0)")
    raising = MODELS.splitlines().index("            sys.exit(0)") + 1  # the user's line, not a frame of ours
    assert f"raised at models.py:{raising} " in line


def test_a_file_name_over_the_limit_is_one_short_line(tmp_path: Path) -> None:
    """Before: ``OSError: [Errno 36] File name too long`` from ``Path.is_file``."""
    result = sh(f"$RI summary {'a' * 300}.py:Net", cwd=tmp_path)
    assert result.returncode == 2
    line = one_error_line(result.stderr, "File name too long")
    assert len(line) < 250  # the name cut in the middle, not the 303 characters


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_python_file_that_is_not_a_regular_file_is_refused_unread(tmp_path: Path, kind: str) -> None:
    """A FIFO named x.py would block the import until a writer came (the timeout fails it)."""
    path = tmp_path / "net.py"
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    result = sh("$RI summary net.py:Net", cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    one_error_line(result.stderr, "net.py: is a", "not a Python file")


@pytest.mark.parametrize(("argument", "fragment"), [
    ("[" * 100_000, "too many nested parentheses"),  # the parser's own limit (200 levels)
    ("-" * 100_000 + "1", "nested too deeply"),  # the parser runs out of memory: not the machine
])  # fmt: skip
def test_a_literal_nested_100000_deep_is_bad_input(tmp_path: Path, argument: str, fragment: str) -> None:
    """Before: 'error: out of memory', exit 1; it is the input that is wrong (exit 2), and the
    line quotes it cut, not 100,000 characters twice."""
    result = sh(f"$RI summary 'net.py:Net({argument})'", cwd=tmp_path)
    assert result.returncode == 2
    line = one_error_line(result.stderr, fragment)
    assert len(line) < 600

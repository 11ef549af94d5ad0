"""What keeps a cold command short (issue 25) without changing what it does: only the named
command is built (cli/app.py). The coercion without pydantic is tested in test_coercion.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from resnet_inspect.cli import app
from resnet_inspect.cli.app import _command_name, _only_the_command_named

ALL = ["bench", "summary", "list", "flops", "diff", "check", "identify", "convert"]


def _names() -> list[str | None]:
    return [_command_name(c) for c in app.registered_commands]


@pytest.mark.parametrize(("first", "held"), [(["summary"], ["summary"]), (["list"], ["list"]),
                                             (["bench"], ["bench"])])  # fmt: skip
def test_a_line_that_starts_with_a_command_builds_that_command_alone(first: list[str], held: list[str]) -> None:
    """``list`` is registered under a name its function (list_presets) does not have."""
    assert sorted(_names()) == sorted(ALL)
    with _only_the_command_named(first):
        assert _names() == held
    assert _names() == [_command_name(c) for c in app.registered_commands] and sorted(_names()) == sorted(ALL)


@pytest.mark.parametrize("first", [[], ["--help"], ["--version"], ["summry"], ["list-presets"]])
def test_anything_else_sees_every_command(first: list[str]) -> None:
    """The group's help lists every command, and a mistyped one gets its suggestion."""
    with _only_the_command_named(first):
        assert sorted(_names()) == sorted(ALL)


def test_a_shells_completion_sees_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_RESNET_INSPECT_COMPLETE", "complete_bash")
    with _only_the_command_named(["summary"]):
        assert sorted(_names()) == sorted(ALL)


def test_the_commands_come_back_after_a_failure() -> None:
    with pytest.raises(SystemExit), _only_the_command_named(["summary"]):
        raise SystemExit(2)
    assert sorted(_names()) == sorted(ALL)


def test_a_command_run_alone_says_what_it_said_among_all() -> None:
    """The command's help and a mistyped command's suggestion, by the real entry point."""
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "resnet_inspect", *args], capture_output=True, text=True,
                              env={**os.environ, "COLUMNS": "100"}, timeout=60)  # fmt: skip

    alone = run("list", "--help")
    assert alone.returncode == 0 and "--family" in alone.stdout and "Usage:" in alone.stdout
    typo = run("lst")
    assert typo.returncode == 2 and "No such command 'lst'" in typo.stderr and "list" in typo.stderr


def test_the_command_line_imports_no_format_it_does_not_write() -> None:
    """A table on stdout needs render/table.py alone; csv, html, json, markdown and svg load on
    first use (and then render: tests/test_render.py and test_outputs.py)."""
    code = "import sys, resnet_inspect.cli; print(sorted(m for m in sys.modules if m.startswith('resnet_inspect.render')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.strip() == str(["resnet_inspect.render", "resnet_inspect.render.base", "resnet_inspect.render.table"])

"""cli/coercion.py: option values coerced without pydantic mean what typer's own coercion
makes of them, and a plain command line no longer imports pydantic."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import typer.main

from resnet_inspect.cli import app
from resnet_inspect.cli.coercion import coerce_natively

typer_coercion = pytest.importorskip("typer._coercion", reason="a typer without per-parameter coercion")

# each command line: the command, then its arguments (defaults, then values the user types)
LINES = [
    ["summary"],
    ["summary", "resnet50"],
    ["summary", "resnet50", "--depth", "3", "--groups", "32", "--avg-down", "-i", "1x3x64x64"],
    ["summary", "--no-avg-down", "--depth", "+3"],
    ["summary", "--depth", "007", "--exact", "-f", "json"],
    ["summary", "--depth", "-1"],
    ["summary", "--depth", "123456789012345678"],  # 18 digits: still ours
    ["flops", "resnet18", "--by", "stage", "--depth", "1"],
    ["diff", "resnet18", "resnet34", "--depth", "2", "--only-changed"],
    ["list", "--family", "resnet"],
    ["bench"],
    ["bench", "resnet18", "resnet50", "--warmup", "0.5", "--min-time", "1", "--threads", "2", "--top", "3"],
    # values left to typer (pydantic), by rule or because they are not plain
    ["summary", "--depth", " 3"],
    ["summary", "--depth", "3.0"],
    ["summary", "--depth", "1_000"],
    ["summary", "--depth", "1234567890123456789"],  # 19 digits
    ["summary", "--depth", "x"],
    ["summary", "--depth", "1e3"],
    ["summary", "--depth", "٣"],  # an Arabic-Indic 3: int() takes it, pydantic does not
    ["bench", "--warmup", "fast"],
    ["bench", "--threads", "two"],
]


def _parse(argv: list[str], native: bool) -> tuple[str, Any]:
    """(``"ok"``, the parameters) or (``"error"``, the message) of parsing ``argv`` with our
    coercion, or with typer's own (built for every parameter before parsing)."""
    group = typer.main.get_command(app)
    command = group.commands[argv[0]]  # type: ignore[attr-defined]
    parent = group.make_context("resnet-inspect", [argv[0]], resilient_parsing=True)
    if not native:
        for param in command.get_params(parent):
            if getattr(param, "_runtime_param", 0) is None:
                param._runtime_param = typer_coercion.build_runtime_param(param.type_descriptor)
    try:
        ctx = command.make_context(argv[0], argv[1:], parent=parent)
    except Exception as exc:  # the usage error the user would see
        return "error", f"{type(exc).__name__}: {exc.format_message()}"  # type: ignore[attr-defined]
    return "ok", [(k, type(v), v) for k, v in sorted(ctx.params.items())]


@pytest.mark.parametrize("argv", LINES, ids=[" ".join(a) for a in LINES])
def test_native_coercion_agrees_with_typers(argv: list[str]) -> None:
    """Each value and its type, or the error message, the same both ways. Catches a native
    rule that differs from pydantic's: a tuple where typer gives a list, ``"3"`` left a
    string, ``int("٣")`` accepting what pydantic refuses, ``None`` where typer gives ``()``."""
    ours, typers = _parse(argv, native=True), _parse(argv, native=False)
    assert ours == typers


def test_the_values_and_errors_are_the_ones_a_user_sees() -> None:
    """The comparison above is not vacuous: the values are converted, the errors raised."""
    status, params = _parse(["summary", "resnet50", "--depth", "+3"], native=True)
    assert status == "ok" and ("depth", int, 3) in params and ("arch", str, "resnet50") in params
    status, params = _parse(["bench", "resnet18", "resnet50"], native=True)
    assert status == "ok" and ("arch", list, ["resnet18", "resnet50"]) in params
    status, message = _parse(["summary", "--depth", "x"], native=True)
    assert status == "error" and "'--depth'" in message and "valid integer" in message


def test_a_plain_command_line_does_not_import_pydantic() -> None:
    """typer 0.29 built a pydantic adapter for every parameter: about 50 ms of a cold start
    (issue 25). Parsing summary's and the group's options here must not import it."""
    code = (
        "import sys, typer.main\n"
        "from resnet_inspect.cli import app\n"
        "group = typer.main.get_command(app)\n"
        "parent = group.make_context('resnet-inspect', ['summary'])\n"
        "group.commands['summary'].make_context('summary', ['resnet50', '--depth', '3', '--groups', "
        "'2', '--avg-down'], parent=parent)\n"
        "print('pydantic' in sys.modules, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_a_parameter_with_its_own_coercion_is_left_alone() -> None:
    """One that typer has already given a coercion (or a typer without them) keeps it."""

    class Param:
        type_descriptor = None
        _runtime_param = "typer's"

    param = Param()
    coerce_natively([param])
    assert param._runtime_param == "typer's"

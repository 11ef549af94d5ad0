"""Closed choices, parsed once: what the command line accepts the API accepts, with the same
result, and a bad value is named as the user gave it (a flag there, an argument here).

Before, ``flops(by="Stage")`` was refused while ``--by Stage`` was accepted, and
``bench(mode="train")`` timed a forward pass: four checkers had drifted apart.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Any

import pytest
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.benchmark import BenchConfig, Breakdown, CompileMode, Mode, Optimizer, Precision
from resnet_inspect.choices import parse_choice
from resnet_inspect.cli import app
from resnet_inspect.errors import RuntimeFailure, UsageError
from resnet_inspect.render import Format
from resnet_inspect.report.flops import By
from resnet_inspect.units import DType

TINY = "resnet20"  # the CIFAR stem: a 32x32 input by default, traced in milliseconds
BENCH_TINY = "resnet18:layers=1,1,1,1,widths=8,16,32,64"


def spellings(enum: type[Enum], aliases: dict[str, str] | None = None) -> list[tuple[str, Enum]]:
    """Every value as written, in upper and in title case, and the documented aliases."""
    out = [(text, m) for m in enum for text in (m.value, m.value.upper(), m.value.title())]
    return out + [(alias.upper(), enum(target)) for alias, target in (aliases or {}).items()]


# --- the one parser ----------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "member"), [
    ("Stage", By.STAGE), (" OPERATOR ", By.OPERATOR), (By.LAYER, By.LAYER),
    ("bf16", DType.BFLOAT16), ("Half", DType.FLOAT16), ("double", DType.FLOAT64),  # units.DTYPE_ALIASES
    ("bfloat16", Precision.BF16), ("HALF", Precision.FP16),  # config.PRECISION_ALIASES
    ("Max-Autotune", CompileMode.MAX_AUTOTUNE), ("JSON", Format.JSON),
])  # fmt: skip
def test_a_choice_is_read_whatever_its_case_and_alias(text: Any, member: Enum) -> None:
    assert parse_choice(type(member), text, "x") is member


def test_a_bad_choice_names_the_subject_the_value_and_every_allowed_value() -> None:
    with pytest.raises(UsageError) as info:
        parse_choice(By, "block", "--by")
    assert str(info.value) == "--by 'block': not one of layer, stage, operator"
    assert info.value.subject == "--by"


@pytest.mark.parametrize("value", [None, 3, True, Mode.TRAIN])
def test_a_value_that_is_not_text_or_a_member_is_refused(value: object) -> None:
    """Catches None or a number reaching ``.strip()`` (an AttributeError, a traceback) or being
    read as its text ("None"); an unrelated enum's member is not a By."""
    with pytest.raises(UsageError, match=r"^by "):
        parse_choice(By, value, "by")


# --- the command line and the API agree ------------------------------------------------------
def cli_json(runner: CliRunner, *args: str) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "-f", "json"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


@pytest.mark.parametrize(("text", "member"), spellings(By))
def test_by_is_the_same_choice_on_the_command_line_and_in_the_api(runner: CliRunner, text: str, member: By) -> None:
    cli = cli_json(runner, "flops", TINY, "--by", text)
    api = resnet_inspect.flops(TINY, by=text).to_dict()
    assert cli["by"] == api["by"] == member.value
    assert cli["layers"] == api["layers"]


@pytest.mark.parametrize(("text", "member"), spellings(DType, {"bf16": "bfloat16", "fp16": "float16"}))
def test_dtype_is_the_same_choice_on_the_command_line_and_in_the_api(
    runner: CliRunner, text: str, member: DType
) -> None:
    cli = cli_json(runner, "summary", TINY, "--dtype", text)
    api = resnet_inspect.summary(TINY, dtype=text).to_dict()
    assert cli["dtype"] == api["dtype"] == member.value
    assert cli["totals"] == api["totals"]  # the memory figures follow the element size


# the bench settings: flag, BenchConfig field (the API's keyword), values
BENCH_CHOICES = [
    ("--dtype", "precision", spellings(Precision, {"bfloat16": "bf16", "half": "fp16"})),
    ("--mode", "mode", spellings(Mode)),
    ("--optimizer", "optimizer", spellings(Optimizer)),
    ("--breakdown", "breakdown", spellings(Breakdown)),
    ("--compile-mode", "compile_mode", spellings(CompileMode)),
]
BENCH_CASES = [(flag, field, text, member) for flag, field, values in BENCH_CHOICES for text, member in values]


@pytest.fixture()
def planned(monkeypatch: pytest.MonkeyPatch) -> list[BenchConfig]:
    """The configs that reach ``plan``; nothing is timed."""
    seen: list[BenchConfig] = []

    def capture(*args: Any, **kwargs: Any) -> None:
        seen.append(kwargs["config"] if "config" in kwargs else args[3])
        raise RuntimeFailure("planned")

    monkeypatch.setattr(sys.modules["resnet_inspect.benchmark"], "plan", capture)
    return seen


@pytest.mark.parametrize(("flag", "field", "text", "member"), BENCH_CASES)
def test_bench_settings_are_the_same_choice_on_the_command_line_and_in_the_api(
    runner: CliRunner, planned: list[BenchConfig], flag: str, field: str, text: str, member: Enum
) -> None:
    """Catches the API storing the text ("train") where the engine compares with the member."""
    result = runner.invoke(app, ["bench", BENCH_TINY, flag, text])
    assert result.exit_code == 1 and "planned" in result.stderr, result.output
    with pytest.raises(RuntimeFailure, match="planned"):
        resnet_inspect.bench(BENCH_TINY, **{field: text})
    cli, api = planned
    assert getattr(cli, field) is getattr(api, field) is member


# --- a bad value, named as the user gave it -----------------------------------------------------
@pytest.mark.parametrize(("args", "flag"), [
    (["flops", TINY, "--by", "block"], "--by"), (["flops", TINY, "--counter", "ptflops"], "--counter"),
    (["summary", TINY, "--dtype", "int8"], "--dtype"), (["summary", TINY, "-f", "yaml"], "--format"),
    (["bench", BENCH_TINY, "--dtype", "fp64"], "--dtype"), (["bench", BENCH_TINY, "--mode", "fit"], "--mode"),
    (["bench", BENCH_TINY, "--compile-mode", "fastest"], "--compile-mode"),
])  # fmt: skip
def test_the_command_line_names_the_flag(runner: CliRunner, args: list[str], flag: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {flag} '{args[-1]}': not one of "), result.stderr


@pytest.mark.parametrize(("call", "argument"), [
    (lambda: resnet_inspect.flops(TINY, by="block"), "by"),
    (lambda: resnet_inspect.summary(TINY, dtype="int8"), "dtype"),
    (lambda: resnet_inspect.diff(TINY, TINY, align="names"), "align"),
    (lambda: resnet_inspect.bench(BENCH_TINY, precision="fp64"), "precision"),
    (lambda: resnet_inspect.bench(BENCH_TINY, mode="fit"), "mode"),
])  # fmt: skip
def test_the_api_names_the_argument(call: Any, argument: str) -> None:
    with pytest.raises(UsageError) as info:
        call()
    assert info.value.subject == argument and str(info.value).startswith(f"{argument} '")

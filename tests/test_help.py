"""Help that teaches: examples, metavars that read like values, completion, a bare command."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import EXAMPLES, app
from resnet_inspect.spec import SpecError, resolve

COMMANDS = ["summary", "list", "flops", "diff", "check", "identify", "bench", "convert"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_ends_with_real_examples(command: str) -> None:
    """Catches a command whose help lost its examples, or examples of another command."""
    out = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
    assert "Examples" in out
    assert len(EXAMPLES[command]) >= 2
    for example in EXAMPLES[command]:
        assert example.startswith(f"resnet-inspect {command}")
        assert example in out


@pytest.mark.parametrize("command", ["summary", "flops", "diff", "check", "identify", "bench", "list"])
def test_metavars_read_like_values(command: str) -> None:
    """typer's defaults (<str>, <int>, <bool>) say nothing about the value a flag takes."""
    out = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
    options = [ln for ln in out.splitlines() if ln.lstrip("│ ").startswith("-") and "--help " not in ln]
    assert len(options) >= 2
    for line in options:  # (typer shows a positional argument's type; options are ours)
        for lazy in ("<str>", "<int>", "<float>", "<list", "<bool>"):
            assert lazy not in line, f"{command} --help: {line.strip()}"


@pytest.mark.parametrize("example", [e for c in COMMANDS if c not in ("check", "identify", "bench")
                                     for e in EXAMPLES[c] if "-o " not in e and "fvcore" not in e and "convert" not in e])  # fmt: skip
def test_the_examples_run(example: str) -> None:
    """An example that errors teaches the wrong thing. (Those that need a file or time, or
    write one, are left out.)"""
    args = example.split()[1:]
    if "--input" in args and "1024" in example:
        args[args.index("--input") + 1] = "1x3x64x64"  # the same command, quicker
    result = CliRunner().invoke(app, args)
    assert result.exit_code == (1 if "--exit-code" in args else 0), result.stdout  # they differ


def test_a_bare_command_prints_the_help_and_exits_0() -> None:
    done = subprocess.run([sys.executable, "-m", "resnet_inspect"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "Usage" in done.stdout and "error" not in done.stderr


def test_completion_can_be_installed() -> None:
    out = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout
    assert "--install-completion" in out


@pytest.mark.parametrize(("key", "field"), [("dilation", "replace_stride_with_dilation"),
                                            ("grops", "groups"), ("stem_widht", "stem_width")])  # fmt: skip
def test_a_spec_key_close_to_a_field_or_its_flag_is_suggested(key: str, field: str) -> None:
    """`dilation` is the flag's name, not the key: say which key is meant."""
    with pytest.raises(SpecError, match=f"did you mean {field}"):
        resolve(f"resnet50:{key}=1")


def test_columns_show_each_layers_own_geometry() -> None:
    """resnet18's stem: a 7x7 conv, stride 2, padding 3 (He et al. 2016, table 1 and
    torchvision); the max-pool 3x3/2, padding 1; layer2.0.conv1 strides by 2 itself while its
    output stride is 8. Catches the cumulative stride shown as the layer's own."""
    import json

    out = CliRunner().invoke(app, ["summary", "resnet18", "--depth", "3", "--columns",
                                   "kernel,stride,padding,out_stride", "-f", "json"]).stdout  # fmt: skip
    rows = {r["name"]: r for r in json.loads(out)["layers"]}
    assert (rows["conv1"]["kernel"], rows["conv1"]["stride"], rows["conv1"]["padding"]) == (7, 2, 3)
    assert (rows["maxpool"]["kernel"], rows["maxpool"]["stride"], rows["maxpool"]["padding"]) == (3, 2, 1)
    assert (rows["layer2.0.conv1"]["stride"], rows["layer2.0.conv1"]["jump"]) == (2, 8)
    table = CliRunner().invoke(app, ["summary", "resnet18", "--depth", "3", "--columns",
                                     "stride,padding,out_stride"], env={"COLUMNS": "200"}).stdout  # fmt: skip
    header = table.splitlines()[2]
    assert "Padding" in header and "Out stride" in header and "Params" not in header


def test_an_unknown_column_is_bad_input() -> None:
    result = CliRunner().invoke(app, ["summary", "--columns", "outptu"])
    assert result.exit_code == 2 and "--columns 'outptu'" in result.stderr and "out_stride" in result.stderr

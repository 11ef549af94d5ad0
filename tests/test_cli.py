"""The command line through typer's CliRunner: what a user sees and what scripts parse."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app


def run(runner: CliRunner, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def test_summary_table_shows_stages_blocks_and_totals(runner: CliRunner) -> None:
    result = run(runner, "summary", "resnet50")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("layer1", "├─0", "└─2", "Bottleneck", "1x2048x7x7", "25,557,032", "4,089,184,256", "MACs"):
        assert text in out
    assert "├─conv1" not in out  # default depth: stem, stages, blocks


def test_a_command_pauses_the_cycle_collector_only_while_it_runs(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """summary runs with the collector off (its speed), and the collector is back after it,
    a failing one too (tests and library users run many commands in one process). Catches
    the pause not applied, or not undone on an error."""
    import resnet_inspect.report.summary as summary

    seen: list[bool] = []
    real = summary.summary_report
    monkeypatch.setattr(summary, "summary_report", lambda *a, **k: seen.append(gc.isenabled()) or real(*a, **k))
    assert run(runner, "summary", "resnet18").exit_code == 0
    assert seen == [False] and gc.isenabled()
    assert run(runner, "summary", "resnet18", "--depth", "0").exit_code == 2
    assert gc.isenabled()


def test_bench_keeps_the_cycle_collector() -> None:
    """bench may run for minutes (torch.compile makes cyclic garbage all along): it keeps
    the collector, wherever its options come. Catches a pause applied to every command."""
    from resnet_inspect.cli.app import _short_lived

    assert not _short_lived(["bench", "resnet18"])
    assert not _short_lived(["--traceback", "bench"])
    assert _short_lived(["summary", "resnet18"]) and _short_lived(["flops", "--input", "1x3x8x8"])


def test_summary_depth_three_shows_layers(runner: CliRunner) -> None:
    out = run(runner, "summary", "resnet18", "--depth", "3").stdout
    assert "│ ├─conv1" in out and "│ ├─downsample" in out  # under layer2's first block


def test_no_arch_means_resnet50(runner: CliRunner) -> None:
    data = json.loads(run(runner, "summary", "--format", "json").stdout)
    assert data["spec_string"] == "resnet50"
    assert data["totals"]["params"] == 25_557_032


def test_flags_override_a_preset(runner: CliRunner) -> None:
    args = ("summary", "resnet50", "--groups", "32", "--width-per-group", "4", "-f", "json")
    data = json.loads(run(runner, *args).stdout)
    assert data["spec_string"] == "resnext50_32x4d"
    assert data["totals"]["params"] == 25_028_904


def test_flags_alone_define_a_model(runner: CliRunner) -> None:
    data = json.loads(run(runner, "summary", "--block", "basic", "--layers", "2,2,2,2", "-f", "json").stdout)
    assert data["spec"]["block"] == "basic" and data["totals"]["params"] == 11_689_512


def test_summary_json_schema(runner: CliRunner) -> None:
    data = json.loads(run(runner, "summary", "resnet18", "--input", "2x3x64x64", "-f", "json").stdout)
    assert data["schema_version"] == 1
    assert data["input_shape"] == [2, 3, 64, 64]
    layer = data["layers"][0]
    for key in ("name", "type", "depth", "output_shape", "params", "macs", "flops"):
        assert key in layer
    assert {"params", "trainable_params", "macs", "flops"} <= set(data["totals"])
    assert data["spec"]["layers"] == [2, 2, 2, 2]


def test_json_is_byte_stable(runner: CliRunner) -> None:
    a = run(runner, "summary", "resnet20", "-f", "json").stdout
    b = run(runner, "summary", "resnet20", "-f", "json").stdout
    assert a == b


def test_csv_and_markdown(runner: CliRunner) -> None:
    csv_out = run(runner, "summary", "resnet18", "-f", "csv").stdout.splitlines()
    assert csv_out[0].startswith("name,parent,depth,type,output_shape,params")
    assert any(line.startswith("layer4,,1,Sequential,1x512x7x7,8393728") for line in csv_out)
    md = run(runner, "summary", "resnet18", "-f", "markdown").stdout
    assert "| Layer | Type |" in md and "11,689,512" in md


@pytest.mark.parametrize(("suffix", "marker"), [(".json", '"schema_version"'), (".svg", "<svg"),
                                                (".html", "<html"), (".md", "| Layer")])  # fmt: skip
def test_output_file_format_from_extension(runner: CliRunner, tmp_path: Path, suffix: str, marker: str) -> None:
    target = tmp_path / f"out{suffix}"
    result = run(runner, "summary", "resnet18", "-o", str(target))
    assert result.exit_code == 0
    assert marker in target.read_text()
    assert result.stdout == ""
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary left behind


def test_list_shows_presets_with_params(runner: CliRunner) -> None:
    result = run(runner, "list", "--exact")  # 83.5 M on screen without --exact
    assert result.exit_code == 0
    for text in ("resnext101_64x4d", "83,455,272", "resnet110", "deep/32 +avg_down"):
        assert text in result.stdout


def test_version(runner: CliRunner) -> None:
    from resnet_inspect import __version__

    assert run(runner, "--version").stdout.strip() == f"resnet-inspect {__version__}"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["summary", "resnet5"], "unknown architecture 'resnet5'; did you mean resnet50?"),
        (["summary", "--groups", "32", "--block", "basic"], "basic block"),
        (["summary", "--widths", "64,128"], "widths"),
        (["summary", "--layers", "0,1"], "--layers"),
        (["summary", "--shortcut", "D"], "--shortcut 'D'"),
        (["summary", "--stem", "big"], "--stem 'big'"),
        (["summary", "--norm", "layer"], "--norm 'layer'"),
        (["summary", "--dilation", "1"], "replace_stride_with_dilation"),
        (["summary", "--input", "1x3x224"], "--input '1x3x224'"),
        (["summary", "--input", "1x3x-5x5"], "--input"),
        (["summary", "--input", "axb"], "--input 'axb'"),
        (["summary", "resnet50:groups"], "expected key=value"),
        (["summary", "--depth", "0"], "--depth"),
        (["summary", "-f", "xml"], "--format 'xml'"),
        (["summary", "--grops", "3"], "--grops"),
        (["summary", "--dtype", "int3"], "--dtype"),
    ],
)
def test_bad_input_is_one_line_exit_2(runner: CliRunner, args: list[str], fragment: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.output


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys; from resnet_inspect.cli import main; sys.argv=['resnet-inspect','summary','--help'];\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'; print('ok', file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Architecture" in result.stdout


def test_python_dash_m_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "resnet_inspect", "--version"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0 and result.stdout.startswith("resnet-inspect ")


def test_csv_is_one_tidy_table(runner: CliRunner) -> None:
    """One table, a parent and a depth column, numbers only: summing params over depth 1
    gives the total (11,689,512, torchvision's resnet18), and a pooled receptive field is
    empty rather than the word 'global'. Catches a CSV that double-counts parents when summed."""
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(run(runner, "summary", "resnet18", "-f", "csv").stdout)))
    assert sum(int(r["params"]) for r in rows if r["depth"] == "1") == 11_689_512
    assert {r["parent"] for r in rows if r["depth"] == "2"} == {"layer1", "layer2", "layer3", "layer4"}
    assert next(r for r in rows if r["name"] == "avgpool")["rf"] == ""
    assert all(r["params"].isdigit() for r in rows)


def test_foreign_fields_are_flags(runner: CliRunner) -> None:
    """--conv-bias, --bn-eps, --head, --img-size come from the spec's fields like every other
    architecture flag: Keras's ResNet-50 from flags is the preset, its parameters Keras's
    trainable count (tests/reference/data/keras.json.gz); CLIP's attention pool at its own
    size. Catches a field without a flag, or a flag that does not reach the spec."""
    args = ("summary", "resnet50", "--stride-in", "1x1", "--conv-bias", "--bn-eps", "1.001e-5", "-f", "json")
    data = json.loads(run(runner, *args).stdout)
    assert data["spec_string"] == "resnet50_keras" and data["totals"]["params"] == 25_583_592
    args = ("summary", "resnet50c", "--head", "attn", "--img-size", "64", "--num-classes", "1024", "-f", "json")
    data = json.loads(run(runner, *args).stdout)
    assert data["input_shape"] == [1, 3, 64, 64] and data["spec"]["head"] == "attn"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--bn-eps", "0"), "error: --bn-eps '0': must be above 0"),
        (("--head", "attn", "--img-size", "100"), "error: img_size=100: head=attn needs a multiple"),
    ],
)
def test_foreign_fields_refuse_bad_values_in_one_line(runner: CliRunner, args: tuple[str, ...], fragment: str) -> None:
    result = runner.invoke(app, ["summary", "resnet50", *args])
    assert result.exit_code == 2 and fragment in result.stderr and "Traceback" not in result.output

"""`diff A B`: alignment by module name, the stage and total deltas, the CLI's exit codes."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.sources import open_source
from resnet_inspect.tracediff import Change, TraceDiff, diff_sources, merge_names


@functools.cache
def diff(a: str, b: str) -> TraceDiff:
    return diff_sources(open_source(a, named="A"), open_source(b, named="B"))


def total(d: TraceDiff, metric: str) -> tuple[int, int, int]:
    t = next(t for t in d.totals if t.metric == metric)
    return t.a, t.b, t.delta


def run(runner: CliRunner, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["diff", *args])


# --- the checks of the issue ---------------------------------------------------------------------
def test_resnext_trades_params_for_macs() -> None:
    # torchvision's published figures: resnet50 25,557,032 params / 4.09 GMACs,
    # resnext50_32x4d 25,028,904 params / 4.23 GMACs
    d = diff("resnet50", "resnext50_32x4d")
    assert total(d, "params") == (25_557_032, 25_028_904, -528_128)
    assert total(d, "macs")[:2] == (4_089_184_256, 4_230_479_872)
    assert [(f.field, f.a, f.b) for f in d.fields] == [
        ("groups", 1, 32),
        ("width_per_group", 64, 4),
    ]


def test_stride_in_1x1_moves_work_only_in_the_first_block_of_downsampling_stages() -> None:
    d = diff("resnet50", "resnet50:stride_in=1x1")
    assert total(d, "params")[2] == 0
    # conv1 of layer2.0/3.0/4.0 runs at full instead of half resolution in A:
    # c_in * c_out * (HW before - HW after) MACs each, 256*128*(56²-28²) = 77,070,336 per stage
    assert total(d, "macs")[2] == -3 * 256 * 128 * (56**2 - 28**2) == -231_211_008
    changed = {r.name for r in d.changed_layers()}
    firsts = ("layer2.0", "layer3.0", "layer4.0")
    assert changed and all(
        n in ("layer2", "layer3", "layer4") or n.startswith(firsts) for n in changed
    )
    assert {"layer2.0.conv1", "layer2.0.conv2", "layer4.0.conv1"} <= changed


def test_resnest_changes_every_block_and_the_strided_ones_most() -> None:
    """resnet50d -> resnest50d at 224x224: the same stem, widths and shortcuts. In each block of
    width w the 3x3 (w -> w) becomes split attention: one 3x3 of w -> 2w in 2 groups (the same
    w*w*9 weights), bn0 of 2w channels instead of bn2's w (+2w), fc1 w -> a with bias, bn1 of a,
    fc2 a -> 2w with bias, a = max(32, 2w / 4) = w / 2: +3aw + 3a + 4w parameters and +3aw MACs
    (at 1x1). The first block of stages 2-4 strides with the avd pool after a stride-1 3x3,
    which runs on 4x the outputs: +3 * h*h * w*w*9 MACs (h the stage's output side), and the
    3x3/2 pool widens the field by 2 x the jump (4, 8, 16 there), carried on downstream."""
    d = diff("resnet50d", "resnest50d")
    assert [(f.field, f.a, f.b) for f in d.fields] == [("block", "bottleneck", "resnest"),
                                                       ("avd", False, True)]  # fmt: skip
    stages = {s.name: s for s in d.stages}
    for i, (blocks, w, h) in enumerate([(3, 64, 56), (4, 128, 28), (6, 256, 14), (3, 512, 7)]):
        a = w // 2
        strided = 3 * h * h * w * w * 9 if i else 0
        stage = stages[f"layer{i + 1}"]
        assert stage.params_delta == blocks * (3 * a * w + 3 * a + 4 * w)
        assert stage.macs_delta == blocks * 3 * a * w + strided
    fields = [(stages[f"layer{i}"].a.receptive_field, stages[f"layer{i}"].b.receptive_field)
              for i in range(1, 5)]  # type: ignore[union-attr]  # fmt: skip
    widened = [0, 2 * 4, 2 * 4 + 2 * 8, 2 * 4 + 2 * 8 + 2 * 16]
    assert [b - a for a, b in fields] == widened  # type: ignore[operator]


def test_resnet101_adds_17_blocks_to_layer3_and_nothing_else() -> None:
    d = diff("resnet50", "resnet101")
    layer3 = next(s for s in d.stages if s.name == "layer3")
    assert (layer3.blocks_a, layer3.blocks_b) == (6, 23)
    added_blocks = [r.name for r in d.layers if r.status is Change.ADDED and r.depth == 2]
    assert added_blocks == [f"layer3.{i}" for i in range(6, 23)]
    assert all(s.status is Change.SAME for s in d.stages if s.name != "layer3")
    outside = [r for r in d.layers if r.stage != "layer3"]
    assert outside and all(r.status is Change.SAME for r in outside)
    assert not any(r.status is Change.REMOVED for r in d.layers)


def test_shortcut_a_removes_the_projections() -> None:
    d = diff("resnet34", "resnet34:shortcut=A")
    # the three projections: 1x1 conv + batch-norm scale and shift, 64->128, 128->256, 256->512
    projections = sum(c_in * 2 * c_in + 2 * 2 * c_in for c_in in (64, 128, 256))
    assert total(d, "params")[2] == -projections == -173_824
    removed = sorted(r.name for r in d.layers if r.status is Change.REMOVED)
    assert removed == [f"layer{s}.0.downsample.{i}" for s in (2, 3, 4) for i in (0, 1)]
    shortcut = next(r for r in d.layers if r.name == "layer2.0.downsample")
    assert (shortcut.a.type, shortcut.b.type) == ("Sequential", "ZeroPadShortcut")  # type: ignore[union-attr]


def test_a_variant_against_itself_has_no_differences(runner: CliRunner) -> None:
    d = diff("resnet18", "resnet18")
    assert d.identical and not d.changed_layers() and all(t.delta == 0 for t in d.totals)
    result = run(runner, "resnet18", "resnet18", "--exit-code")
    assert result.exit_code == 0
    assert "No differences" in result.stdout


def test_exit_code_is_1_only_when_asked_and_different(runner: CliRunner) -> None:
    different = run(runner, "resnet18", "resnet18:num_classes=10", "--exit-code")
    assert different.exit_code == 1
    assert "num_classes: 1000 -> 10" in different.stdout  # the report is still printed
    assert different.stderr == ""
    assert run(runner, "resnet18", "resnet18:num_classes=10").exit_code == 0


def test_a_spec_change_that_traces_identically_still_counts_as_a_difference(
    runner: CliRunner,
) -> None:
    d = diff("resnet18", "resnet18:zero_init_residual=true")
    assert d.structurally_identical and not d.identical
    result = run(runner, "resnet18", "resnet18:zero_init_residual=true", "--exit-code")
    assert result.exit_code == 1 and "trace identically" in result.stdout


# --- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["resnet5", "resnet50"], "A 'resnet5': unknown architecture 'resnet5'"),
        (["resnet50", "resnet50:grops=32"], "B 'resnet50:grops=32': unknown spec key 'grops'"),
        (["resnet50", "resnet18:groups=32"], "B 'resnet18:groups=32': groups=32"),
        (["resnet50", "resnet50:groups"], "B 'resnet50:groups'"),
        (["resnet50", "resnet50:stride_in=2x2"], "B 'resnet50:stride_in=2x2': stride_in"),
        (["resnet50", "resnet18", "--input", "1x3x224"], "--input '1x3x224'"),
        (["resnet50", "resnet18", "--input", "1x4x224x224"], "has 4 channels"),
        (["resnet50", "resnet18", "--depth", "0"], "--depth"),
        (["resnet50", "resnet18", "-f", "xml"], "--format 'xml'"),
    ],
)
def test_bad_input_names_the_side_one_line_exit_2(
    runner: CliRunner, args: list[str], fragment: str
) -> None:
    result = run(runner, *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert fragment in lines[0]


# --- inputs --------------------------------------------------------------------------------------
def test_default_input_is_a_s_and_the_report_says_so(runner: CliRunner) -> None:
    out = run(runner, "resnet20", "resnet18").stdout
    assert "Input: 1x3x32x32 (A's default)" in out
    assert "B's own default input is 1x3x224x224" in out
    given = run(runner, "resnet20", "resnet18", "--input", "2x3x64x64").stdout
    assert "Input: 2x3x64x64 (--input)" in given


def test_different_in_chans_each_side_gets_its_own_channels() -> None:
    d = diff("resnet18", "resnet18:in_chans=1")
    assert (d.inputs.a, d.inputs.b) == ((1, 3, 224, 224), (1, 1, 224, 224))
    assert any("in_chans differs" in n for n in d.inputs.notes)
    conv1 = next(r for r in d.layers if r.name == "conv1")
    assert conv1.changed == ("params", "macs") and conv1.params_delta == -2 * 64 * 7 * 7


# --- alignment -----------------------------------------------------------------------------------
def test_merge_keeps_parents_first_and_extra_blocks_before_the_next_stage() -> None:
    a = ["layer1", "layer1.0", "layer1.0.conv", "layer1.1", "layer2", "layer2.0", "fc"]
    b = ["layer1", "layer1.0", "layer1.0.conv", "layer1.0.down", "layer1.1", "layer1.2", "layer2",
         "head"]  # fmt: skip
    merged = merge_names(a, b)
    assert sorted(merged) == sorted(set(a) | set(b))
    assert merged.index("layer1.0.down") < merged.index("layer1.1")
    assert merged.index("layer1.2") < merged.index("layer2")
    assert all(merged.index(n.rpartition(".")[0]) < merged.index(n) for n in merged if "." in n)


# --- the report ----------------------------------------------------------------------------------
def test_table_names_the_cause_then_stages_layers_and_totals(runner: CliRunner) -> None:
    out = run(runner, "resnet50", "resnext50_32x4d").stdout
    for text in ("groups: 1 -> 32", "Stages: params and MACs", "Layers, aligned by name",
                 "Totals", "-528,128", "+141,295,616", "MACs", "params -11,520"):  # fmt: skip
        assert text in out, text
    assert out.index("groups: 1 -> 32") < out.index("Stages")


def test_only_changed_hides_unchanged_rows(runner: CliRunner) -> None:
    full = json.loads(run(runner, "resnet50", "resnet101", "-f", "json").stdout)
    short = json.loads(run(runner, "resnet50", "resnet101", "--only-changed", "-f", "json").stdout)
    assert any(r["name"] == "layer1.0" for r in full["layers"])
    names = [r["name"] for r in short["layers"]]
    assert names[0] == "layer3" and names[1:] == [f"layer3.{i}" for i in range(6, 23)]


def test_depth_three_shows_the_changed_convolutions(runner: CliRunner) -> None:
    args = ("resnet50", "resnet50:stride_in=1x1", "--depth", "3", "--only-changed", "-f", "csv")
    rows = run(runner, *args).stdout.splitlines()
    conv = next(line for line in rows if line.strip().startswith("layer2.0.conv1,"))
    assert "stride 1 -> 2" in conv and "shape 1x128x56x56 -> 1x128x28x28" in conv


def test_json_carries_every_section(runner: CliRunner) -> None:
    data = json.loads(run(runner, "resnet34", "resnet34:shortcut=A", "-f", "json").stdout)
    assert data["command"] == "diff" and data["identical"] is False
    assert data["spec_fields"] == [{"field": "shortcut", "a": "B", "b": "A"}]
    assert [s["name"] for s in data["stages"]] == [
        "stem",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "head",
    ]
    params = next(t for t in data["totals"] if t["metric"] == "params")
    assert params["delta"] == -173_824 and params["a"] == 21_797_672
    assert {t["metric"] for t in data["totals"]} >= {
        "flops",
        "peak_activation_bytes",
        "receptive_field",
    }


@pytest.mark.parametrize(("fmt", "markers"), [
    ("csv", ("name,parent,depth,type,output_shape", "layer1.0,layer1,2,Bottleneck", "params +34,816")),
    ("markdown", ("### Spec fields", "### Totals", "| groups | 1 | 32 |", "-528,128")),
])  # fmt: skip
def test_csv_carries_the_layers_and_markdown_every_table(
    runner: CliRunner, fmt: str, markers: tuple[str, ...]
) -> None:
    out = run(runner, "resnet50", "resnext50_32x4d", "-f", fmt).stdout
    for marker in markers:
        assert marker in out, marker


def test_svg_output_file(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "diff.svg"
    result = run(runner, "resnet18", "resnet34", "-o", str(target))
    assert result.exit_code == 0 and "<svg" in target.read_text()


def test_diff_help_does_not_import_torch() -> None:
    code = (
        "import sys; from resnet_inspect.cli import main; sys.argv=['resnet-inspect','diff','--help'];\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--exit-code" in result.stdout

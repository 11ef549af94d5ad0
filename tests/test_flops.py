"""`flops` and the counting behind it: cross-checked against torch's FlopCounterMode, fvcore
and autograd's own saved tensors."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

from resnet_inspect import build, trace
from resnet_inspect.cli import app
from resnet_inspect.counters.fvcore import fvcore_counts
from resnet_inspect.model import build_model
from resnet_inspect.spec import PRESETS, ResNetSpec, resolve
from resnet_inspect.tracing.records import stage_members

SMALL_VARIANTS = [
    "resnet18:layers=1,1,1,1",
    "resnet50:layers=1,2,1,1,stride_in=1x1",
    "resnext50_32x4d:layers=1,1,1,1",
    "resnet26d:replace_stride_with_dilation=0,1,1",
    "resnet20",
    "resnet50:layers=1,1,norm=group,num_classes=7,in_chans=1",
    "resnet34:shortcut=C,layers=1,1,1,1,1,widths=8,16,32,64,128",
    # timm's options: SE and ECA gates, tiered stem, ResNet-RS stem, blur and avg anti-aliasing
    # (also dilated), SENet-154's 3x3 projections (avg anti-aliasing on odd sizes cannot run,
    # in timm either: see test_family.py)
    "seresnet18:layers=1,1,1,1",
    "ecaresnet26t:layers=1,1,1,1",
    "resnetrs50:layers=1,1,1,1,aa=blur",
    "resnetblur50d:layers=1,1,1,1,replace_stride_with_dilation=0,0,1",
    "senet154:layers=1,1,1,1",
    # ResNeSt: split attention over 4 branches, the avd pool before the 3x3; one dilated stage
    "resnest50d_4s2x40d:layers=1,1,1,1",
    "resnest14d:replace_stride_with_dilation=0,0,1",
    # selective kernels: split and grouped paths, dilated (the paths' dilations double), blurred
    "skresnet18:layers=1,1,1,1",
    "skresnext50_32x4d:layers=1,1,1,1,replace_stride_with_dilation=0,0,1",
    "skresnet50d:layers=1,1,1,1,aa=blur",
]


@pytest.mark.parametrize("arch", SMALL_VARIANTS)
def test_macs_equal_half_of_flop_counter_mode(arch: str) -> None:
    spec = resolve(arch)
    shape = (2, spec.in_chans, 48, 40)
    model = build_model(spec, "meta").eval()
    with FlopCounterMode(display=False) as mode, torch.no_grad():
        model(torch.empty(shape, device="meta"))
    # FlopCounterMode counts 2 per multiply-add and only convolution and matrix products
    assert mode.get_total_flops() == 2 * trace(spec, input_shape=shape).totals.macs


def _shallow(spec: ResNetSpec) -> ResNetSpec:
    layers = tuple(min(n, 2) for n in spec.layers)
    if spec.block_widths is None:
        return spec.replace(layers=layers)
    # a pruned net keeps the widths of the blocks it keeps
    kept = [w for s, n in enumerate(layers) for i in range(n) for w in spec.block_channels(s, i)]
    return spec.replace(layers=layers, block_widths=kept)


def at_side(spec: ResNetSpec, side: int) -> ResNetSpec:
    """An attention-pool preset (CLIP's) built for the test's input side: its positional
    embedding fixes the grid (side 32: one cell and the mean token)."""
    return spec.replace(img_size=side) if spec.head.value == "attn" else spec


# At most two blocks per stage: every part of each preset (stem, first and later blocks of each
# stage, attention, anti-aliasing) at a fraction of fvcore's tracing time on the 100-to-400-block
# presets; deeper stages repeat the second block. Presets that become the same network this way
# (resnet101d and resnet200d are resnet26d's) are checked once.
SHALLOW_PRESETS = {_shallow(spec): name for name, spec in reversed(list(PRESETS.items()))}


@pytest.mark.slow
@pytest.mark.parametrize("spec", SHALLOW_PRESETS, ids=SHALLOW_PRESETS.values())
def test_fvcore_agrees_on_macs_for_every_preset(spec: ResNetSpec) -> None:
    shape = (1, 3, 32, 32)
    spec = at_side(spec, 32)
    counts = fvcore_counts(build_model(spec, "meta"), shape)
    ours = trace(spec, input_shape=shape)
    assert counts[""].macs == ours.totals.macs
    for stage in ours.stages():
        if stage.name.startswith("layer"):  # the stage's modules: layerN, or resnetv2's stages.N
            members = [r.name for r in stage_members(ours.layers) if r.stage == stage.name]
            assert sum(counts[m].macs for m in members) == stage.macs


@pytest.mark.parametrize("arch", SMALL_VARIANTS)
def test_fvcore_agrees_on_macs_for_odd_variants(arch: str) -> None:
    spec = resolve(arch)
    shape = (1, spec.in_chans, 37, 29)
    counts = fvcore_counts(build_model(spec, "meta"), shape)
    assert counts[""].macs == trace(spec, input_shape=shape).totals.macs


@pytest.mark.parametrize("arch", ["resnet18", "resnet50:layers=1,1,1,1", "resnet20", "resnet26d",
                                  "resnetv2_18:layers=1,1,1,1", "resnetv2_50d:layers=1,1,1,1",
                                  "resnetv2_50d_frn:layers=1,1,1,1"])  # fmt: skip
def test_training_memory_equals_what_autograd_saves(arch: str) -> None:
    model = build(arch).train()
    params = {p.data_ptr() for p in model.parameters()}
    saved: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        # activations only: not parameters, not per-channel statistics (1-D)
        if t.data_ptr() not in params and t.dim() > 1:
            saved[(t.data_ptr(), t.numel())] = t.numel() * t.element_size()
        return t

    shape = (2, 3, 40, 40)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(torch.randn(shape))
    assert trace(arch, input_shape=shape).totals.training_activation_bytes == sum(saved.values())


def test_flops_table_labels_units(runner: CliRunner) -> None:
    result = runner.invoke(app, ["flops", "--input", "1x3x224x224"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "MACs" in out and "FLOPs" in out and "Share of FLOPs" in out
    assert "4,089,184,256" in out  # resnet50, the default variant
    for op in ("convolution", "batch_norm", "relu", "max_pool", "avg_pool", "add"):
        assert op in out


def test_flops_by_stage(runner: CliRunner) -> None:
    data = json.loads(runner.invoke(app, ["flops", "resnet18", "--by", "stage", "-f", "json"]).stdout)
    assert [layer["name"] for layer in data["layers"]] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert sum(layer["macs"] for layer in data["layers"]) == data["totals"]["macs"] == 1_814_073_344
    assert sum(layer["flops"] for layer in data["layers"]) == data["totals"]["flops"]


def test_flops_json_totals(runner: CliRunner) -> None:
    data = json.loads(runner.invoke(app, ["flops", "resnet50", "-f", "json"]).stdout)
    assert {"macs", "flops", "params"} <= set(data["totals"])
    assert data["counter"] == "torch"
    ops = {o["operator"]: o for o in data["operators"]}
    assert ops["add"]["count"] == 16
    assert all("macs" in layer and "flops" in layer for layer in data["layers"])


def test_flops_by_operator_only(runner: CliRunner) -> None:
    out = runner.invoke(app, ["flops", "resnet18", "--by", "operator"]).stdout
    assert "By operator" in out and "layer1.0" not in out


def test_fvcore_counter_shows_its_numbers(runner: CliRunner) -> None:
    result = runner.invoke(app, ["flops", "resnet20", "--counter", "fvcore", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["fvcore"]["macs"] == data["totals"]["macs"]
    assert data["fvcore"]["total"] > data["fvcore"]["macs"]  # it adds batch norm and pooling


def test_fvcore_refuses_an_input_too_large_to_run(runner: CliRunner) -> None:
    result = runner.invoke(app, ["flops", "resnet50", "--counter", "fvcore", "--input", "512x3x2048x2048"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --counter fvcore") and "--counter torch" in result.stderr
    assert result.stdout == ""


def test_fvcore_missing_is_a_clear_error(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fvcore.nn", None)  # makes `import fvcore.nn` fail
    result = runner.invoke(app, ["flops", "resnet20", "--counter", "fvcore"])
    assert result.exit_code == 1
    assert "fvcore is not installed" in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--counter", "thop"], "--counter 'thop'"), (["--by", "block"], "--by 'block'"),
     (["--dtype", "int8"], "--dtype 'int8'")],
)  # fmt: skip
def test_flops_bad_choices(runner: CliRunner, args: list[str], fragment: str) -> None:
    result = runner.invoke(app, ["flops", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and fragment in result.stderr


def test_flops_and_diff_check_weights(runner: CliRunner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "r20.pth"
    torch.save(build("resnet20").state_dict(), path)
    ok = runner.invoke(app, ["flops", "resnet20", "--weights", str(path), "-f", "json"])
    assert ok.exit_code == 0, ok.output
    assert "weights" in json.loads(ok.stdout)
    wrong = runner.invoke(app, ["flops", "resnet32", "--weights", str(path)])
    assert wrong.exit_code == 1 and wrong.stderr.startswith("error: ") and wrong.stdout == ""
    both = runner.invoke(app, ["diff", "resnet20", "resnet32", "--weights-a", str(path)])
    assert both.exit_code == 0, both.output
    bad_b = runner.invoke(app, ["diff", "resnet20", "resnet32", "--weights-b", str(path)])
    assert bad_b.exit_code == 1 and "--weights-b" in bad_b.stderr


def test_fvcore_stage_table_reads_the_resnetv2_layout(runner: CliRunner) -> None:
    """fvcore counts by module name; resnetv2's stages are stages.N, not layerN: each stage row
    sums its own modules, so no stage reads 0 and the rows add up to fvcore's total."""
    args = ["flops", "resnetv2_18:layers=1,1,widths=32,64", "--counter", "fvcore", "--by",
            "stage", "--input", "1x3x32x32", "-f", "json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    fvcore = json.loads(result.stdout)["fvcore"]
    stages = fvcore["layers"]
    assert list(stages) == ["stem", "layer1", "layer2", "head"]
    assert stages["layer1"]["macs"] > 0 and stages["layer2"]["macs"] > 0
    assert sum(s["macs"] for s in stages.values()) == fvcore["macs"]

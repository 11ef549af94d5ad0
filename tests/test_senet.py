"""Legacy SENet's layout (timm's senet.py) and the fields it brought: the squeeze rule, the
ceil-mode stem pool, the branch ReLU; its stages in every report, identify and check on its
keys. Rules derived by hand here; equality with timm is tests/test_reference.py's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from resnet_inspect import build, trace
from resnet_inspect.benchmark import stage_pieces
from resnet_inspect.cli import app
from resnet_inspect.identification import identify_shapes
from resnet_inspect.model import build_model
from resnet_inspect.spec import PRESETS, resolve

SMALL_LEGACY = "legacy_seresnet18:widths=16,32,64,128"  # floor squeeze: 16 // 16 = 1 channel


@pytest.mark.parametrize(
    ("channels", "reduction", "floor", "nearest8"),
    # legacy SENet's SEModule: channels // reduction; timm's resnet.py rounds to 8, at least 8
    [(64, 16, 4, 8), (128, 16, 8, 8), (100, 16, 6, 8), (2048, 16, 128, 128), (40, 4, 10, 8)],
)
def test_se_squeeze_floor_and_nearest8(channels: int, reduction: int, floor: int, nearest8: int) -> None:
    spec = resolve("legacy_seresnet50", se_reduction=reduction)
    assert spec.se_channels(channels) == floor
    assert spec.replace(se_rounding="nearest8").se_channels(channels) == nearest8


def test_ceil_mode_stem_pool_without_padding() -> None:
    # 65 -> 7x7/2 conv, padding 3: 33. A 3x3/2 pool: unpadded, ceil((33 - 3) / 2) + 1 = 16;
    # padded by 1, floor((33 + 2 - 3) / 2) + 1 = 17.
    ceil = trace("legacy_seresnet18", input_shape=(1, 3, 65, 65)).by_name()["pool0"]
    padded = trace("legacy_seresnet18:stem_pool=max", input_shape=(1, 3, 65, 65)).by_name()["pool0"]
    assert ceil.output_shape[-2:] == (16, 16) and padded.output_shape[-2:] == (17, 17)


def test_branch_relu_runs_before_the_gate() -> None:
    block = build_model(resolve(SMALL_LEGACY), "meta").layer1[0]
    executed = trace(SMALL_LEGACY, input_shape=(1, 3, 32, 32)).executed
    mine = [n.removeprefix("layer1.0.") for n in executed if n.startswith("layer1.0.")]
    assert mine[mine.index("bn2") + 1] == "branch_relu"
    assert mine.index("branch_relu") < mine.index("se_module.fc1")
    assert block.branch_relu is not None and not hasattr(block, "se")


def test_legacy_stages_are_stem_layers_and_head() -> None:
    t = trace("legacy_senet154:layers=1,1,1,1", input_shape=(1, 3, 64, 64))
    assert [s.name for s in t.stages()] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    stage = {r.name: r.stage for r in t.layers if r.depth == 1}
    assert stage == {"layer0": "stem", "pool0": "stem", "layer1": "layer1", "layer2": "layer2",
                     "layer3": "layer3", "layer4": "layer4", "global_pool": "head",
                     "last_linear": "head"}  # fmt: skip
    assert not t.uncounted and t.output_shape == (1, 1000)
    # bench cuts the forward at the same boundaries
    model = build(SMALL_LEGACY, device="meta").eval()
    x = torch.empty(1, 3, 32, 32, device="meta")
    for _, piece in stage_pieces(model):
        x = piece(x)
    assert tuple(x.shape) == (1, 1000)


def test_legacy_checkpoint_evidence_names_its_own_keys() -> None:
    shapes = {k: tuple(v.shape) for k, v in build_model(PRESETS["legacy_senet154"], "meta").state_dict().items()}
    found = identify_shapes(shapes)
    assert found.preset == "legacy_senet154" and not found.twins
    because = " ".join(e.because for e in found.evidence)
    assert "layer0.conv1/conv2/conv3" in because and "last_linear.weight" in because
    assert "layer1.0.se_module.fc1" in because and "fc.weight" not in because.replace("last_linear.", "")
    assert any(a.startswith("stem pool:") for a in found.assumptions)


def test_legacy_seresnet50_assumes_the_stride_on_the_first_1x1() -> None:
    shapes = {k: tuple(v.shape) for k, v in build_model(PRESETS["legacy_seresnet50"], "meta").state_dict().items()}
    found = identify_shapes(shapes)
    assert found.preset == "legacy_seresnet50"
    assert any(a.startswith("stride_in:") and "first 1x1" in a for a in found.assumptions)


def test_check_and_weights_load_a_legacy_file(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "legacy.pth"
    torch.save(build(SMALL_LEGACY).state_dict(), path)
    result = runner.invoke(app, ["check", SMALL_LEGACY, str(path)])
    assert result.exit_code == 0 and "loads strictly" in result.stdout, result.output
    result = runner.invoke(app, ["summary", SMALL_LEGACY, "--weights", str(path), "--input", "1x3x32x32"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["identify", str(path)])
    assert result.exit_code == 0 and "legacy_seresnet18:widths=16,32,64,128" in result.stdout, result.output

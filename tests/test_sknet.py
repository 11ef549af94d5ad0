"""Selective-kernel blocks (sk_basic, sk_bottleneck; timm's sknet.py): their rules derived by
hand, what the trace shows of their two paths, their costs by hand, diff and identify.

Equality with timm itself (parameters, state-dict keys, outputs) is tests/test_reference.py's.
"""

from __future__ import annotations

import pytest
from torch import nn

from resnet_inspect import build, trace
from resnet_inspect.identification import identify_shapes
from resnet_inspect.model import build_model
from resnet_inspect.spec import PRESET_FAMILIES, PRESETS, resolve
from resnet_inspect.tracediff import diff_specs

SK_PRESETS = list(PRESET_FAMILIES["sknet"])


@pytest.mark.parametrize(
    ("arch", "channels", "attended"),
    # timm's make_divisible(C / N, divisor): the nearest multiple (halves up), at least the
    # divisor, one multiple more where rounding lost over 10%. skresnet18: 1/8 to 16;
    # skresnet50: 1/16 to 8; skresnext50_32x4d: 1/16 to 32
    [("skresnet18", 64, 16), ("skresnet18", 128, 16), ("skresnet18", 512, 64),
     ("skresnet50", 64, 8), ("skresnet50", 512, 32), ("skresnext50_32x4d", 128, 32),
     ("skresnext50_32x4d", 1024, 64),
     # 190 / 16 = 11.875 rounds to 8, which loses 33%: 16
     ("skresnet50", 190, 16)],
)  # fmt: skip
def test_attention_channels(arch: str, channels: int, attended: int) -> None:
    assert PRESETS[arch].sk_channels(channels) == attended


def test_the_two_paths_are_a_3x3_and_a_dilated_3x3() -> None:
    """timm's kernel sizes 3 and 5, with keep_3x3: the 5x5 becomes a 3x3 of dilation 2 (padding
    2 keeps the size). skresnet18 splits its 64 input channels between them; the ResNeXt one
    gives each path all 128, in 32 groups."""
    sk = build_model(PRESETS["skresnet18"], "meta").get_submodule("layer1.0.conv1")
    convs = [sk.get_submodule(f"paths.{i}.conv") for i in range(2)]
    assert [(c.kernel_size, c.dilation, c.padding) for c in convs] == [
        ((3, 3), (1, 1), (1, 1)), ((3, 3), (2, 2), (2, 2))]
    assert [c.in_channels for c in convs] == [32, 32]
    sk = build_model(PRESETS["skresnext50_32x4d"], "meta").get_submodule("layer1.0.conv2")
    conv = sk.get_submodule("paths.1.conv")
    assert (conv.in_channels, conv.out_channels, conv.groups) == (128, 128, 32)
    assert sk.get_submodule("attn.fc_select").out_channels == 2 * 128


def test_zero_init_residual_zeroes_the_last_norm_inside_conv2() -> None:
    model = build("skresnet18:zero_init_residual=true")
    assert model.get_submodule("layer1.0.conv2.bn").weight.abs().sum() == 0
    assert model.get_submodule("layer1.0.conv1.paths.0.bn").weight.abs().sum() > 0


SHAPE = (1, 3, 32, 32)


def test_the_receptive_field_is_the_dilated_paths() -> None:
    """skresnet18 at 32x32. The stem sees 7 px at jump 2, the max-pool 7 + 2*2 = 11 at jump 4.
    layer1.0's 3x3 path adds 2*4 (19); its dilated path spans 5 pixels, 4*4 (27): the
    selective-kernel conv sees as far as that one (27), then conv2's 3x3 adds 2*4 (35), where
    resnet18's block sees 11 + 8 + 8 = 27. Each block adds 24 instead of 16 at the stage's
    jump: layer1 ends at 11 + 2*24 = 59. Catches the field of the first path (or the first
    split) taken for the block's, and a stack or softmax taken as global."""
    rows = trace("skresnet18", input_shape=SHAPE).by_name()
    field = {n: rows[n].receptive_field for n in (
        "maxpool", "layer1.0.conv1.paths.0", "layer1.0.conv1.paths.1", "layer1.0.conv1.paths",
        "layer1.0.conv1", "layer1.0", "layer1")}  # fmt: skip
    assert field == {"maxpool": 11, "layer1.0.conv1.paths.0": 19, "layer1.0.conv1.paths.1": 27,
                     "layer1.0.conv1.paths": 27, "layer1.0.conv1": 27, "layer1.0": 35,
                     "layer1": 59}  # fmt: skip
    assert rows["layer1"].jump == 4
    assert trace("resnet18", input_shape=SHAPE).by_name()["layer1.0"].receptive_field == 27


@pytest.mark.parametrize("name", SK_PRESETS)
def test_every_operator_is_counted_and_the_field_followed(name: str) -> None:
    spec = PRESETS[name].replace(layers=(1, 1, 1, 1))
    t = trace(spec, input_shape=SHAPE)
    assert t.uncounted == () and t.field_assumed_global_after == ()
    assert t.totals.receptive_field is not None


def test_selective_kernel_costs_by_hand() -> None:
    """skresnet18's layer1.0.conv1 at 32x32: 64 channels at 8x8 (4,096 per map), split into
    two halves of 32. Each path: a 3x3 of 32 -> 64 channels, 4,096 * 32 * 9 = 1,179,648 MACs
    (+ 2 FLOPs per output for its norm, 1 for its ReLU). The stack moves data (0). The
    attention: the sum over 2 paths 4,096 additions, the spatial mean 4,096, fc_reduce 64 * 16
    = 1,024 MACs, its norm 2 * 16 and ReLU 16, fc_select 16 * 128 = 2,048 MACs, the softmax
    5 * 128. The weighting: 2 * 4,096 products, and the sum over the paths 4,096 additions."""
    rows = trace("skresnet18", input_shape=SHAPE).by_name()
    path = 2 * 1_179_648 + 2 * 4_096 + 4_096
    attn = 4_096 + 4_096 + 2 * 1_024 + 32 + 16 + 2 * 2_048 + 5 * 128
    assert rows["layer1.0.conv1.paths.1"].flops == path
    assert rows["layer1.0.conv1.paths"].flops == 2 * path  # the stack adds nothing
    assert rows["layer1.0.conv1.attn"].flops == attn
    assert rows["layer1.0.conv1"].flops == 2 * path + attn + 2 * 4_096 + 4_096
    assert rows["layer1.0.conv1"].macs == 2 * 1_179_648 + 1_024 + 2_048


def test_diff_shows_what_the_block_changes_stage_by_stage() -> None:
    """resnet18 -> skresnet18. Per block, the 3x3 conv1 (C*C*9 weights) becomes two paths of
    C/2 -> C (the same weights) with a norm each (2C more than the one norm), and the
    attention adds fc_reduce C*r, its norm 2r and fc_select r*2C (r: 16, 16, 32, 64 per stage):
    64 -> +128 + 1,024 + 32 + 2,048 = +3,232. MACs: the two fcs at 1x1, C*r + r*2C. The field
    grows 8 more per block at each stage's jump (see the receptive field test), so 16 more per
    stage: 43 -> 59 at layer1."""
    d = diff_specs(resolve("resnet18"), resolve("skresnet18"))
    assert (d.fields[0].field, d.fields[0].b) == ("block", resolve("skresnet18").block)
    stages = {s.name: s for s in d.stages}
    for stage, (c, r) in {"layer1": (64, 16), "layer2": (128, 16), "layer3": (256, 32),
                          "layer4": (512, 64)}.items():  # fmt: skip
        per_block = 2 * c + c * r + 2 * r + r * 2 * c
        assert stages[stage].params_delta == 2 * per_block, stage
        assert stages[stage].macs_delta == 2 * (c * r + r * 2 * c), stage
    assert stages["stem"].params_delta == 0 and stages["head"].params_delta == 0
    layer1 = stages["layer1"]
    assert layer1.a is not None and layer1.b is not None
    assert (layer1.a.receptive_field, layer1.b.receptive_field) == (43, 59)
    block = next(r for r in d.layers if r.name == "layer1.0")
    assert "type" in block.changed and block.b is not None and block.b.type == "SelectiveKernelBasic"


@pytest.mark.parametrize(
    "arch",
    # a split input with 2 groups has the shapes of 4 groups without one; neither is a preset,
    # so the split (timm's default) is read. Without a split and 1 group, a split reading would
    # need half a group: only one reading fits
    ["skresnet50:groups=2,width_per_group=32", "skresnet50:sk_split=false",
     "skresnet18:sk_split=false,layers=1,1,1,1", "skresnet34:sk_reduction=4,sk_divisor=8"],
)  # fmt: skip
def test_selective_kernel_variants_identify_back(arch: str) -> None:
    spec = resolve(arch)
    shapes = {k: tuple(v.shape) for k, v in build_model(spec, "meta").state_dict().items()}
    found = identify_shapes(shapes)
    assert found.spec == spec
    assert any(a.startswith("sk_split") for a in found.assumptions) == (spec.block.value == "sk_bottleneck")


def test_the_paths_module_is_called_and_shows_the_stacked_shape() -> None:
    """timm's ``paths`` is a ModuleList; ours is called, so its row has the N x 2 x C x H x W
    stack as its output (and no empty row of a module that never ran)."""
    rows = trace("skresnet18", input_shape=SHAPE).by_name()
    assert rows["layer1.0.conv1.paths"].output_shape == (1, 2, 64, 8, 8)
    assert isinstance(build_model(PRESETS["skresnet18"], "meta").get_submodule("layer1.0.conv1.paths"),
                      nn.ModuleList)  # fmt: skip


@pytest.mark.parametrize("name", ["skresnet50", "skresnext50_32x4d"])
def test_a_selective_kernel_module_identifies_by_structure(name: str) -> None:
    """A model given as code (not a spec) is matched by its structure: a selective-kernel
    block's main path shows 5 convs (1x1, a path, the attention's two 1x1, 1x1), which
    resnet50's 3 do not match. Catches the SK presets left out of the candidates."""
    from resnet_inspect.identification.structure import identify_module

    assert identify_module(build(name, device="meta"), (1, 3, 64, 64)).verdict == f"matches {name} exactly"

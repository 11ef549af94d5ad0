"""The trace: shapes, parameters and MACs per module, on the meta device."""

from __future__ import annotations

import pytest
import torch
import torchinfo
from test_flops import SHALLOW_PRESETS, at_side
from torch import nn

from resnet_inspect import trace
from resnet_inspect.model import build_model
from resnet_inspect.spec import PRESETS, ResNetSpec, SpecError
from resnet_inspect.tracing import trace_model

# Conv + linear MACs at 1x3x224x224: torchvision's published weights metadata ("_ops", GFLOPS
# that are in fact GMACs), to the unit.
TORCHVISION_MACS = {
    "resnet18": 1_814_073_344,
    "resnet34": 3_663_761_408,
    "resnet50": 4_089_184_256,
    "resnet101": 7_801_405_440,
    "resnet152": 11_513_626_624,
    "resnext50_32x4d": 4_230_479_872,
    "resnext101_32x8d": 16_414_015_488,
    "resnext101_64x4d": 15_460_270_080,
    "wide_resnet50_2": 11_398_021_120,
    "wide_resnet101_2": 22_753_050_624,
}


@pytest.mark.parametrize(("arch", "macs"), TORCHVISION_MACS.items())
def test_macs_equal_torchvision_published(arch: str, macs: int) -> None:
    assert trace(arch).totals.macs == macs


# The paper's stride placement (v1): Table 1 of He et al. 2015 gives 3.8, 7.6, 11.3 x 10^9.
@pytest.mark.parametrize(
    ("arch", "macs"),
    [("resnet50", 3_857_973_248), ("resnet101", 7_570_194_432), ("resnet152", 11_282_415_616)],
)
def test_paper_stride_placement_macs(arch: str, macs: int) -> None:
    assert trace(arch, stride_in="1x1").totals.macs == macs


def test_resnet50_stage_shapes() -> None:
    t = trace("resnet50", input_shape=(1, 3, 224, 224)).by_name()
    assert [t[f"layer{i}"].output_shape for i in range(1, 5)] == [
        (1, 256, 56, 56), (1, 512, 28, 28), (1, 1024, 14, 14), (1, 2048, 7, 7),
    ]  # fmt: skip
    assert t["fc"].output_shape == (1, 1000)


def test_resnet18_shapes_as_the_paper_walks_them() -> None:
    t = trace("resnet18").by_name()
    assert t["conv1"].output_shape == (1, 64, 112, 112)
    assert t["maxpool"].output_shape == (1, 64, 56, 56)
    assert t["layer2.0.downsample.0"].stride == 2 and t["layer2.0.downsample.0"].kernel == 1
    assert "layer1.0.downsample" not in t


def test_huge_input_costs_nothing_on_meta() -> None:
    t = trace("resnet50", input_shape=(256, 3, 2048, 2048))
    assert t.output_shape == (256, 1000)
    assert t.totals.macs == 256 * trace("resnet50", input_shape=(1, 3, 2048, 2048)).totals.macs


def test_cifar_default_input_is_32px() -> None:
    t = trace("resnet56")
    assert t.input_shape == (1, 3, 32, 32)
    assert t.by_name()["layer3"].output_shape == (1, 64, 8, 8)


def test_params_per_module_are_recursive_and_sum_to_total() -> None:
    t = trace("resnet34")
    top = [r for r in t.layers if r.depth == 1]
    assert sum(r.params for r in top) == t.totals.params == 21_797_672


class _Tied(nn.Module):
    """``pair``: two 4 -> 4 linear layers sharing one weight (tied, as in an autoencoder), or
    one linear layer reached through two containers."""

    def __init__(self, share: str) -> None:
        super().__init__()
        first = nn.Linear(4, 4)
        second = first if share == "module" else nn.Linear(4, 4)
        second.weight = first.weight
        self.pair = nn.Sequential(nn.Sequential(first), nn.Sequential(second))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pair(x)


@pytest.mark.parametrize(("share", "pair"), [("weight", 24), ("module", 20)])
def test_a_shared_parameter_is_counted_once_as_module_parameters_does(share: str, pair: int) -> None:
    """By hand: a Linear(4, 4) has 16 weights and 4 biases. Tied weights: 16 + 4 + 4 = 24 in
    the pair, 20 in each half. One layer in both halves: 20 in each and 20 in the pair.
    Catches adding up the children's counts where something is shared (40 in both cases)."""
    with torch.device("meta"):  # not .to("meta"), which unties the weight
        model = _Tied(share)
    t = trace_model(model, (2, 4))
    params = {r.name: r.params for r in t.layers}
    assert params["pair.0"] == params["pair.1"] == 20
    assert params["pair"] == t.totals.params == pair


def test_residual_additions_are_counted() -> None:
    t = trace("resnet50")
    adds = {o.operator: o for o in t.operators}["add"]
    assert adds.count == 16  # one per bottleneck block: 3 + 4 + 6 + 3
    assert t.totals.flops > 2 * t.totals.macs


def test_receptive_field_of_the_classic_stem() -> None:
    t = trace("resnet18").by_name()
    assert (t["conv1"].receptive_field, t["conv1"].jump) == (7, 2)
    assert (t["maxpool"].receptive_field, t["maxpool"].jump) == (11, 4)
    assert t["avgpool"].receptive_field is None


def test_wrong_channel_count_is_bad_input() -> None:
    with pytest.raises(SpecError, match="in_chans=3"):
        trace("resnet18", input_shape=(1, 1, 32, 32))


def test_trace_restores_train_mode() -> None:
    model = build_model(PRESETS["resnet18"], "meta").train()
    trace_model(model, (1, 3, 32, 32))
    assert model.training


def _torchinfo_by_name(model: torch.nn.Module, shape: tuple[int, ...]) -> dict[str, tuple]:
    stats = torchinfo.summary(model, input_size=shape, depth=20, verbose=0, device="cpu")
    names = {id(m): n for n, m in model.named_modules()}
    return {names[i.layer_id]: (tuple(i.output_size), i.num_params) for i in stats.summary_list if i.depth > 0}


# every preset, at most two blocks per stage (SHALLOW_PRESETS, test_flops's cut): each part of
# each preset (its later blocks repeat the second) without the minutes torchinfo takes on
# 100-to-400-block networks
@pytest.mark.parametrize("spec", SHALLOW_PRESETS, ids=SHALLOW_PRESETS.values())
def test_every_module_matches_torchinfo(spec: ResNetSpec) -> None:
    side = 32 if spec.stem.value == "cifar" else 64
    shape = (1, 3, side, side)
    spec = at_side(spec, side)
    model = build_model(spec)
    ours = {r.name: (r.output_shape, r.params) for r in trace_model(build_model(spec, "meta"), shape).layers}
    theirs = _torchinfo_by_name(model, shape)
    assert theirs == ours


def test_public_trace_survives_importing_the_module() -> None:
    import importlib

    import resnet_inspect

    importlib.import_module("resnet_inspect.tracing")
    assert callable(resnet_inspect.trace)
    assert resnet_inspect.trace("resnet18").totals.params == 11_689_512


@pytest.mark.parametrize("arch", ["resnetv2_50d", "resnetv2_18", "resnetv2_50x1_bit"])
def test_resnetv2_stage_rows_read_stem_stages_head_and_add_up(arch: str) -> None:
    """timm's tree has no top-level layerN: the network says which module is in which stage
    (stages.0 is layer1; the final norm is the head's), and the rows still sum to the totals."""
    t = trace(arch)
    rows = t.stages()
    assert [r.name for r in rows] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert sum(r.macs for r in rows) == t.totals.macs
    assert sum(r.flops for r in rows) == t.totals.flops
    assert sum(r.params for r in rows) == t.totals.params
    by_name = t.by_name()
    assert by_name["stages"].output_shape == by_name["norm"].input_shape  # the container ran
    assert by_name["norm"].stage == "head" and by_name["stages.2.blocks.0"].stage == "layer3"
    assert t.output_shape == (1, 1000)

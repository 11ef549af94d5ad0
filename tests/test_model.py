"""The builder: exact parameter counts, checkpoint-compatible names, real forward passes."""

from __future__ import annotations

import pytest
import torch

from resnet_inspect import build
from resnet_inspect.model import ZeroPadShortcut
from resnet_inspect.spec import PRESETS

# Parameter counts. torchvision's weights metadata ("num_params") for the ImageNet models;
# timm's model cards for resnet50d and resnet26d; He et al. 2015 (arXiv:1512.03385) Table 6
# for the CIFAR ResNets (0.27M, 0.46M, 0.66M, 0.85M, 1.7M; exact counts of that architecture
# with option-A shortcuts).
PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "resnext101_32x8d": 88_791_336,
    "resnext101_64x4d": 83_455_272,
    "wide_resnet50_2": 68_883_240,
    "wide_resnet101_2": 126_886_696,
    "resnet50d": 25_576_264,
    "resnet26d": 16_014_408,
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    # the paper's shortcut options on ResNet-34/18 (Table 3: A, B, C)
    "resnet34:shortcut=A": 21_623_848,
    "resnet34:shortcut=C": 22_716_840,
    "resnet18:shortcut=C": 12_043_816,
}


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(("arch", "expected"), PARAMS.items())
def test_parameter_counts_are_exact(arch: str, expected: int) -> None:
    assert n_params(build(arch, device="meta")) == expected


def test_torchvision_state_dict_layout() -> None:
    keys = list(build("resnet50", device="meta").state_dict())
    assert keys[:6] == [
        "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
        "bn1.num_batches_tracked",
    ]  # fmt: skip
    assert "layer1.0.downsample.0.weight" in keys and "layer1.0.downsample.1.running_var" in keys
    assert "layer4.2.conv3.weight" in keys and "layer4.2.bn3.bias" in keys
    assert keys[-2:] == ["fc.weight", "fc.bias"]
    assert not any("relu" in k for k in keys)


def test_timm_deep_stem_and_avg_down_layout() -> None:
    sd = build("resnet50d", device="meta").state_dict()
    for k in ("conv1.0.weight", "conv1.1.weight", "conv1.3.weight", "conv1.4.weight", "conv1.6.weight"):
        assert k in sd
    assert tuple(sd["conv1.6.weight"].shape) == (64, 32, 3, 3)
    assert tuple(sd["layer2.0.downsample.1.weight"].shape) == (512, 256, 1, 1)
    assert "layer2.0.downsample.2.running_mean" in sd
    assert not any(k.startswith("layer2.0.downsample.0") for k in sd)  # the pool has no state


def test_shortcut_a_has_no_projection() -> None:
    model = build("resnet34", shortcut="A", device="meta")
    assert isinstance(model.layer2[0].downsample, ZeroPadShortcut)
    assert not any("downsample" in k for k in model.state_dict())


def test_zero_init_residual_zeroes_last_norm_of_each_branch() -> None:
    model = build("resnet18", zero_init_residual=True)
    assert torch.count_nonzero(model.layer1[0].bn2.weight) == 0
    assert torch.count_nonzero(model.layer1[0].bn1.weight) > 0
    assert torch.count_nonzero(build("resnet18").layer1[0].bn2.weight) > 0


@pytest.mark.parametrize(
    "arch",
    [
        "resnet18", "resnet50:stride_in=1x1", "resnet26d", "resnet20", "resnet50c",
        "resnet50:replace_stride_with_dilation=0,1,1,layers=1,1,1,1",
        "resnet50:norm=group,layers=1,1,1,1", "resnet50:norm=none,shortcut=A,layers=1,1,1,1",
        "resnet18:shortcut=C,in_chans=1,num_classes=7,layers=1,1,1",
    ],
)  # fmt: skip
def test_real_forward_runs_with_odd_input_sizes(arch: str) -> None:
    model = build(arch).eval()
    spec = model.spec
    with torch.no_grad():
        out = model(torch.randn(2, spec.in_chans, 37, 29))
    assert tuple(out.shape) == (2, spec.num_classes)
    assert torch.isfinite(out).all()


def test_dilation_keeps_resolution() -> None:
    model = build("resnet50", replace_stride_with_dilation="0,1,1").eval()
    with torch.no_grad():
        features = model.forward_features(torch.randn(1, 3, 64, 64))
    assert tuple(features.shape) == (1, 2048, 8, 8)  # output stride 8


def test_build_accepts_a_spec() -> None:
    spec = PRESETS["resnet18"]
    assert n_params(build(spec, device="meta")) == PARAMS["resnet18"]
    assert build(spec, device="meta").spec == spec


# resnetv2's published parameter counts (BiT's, from timm's documentation) are checked in
# tests/test_published.py with their source; every resnetv2 preset's exact count is timm's own
# (tests/test_reference.py).


def test_resnetv2_state_dict_layout() -> None:
    """timm's resnetv2 names: no norm in the stem, a projection without norm, the final norm,
    the classifier as a 1x1 conv."""
    sd = build("resnetv2_50d", device="meta").state_dict()
    assert "stem.conv1.weight" in sd and "stem.norm2.running_var" in sd and "stem.norm3.weight" not in sd
    assert tuple(sd["stages.1.blocks.0.downsample.conv.weight"].shape) == (512, 256, 1, 1)
    assert not any(k.startswith("stages.1.blocks.0.downsample.norm") for k in sd)
    assert "stages.3.blocks.2.norm3.weight" in sd and "norm.running_mean" in sd
    assert tuple(sd["head.fc.weight"].shape) == (1000, 2048, 1, 1)


def test_preact_shortcuts_read_the_pre_activated_input_identities_the_raw_one() -> None:
    """He et al. 2016, fig. 1(b) and timm: x + F(relu(bn(x))) where the shape is kept, and
    P(relu(bn(x))) + F(relu(bn(x))) where a projection changes it."""
    model = build("resnetv2_18:layers=2,1,widths=8,16,stem_width=8").eval()
    x = torch.randn(1, 8, 8, 8)
    with torch.no_grad():
        for block in (model.stages[0].blocks[1], model.stages[1].blocks[0]):
            pre = torch.relu(torch.nn.functional.batch_norm(
                x, block.norm1.running_mean, block.norm1.running_var, block.norm1.weight,
                block.norm1.bias, False, 0.0, block.norm1.eps))
            branch = block.conv2(block.norm2(block.conv1(pre)))
            shortcut = x if block.downsample is None else block.downsample(pre)
            assert torch.allclose(block(x), branch + shortcut, atol=1e-6)
            x = block(x)
    assert model.stages[0].blocks[1].downsample is None
    assert model.stages[1].blocks[0].downsample is not None


def test_weight_standardisation_gives_each_filter_mean_0_and_variance_1() -> None:
    """BiT's conv (Kolesnikov et al. 2020; Qiao et al. 2019): the conv of the input with
    (w - mean) / sqrt(var + 1e-8), population variance per output filter."""
    from resnet_inspect.model.layers import StdConv2d

    conv = StdConv2d(3, 4, 3, padding=1, bias=False)
    x = torch.randn(2, 3, 5, 5)
    w = conv.weight.detach()
    mean = w.mean(dim=(1, 2, 3), keepdim=True)
    var = w.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
    standardised = (w - mean) / torch.sqrt(var + 1e-8)
    expected = torch.nn.functional.conv2d(x, standardised, padding=1)
    assert torch.allclose(conv(x), expected, atol=1e-5)

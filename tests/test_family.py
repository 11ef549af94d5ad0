"""timm's ResNet options (attention, tiered stem, ResNet-RS, anti-aliasing, SENet-154's block,
drop path): their rules derived by hand, their costs by hand, their spec rules.

Equality with timm itself (parameters, state-dict keys, outputs) is tests/test_reference.py's.
"""

from __future__ import annotations

import pytest
import torch

from resnet_inspect import build, trace
from resnet_inspect.errors import SpecError
from resnet_inspect.model.layers import BlurPool, eca_kernel
from resnet_inspect.spec import PRESET_FAMILIES, PRESETS, presets_of_family, resolve


@pytest.mark.parametrize(
    ("channels", "reduction", "squeezed"),
    # C/N rounded to the nearest multiple of 8 (halves up), at least 8: timm's make_divisible
    # with round_limit 0, as its SEModule calls it
    [(64, 16, 8), (128, 16, 8), (256, 16, 16), (512, 16, 32), (2048, 16, 128), (256, 4, 64),
     (100, 16, 8), (200, 16, 16), (40, 4, 8), (36, 1, 40)],
)  # fmt: skip
def test_se_squeeze_rounding(channels: int, reduction: int, squeezed: int) -> None:
    assert resolve("seresnet50", se_reduction=reduction).se_channels(channels) == squeezed


@pytest.mark.parametrize(
    ("channels", "kernel"),
    # ECA (Wang et al. 2020, eq. 12, gamma 2, b 1): t = int(|log2 C + 1| / 2), odd upwards, >= 3
    [(16, 3), (64, 3), (128, 5), (256, 5), (512, 5), (1024, 5), (2048, 7)],
)
def test_eca_kernel(channels: int, kernel: int) -> None:
    assert eca_kernel(channels) == kernel


def test_tiered_stem_channels() -> None:
    # timm's resnet*t: 3 * (32 // 4), 32, 2 * 32
    assert PRESETS["resnet50t"].stem_channels == (24, 32, 64)


def test_blur_pool_is_a_normalised_binomial_filter() -> None:
    """A constant image stays constant (the 3x3 taps 1 2 1 / 4 sum to one) and halves in size;
    a single bright pixel spreads as the outer product of (1, 2, 1) / 4."""
    blur = BlurPool(2, stride=2)
    out = blur(torch.full((1, 2, 8, 8), 3.0))
    assert out.shape == (1, 2, 4, 4) and torch.allclose(out, torch.full_like(out, 3.0))
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 16.0
    out = BlurPool(1, stride=1)(x)
    assert out[0, 0, 1:4, 1:4].tolist() == [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]


def test_se_block_costs_by_hand() -> None:
    """One SE gate on layer1.0 of seresnet18 at 32x32: 64 channels at 8x8, squeezed to 8.
    mean 64*8*8 adds; fc1 64*8 MACs (+8 bias); ReLU 8; fc2 8*64 MACs (+64 bias);
    sigmoid 4*64; the channel product 64*8*8."""
    t = trace("seresnet18", input_shape=(1, 3, 32, 32))
    se = next(r for r in t.layers if r.name == "layer1.0.se")
    assert se.macs == 64 * 8 + 8 * 64
    hw = 8 * 8
    assert se.flops == 64 * hw + (2 * 512 + 8) + 8 + (2 * 512 + 64) + 4 * 64 + 64 * hw
    # the gate scales its operand: layer1.0 keeps its local receptive field
    block = next(r for r in t.layers if r.name == "layer1.0")
    assert block.receptive_field is not None


def test_eca_and_blur_costs_by_hand() -> None:
    """ECA on 256 channels (kernel 5): 256 outputs x 5 MACs. A blur at stride 2 on 64
    channels: a depthwise 3x3, 9 MACs per output."""
    t = trace("ecaresnet50d", input_shape=(1, 3, 64, 64))
    eca = next(r for r in t.layers if r.name == "layer1.0.se")
    assert eca.macs == 256 * 5
    t = trace("resnetblur18", input_shape=(1, 3, 64, 64))
    aa = next(r for r in t.layers if r.name == "layer2.0.aa")
    assert aa.macs == 128 * 8 * 8 * 9 and aa.output_shape == (1, 128, 8, 8)


def test_anti_aliasing_has_no_weights_but_changes_the_function() -> None:
    plain, blurred = build("resnet18d"), build("resnet18d:aa=blur")
    assert plain.state_dict().keys() == blurred.state_dict().keys()
    blurred.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(plain.eval()(x), blurred.eval()(x))


def test_drop_path_is_an_identity_at_inference_with_no_weights() -> None:
    plain, dropped = build("resnet18"), build("resnet18:drop_path=0.2")
    assert plain.state_dict().keys() == dropped.state_dict().keys()
    dropped.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(plain.eval()(x), dropped.eval()(x))
    # the rate rises linearly: 0 at the first block (no module), 0.2 at the last
    assert dropped.layer1[0].drop_path is None
    assert dropped.layer4[1].drop_path.rate == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (dict(down_kernel=2), "down_kernel: 2 is not one of 1, 3"),
        (dict(down_kernel=3, avg_down=True), "down_kernel=3 needs a strided projection"),
        (dict(se_reduction=4), "se_reduction=4: applies to attn=se only"),
        (dict(aa="blur", stride_in="1x1"), "stride_in=1x1 strides the 1x1"),
        (dict(reduce_first=1000), "reduce_first=1000"),
        (dict(drop_path=1.0), "drop_path: must be from 0 to below 1"),
        (dict(drop_path="x"), "drop_path: expected a number"),
        (dict(attn="cbam"), "attn 'cbam': not one of none, se, eca"),
    ],
)
def test_spec_rules_of_the_new_fields(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment.replace("(", r"\(")):
        resolve("resnet50", **overrides)
    assert resolve("resnet20:stem_pool=max")  # the default is fine on any stem
    with pytest.raises(SpecError, match="the cifar stem has no pool"):
        resolve("resnet20:stem_pool=conv")


def test_families_cover_every_preset_once() -> None:
    names = [n for family in PRESET_FAMILIES.values() for n in family]
    assert sorted(names) == sorted(PRESETS) and len(names) == len(set(names))
    assert "seresnext50_32x4d" in presets_of_family("seresnet")
    with pytest.raises(SpecError, match="family: 'se' is not one of"):
        presets_of_family("se")


def test_no_two_presets_are_the_same_variant() -> None:
    specs = list(PRESETS.values())
    assert len(specs) == len(set(specs))


def test_fvcore_agrees_on_avg_anti_aliasing_at_an_even_size() -> None:
    """aa=avg's 2x2 pool floors an odd size where the avg_down shortcut rounds up, so the
    branches disagree (timm's resnetaa models as well): checked at 64x64."""
    from resnet_inspect.counters.fvcore import fvcore_counts
    from resnet_inspect.model import build_model

    spec = resolve("resnetaa34d:layers=1,1,1,1")
    counts = fvcore_counts(build_model(spec, "meta"), (1, 3, 64, 64))
    assert counts[""].macs == trace(spec, input_shape=(1, 3, 64, 64)).totals.macs
    with pytest.raises(SpecError, match="cannot run on it"):
        trace(spec, input_shape=(1, 3, 48, 40))


def test_pruned_widths_per_block() -> None:
    # timm's models/_pruned/ecaresnet50d_pruned.txt: layer1.0.conv1/2/3 are 47, 18, 19 wide,
    # layer4 ends at 2022 channels, which the classifier takes
    spec = PRESETS["ecaresnet50d_pruned"]
    assert spec.block_channels(0, 0) == (47, 18, 19) and spec.block_channels(3, 2) == (512, 490, 2022)
    model = build(spec, device="meta")
    assert model.layer1[1].conv1.in_channels == 19 and model.fc.in_features == 2022
    # ECA's kernel follows the unpruned width: 256 channels give 5, the 19 left would give 3
    assert model.layer1[0].se.conv.kernel_size == (5,) and eca_kernel(19) == 3

"""Parameter counts as timm publishes them, against our presets.

Source: timm's documentation, the model-index metadata ("Parameters") of
hfdocs/source/models/*.mdx in huggingface/pytorch-image-models (read at commit aa4b5850), for
1000 ImageNet classes, rounded to 10,000 (legacy_seresnet152's 66,819,999 included). The BiT
entries are named there as resnetv2_*_bitm, the ImageNet-1k fine-tuned weights of today's
resnetv2_*_bit. tests/test_reference.py checks the exact counts against timm's models
themselves; this checks that those, and so our presets, are the published networks.
"""

from __future__ import annotations

import pytest

from resnet_inspect import build
from resnet_inspect.spec import PRESETS

PUBLISHED: dict[str, int] = {
    # resnet.mdx, resnet-d.mdx, resnext.mdx, wide-resnet.mdx
    "resnet18": 11_690_000, "resnet26": 16_000_000, "resnet34": 21_800_000,
    "resnet50": 25_560_000, "resnetblur50": 25_560_000, "resnet18d": 11_710_000,
    "resnet26d": 16_010_000, "resnet34d": 21_820_000, "resnet50d": 25_580_000,
    "resnet101d": 44_570_000, "resnet152d": 60_210_000, "resnet200d": 64_690_000,
    "resnext50_32x4d": 25_030_000, "resnext50d_32x4d": 25_050_000,
    "resnext101_32x8d": 88_790_000, "wide_resnet50_2": 68_880_000,
    "wide_resnet101_2": 126_890_000,
    # ecaresnet.mdx, se-resnet.mdx, seresnext.mdx
    "ecaresnet50d": 25_580_000, "ecaresnet101d": 44_570_000, "ecaresnetlight": 30_160_000,
    "ecaresnet50d_pruned": 19_940_000, "ecaresnet101d_pruned": 24_880_000,
    "seresnet50": 28_090_000, "seresnet152d": 66_840_000, "seresnext26d_32x4d": 16_810_000,
    "seresnext50_32x4d": 27_560_000,
    # not seresnext26t_32x4d's 16,820,000: timm 1.0.31 builds 16,806,976 (tests/reference), the
    # page predates a change of its tiered stem
    # legacy-se-resnet.mdx, legacy-se-resnext.mdx, legacy-senet.mdx
    "legacy_seresnet18": 11_780_000, "legacy_seresnet34": 21_960_000,
    "legacy_seresnet50": 28_090_000, "legacy_seresnet101": 49_330_000,
    "legacy_seresnet152": 66_819_999, "legacy_seresnext26_32x4d": 16_790_000,
    "legacy_seresnext50_32x4d": 27_560_000, "legacy_seresnext101_32x4d": 48_960_000,
    "legacy_senet154": 115_090_000,
    # big-transfer.mdx (resnetv2_*_bitm)
    "resnetv2_50x1_bit": 25_550_000, "resnetv2_50x3_bit": 217_320_000,
    "resnetv2_101x1_bit": 44_540_000, "resnetv2_101x3_bit": 387_930_000,
    "resnetv2_152x2_bit": 236_340_000, "resnetv2_152x4_bit": 936_530_000,
    # res2net.mdx, res2next.mdx
    "res2net50_14w_8s": 25_060_000, "res2net50_26w_4s": 25_700_000,
    "res2net50_26w_6s": 37_050_000, "res2net50_26w_8s": 48_400_000,
    "res2net50_48w_2s": 25_290_000, "res2net101_26w_4s": 45_210_000, "res2next50": 24_670_000,
    # resnest.mdx
    "resnest14d": 10_610_000, "resnest26d": 17_070_000, "resnest50d": 27_480_000,
    "resnest50d_1s4x24d": 25_680_000, "resnest50d_4s2x40d": 30_420_000,
    "resnest101e": 48_280_000, "resnest200e": 70_200_000, "resnest269e": 110_930_000,
    # skresnet.mdx, skresnext.mdx
    "skresnet18": 11_960_000, "skresnet34": 22_280_000, "skresnext50_32x4d": 27_480_000,
}  # fmt: skip
ROUNDING = 10_000


@pytest.mark.parametrize("name", [n for n in PUBLISHED if n in PRESETS])
def test_parameter_count_is_the_published_one(name: str) -> None:
    """Within the publication's rounding. Catches a preset that is some other network (a
    missing SE gate is 2.5 M, a wrong width or depth more)."""
    params = sum(p.numel() for p in build(PRESETS[name].replace(num_classes=1000), device="meta").parameters())
    assert abs(params - PUBLISHED[name]) <= ROUNDING // 2 + 1, f"{name}: {params:,} vs {PUBLISHED[name]:,}"


def test_every_published_count_is_checked_or_its_model_not_built() -> None:
    from test_reference import NOT_BUILT, NOT_BUILT_MODULES, timm_registry

    module_of = {name: m for m, names in timm_registry().items() for name in names}
    for name in PUBLISHED:
        assert name in module_of, f"{name} is not a timm 1.0.31 architecture"
        if name not in PRESETS:
            assert name in NOT_BUILT or module_of[name] in NOT_BUILT_MODULES, name

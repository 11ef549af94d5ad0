"""The presets: one line of data per variant, grouped in families (pure data, no torch).

Names, layers and options are those of torchvision 0.28 (models/resnet.py), the ResNet paper's
CIFAR nets (He et al. 2015, section 4.2) and timm 1.0.31 (models/resnet.py: each name's
model_args); tests/test_reference.py proves each one equal to its source. Values are spec-string
values: ``spec.ResNetSpec`` parses and validates them.
"""

from __future__ import annotations

from typing import Any

_CIFAR = dict(
    block="basic", widths=(16, 32, 64), stem="cifar", stem_width=16, shortcut="A", num_classes=10
)
_B = dict(block="basic")
_C = dict(stem="deep", stem_width=32)
_D = dict(stem="deep", stem_width=32, avg_down=True)
_T = dict(stem="tiered", stem_width=32, avg_down=True)
_S = dict(stem="deep", stem_width=64)
_RS = dict(stem="deep", stem_width=32, stem_pool="conv", avg_down=True, attn="se", se_reduction=4)
_SE, _ECA = dict(attn="se"), dict(attn="eca")
_AVG, _BLUR = dict(aa="avg"), dict(aa="blur")
_X32x4, _X32x8, _X64x4 = (dict(groups=g, width_per_group=w) for g, w in ((32, 4), (32, 8), (64, 4)))
_L18, _L26, _L34, _L101, _L152, _L200, _L269 = (
    (2, 2, 2, 2), (2, 2, 2, 2), (3, 4, 6, 3), (3, 4, 23, 3), (3, 8, 36, 3), (3, 24, 36, 3),
    (3, 30, 48, 8),
)  # fmt: skip
_L50 = _L34
# timm's resnest.py: ResNeSt blocks with avd; "d" deep stem of 32 and avg_down, "e" of 64
_NEST, _NEST_D, _NEST_E = dict(block="resnest", avd=True), dict(**_D), dict(**_S, avg_down=True)
_R2 = dict(block="res2net")  # timm's res2net.py: base_width is our width_per_group

# family -> {preset: fields}; `list --family` filters by the family
PRESET_FAMILIES: dict[str, dict[str, dict[str, Any]]] = {
    "resnet": {
        "resnet18": dict(layers=_L18, **_B),
        "resnet34": dict(layers=_L34, **_B),
        "resnet50": dict(layers=_L50),
        "resnet101": dict(layers=_L101),
        "resnet152": dict(layers=_L152),
        "resnet26": dict(layers=_L26),
        "resnet200": dict(layers=_L200),
        "resnet50_gn": dict(layers=_L50, norm="group"),
        "resnet50c": dict(layers=_L50, **_C),
        "resnet101c": dict(layers=_L101, **_C),
        "resnet152c": dict(layers=_L152, **_C),
        "resnet18d": dict(layers=_L18, **_B, **_D),
        "resnet26d": dict(layers=_L26, **_D),
        "resnet34d": dict(layers=_L34, **_B, **_D),
        "resnet50d": dict(layers=_L50, **_D),
        "resnet101d": dict(layers=_L101, **_D),
        "resnet152d": dict(layers=_L152, **_D),
        "resnet200d": dict(layers=_L200, **_D),
        "resnet50s": dict(layers=_L50, **_S),
        "resnet101s": dict(layers=_L101, **_S),
        "resnet152s": dict(layers=_L152, **_S),
        "resnet10t": dict(layers=(1, 1, 1, 1), **_B, **_T),
        "resnet14t": dict(layers=(1, 1, 1, 1), **_T),
        "resnet26t": dict(layers=_L26, **_T),
        "resnet50t": dict(layers=_L50, **_T),
    },
    "resnext": {
        "resnext50_32x4d": dict(layers=_L50, **_X32x4),
        "resnext101_32x8d": dict(layers=_L101, **_X32x8),
        "resnext101_64x4d": dict(layers=_L101, **_X64x4),
        "resnext50d_32x4d": dict(layers=_L50, **_X32x4, **_D),
        "resnext101_32x4d": dict(layers=_L101, **_X32x4),
        "resnext101_32x16d": dict(layers=_L101, groups=32, width_per_group=16),
        "resnext101_32x32d": dict(layers=_L101, groups=32, width_per_group=32),
    },
    "wide_resnet": {
        "wide_resnet50_2": dict(layers=_L50, width_per_group=128),
        "wide_resnet101_2": dict(layers=_L101, width_per_group=128),
    },
    "seresnet": {
        "seresnet18": dict(layers=_L18, **_B, **_SE),
        "seresnet34": dict(layers=_L34, **_B, **_SE),
        "seresnet50": dict(layers=_L50, **_SE),
        "seresnet101": dict(layers=_L101, **_SE),
        "seresnet152": dict(layers=_L152, **_SE),
        "seresnet50t": dict(layers=_L50, **_T, **_SE),
        "seresnet152d": dict(layers=_L152, **_D, **_SE),
        "seresnet200d": dict(layers=_L200, **_D, **_SE),
        "seresnet269d": dict(layers=_L269, **_D, **_SE),
        "seresnext26d_32x4d": dict(layers=_L26, **_X32x4, **_D, **_SE),
        "seresnext26t_32x4d": dict(layers=_L26, **_X32x4, **_T, **_SE),
        "seresnext50_32x4d": dict(layers=_L50, **_X32x4, **_SE),
        "seresnext101_32x4d": dict(layers=_L101, **_X32x4, **_SE),
        "seresnext101_32x8d": dict(layers=_L101, **_X32x8, **_SE),
        "seresnext101d_32x8d": dict(layers=_L101, **_X32x8, **_D, **_SE),
        "seresnext101_64x4d": dict(layers=_L101, **_X64x4, **_SE),
        # timm's senet154 (resnet.py): deep stem of 64, halved first convs, 3x3 projections
        "senet154": dict(
            layers=_L152, **_X64x4, stem="deep", reduce_first=2, down_kernel=3, **_SE
        ),
    },
    "ecaresnet": {
        "ecaresnet26t": dict(layers=_L26, **_T, **_ECA),
        "ecaresnet50d": dict(layers=_L50, **_D, **_ECA),
        "ecaresnet50t": dict(layers=_L50, **_T, **_ECA),
        # timm's stem_width=32 is unused by its one-conv stem, which has 64 channels
        "ecaresnetlight": dict(layers=(1, 1, 11, 3), avg_down=True, **_ECA),
        "ecaresnet101d": dict(layers=_L101, **_D, **_ECA),
        "ecaresnet200d": dict(layers=_L200, **_D, **_ECA),
        "ecaresnet269d": dict(layers=_L269, **_D, **_ECA),
        "ecaresnext26t_32x4d": dict(layers=_L26, **_X32x4, **_T, **_ECA),
        "ecaresnext50t_32x4d": dict(layers=_L50, **_X32x4, **_T, **_ECA),
    },
    "resnet_aa": {
        "resnetblur18": dict(layers=_L18, **_B, **_BLUR),
        "resnetblur50": dict(layers=_L50, **_BLUR),
        "resnetblur50d": dict(layers=_L50, **_D, **_BLUR),
        "resnetblur101d": dict(layers=_L101, **_D, **_BLUR),
        "resnetaa34d": dict(layers=_L34, **_B, **_D, **_AVG),
        "resnetaa50": dict(layers=_L50, **_AVG),
        "resnetaa50d": dict(layers=_L50, **_D, **_AVG),
        "resnetaa101d": dict(layers=_L101, **_D, **_AVG),
        "seresnetaa50d": dict(layers=_L50, **_D, **_AVG, **_SE),
        "seresnextaa101d_32x8d": dict(layers=_L101, **_X32x8, **_D, **_AVG, **_SE),
        "seresnextaa201d_32x8d": dict(
            layers=(3, 24, 36, 4), **_X32x8, stem="deep", stem_width=64, avg_down=True, **_AVG,
            **_SE,
        ),
    },
    "resnet_rs": {
        "resnetrs50": dict(layers=_L50, **_RS),
        "resnetrs101": dict(layers=_L101, **_RS),
        "resnetrs152": dict(layers=_L152, **_RS),
        "resnetrs200": dict(layers=_L200, **_RS),
        "resnetrs270": dict(layers=(4, 29, 53, 4), **_RS),
        "resnetrs350": dict(layers=(4, 36, 72, 4), **_RS),
        "resnetrs420": dict(layers=(4, 44, 87, 4), **_RS),
    },
    "res2net": {
        "res2net50_26w_4s": dict(layers=_L50, **_R2, width_per_group=26, scale=4),
        "res2net101_26w_4s": dict(layers=_L101, **_R2, width_per_group=26, scale=4),
        "res2net50_26w_6s": dict(layers=_L50, **_R2, width_per_group=26, scale=6),
        "res2net50_26w_8s": dict(layers=_L50, **_R2, width_per_group=26, scale=8),
        "res2net50_48w_2s": dict(layers=_L50, **_R2, width_per_group=48, scale=2),
        "res2net50_14w_8s": dict(layers=_L50, **_R2, width_per_group=14, scale=8),
        "res2next50": dict(layers=_L50, **_R2, groups=8, width_per_group=4, scale=4),
        "res2net50d": dict(layers=_L50, **_R2, width_per_group=26, scale=4, **_D),
        "res2net101d": dict(layers=_L101, **_R2, width_per_group=26, scale=4, **_D),
    },
    "resnest": {
        "resnest14d": dict(layers=(1, 1, 1, 1), **_NEST, **_NEST_D),
        "resnest26d": dict(layers=_L26, **_NEST, **_NEST_D),
        "resnest50d": dict(layers=_L50, **_NEST, **_NEST_D),
        "resnest50d_1s4x24d": dict(
            layers=_L50, **_NEST, **_NEST_D, groups=4, width_per_group=24, radix=1, avd_first=True
        ),
        "resnest50d_4s2x40d": dict(
            layers=_L50, **_NEST, **_NEST_D, groups=2, width_per_group=40, radix=4, avd_first=True
        ),
        "resnest101e": dict(layers=_L101, **_NEST, **_NEST_E),
        "resnest200e": dict(layers=_L200, **_NEST, **_NEST_E),
        "resnest269e": dict(layers=_L269, **_NEST, **_NEST_E),
    },
    "cifar": {
        "resnet20": dict(layers=(3, 3, 3), **_CIFAR),
        "resnet32": dict(layers=(5, 5, 5), **_CIFAR),
        "resnet44": dict(layers=(7, 7, 7), **_CIFAR),
        "resnet56": dict(layers=(9, 9, 9), **_CIFAR),
        "resnet110": dict(layers=(18, 18, 18), **_CIFAR),
    },
}
PRESET_FIELDS: dict[str, dict[str, Any]] = {
    name: fields for family in PRESET_FAMILIES.values() for name, fields in family.items()
}
PRESET_FAMILY: dict[str, str] = {
    name: family for family, presets in PRESET_FAMILIES.items() for name in presets
}

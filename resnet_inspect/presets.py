"""The presets: one line of data per variant, grouped in families (pure data, no torch).

Names, layers and options are those of torchvision 0.28 (models/resnet.py), the ResNet paper's
CIFAR nets (He et al. 2015, section 4.2) and timm 1.0.31 (models/resnet.py, res2net.py, resnest.py,
sknet.py and senet.py: each
name's model_args; byobnet.py's resnet*_clip*, which are OpenAI CLIP's ModifiedResNets), and
Keras 3's applications (ResNet50/101/152); tests/test_reference.py proves each one equal to its
source. Values are spec-string
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
# timm's sknet.py sk_kwargs: attention channels of 1/8 rounded to 16 (18, 34), timm's default
# 1/16 rounded to 8 (50, 50d); the ResNeXt one is the paper's SKNet-50 (no input split)
_SK18 = dict(block="sk_basic", sk_reduction=8, sk_divisor=16)
_SK50 = dict(block="sk_bottleneck")
# timm's senet.py (legacy SENet): its layout, Caffe's ceil-mode stem pool, the floor squeeze
_LEGACY = dict(layout="senet", stem_pool="max_ceil", attn="se", se_rounding="floor")


def _flat(stages: tuple[tuple[tuple[int, ...], ...], ...]) -> tuple[int, ...]:
    """Per stage, per block, each conv's width -> block_widths, in module order."""
    return tuple(w for blocks in stages for block in blocks for w in block)


# timm's ecaresnet*_pruned (Kaplan et al. 2020, arXiv 2002.08258): each bottleneck's conv1,
# conv2, conv3 widths, as timm 1.0.31 reads them from models/_pruned/<name>.txt
_PRUNED_50D = _flat((
    ((47, 18, 19), (52, 22, 19), (64, 35, 19)),
    ((85, 37, 171), (107, 80, 171), (120, 85, 171), (125, 87, 171)),
    ((198, 126, 818), (255, 232, 818), (256, 233, 818), (253, 235, 818), (256, 225, 818),
     (256, 239, 818)),
    ((492, 237, 2022), (512, 500, 2022), (512, 490, 2022)),
))  # fmt: skip
_PRUNED_101D = _flat((
    ((45, 25, 26), (53, 20, 26), (60, 27, 26)),
    ((81, 24, 142), (93, 49, 142), (102, 54, 142), (122, 78, 142)),
    ((101, 25, 278), (239, 160, 278), (234, 156, 278), (250, 176, 278), (253, 191, 278),
     (251, 175, 278), (230, 128, 278), (244, 154, 278), (244, 159, 278), (238, 97, 278),
     (244, 149, 278), (253, 181, 278), (245, 119, 278), (255, 216, 278), (256, 201, 278),
     (253, 149, 278), (254, 141, 278), (256, 190, 278), (256, 217, 278), (255, 156, 278),
     (256, 155, 278), (256, 232, 278), (256, 214, 278)),
    ((499, 289, 2042), (512, 512, 2042), (512, 502, 2042)),
))  # fmt: skip
# timm's resnetv2.py: pre-activation blocks in its layout; D and T stems as in resnet.py
_V2 = dict(layout="resnetv2", preact=True)
_V2D, _V2T = dict(**_V2, **_D), dict(**_V2, **_T)


# Keras applications' ResNet50/101/152 (keras/src/applications/resnet.py, v1): the stride on
# the first 1x1, every conv biased, BN eps 1.001e-5. Its ZeroPadding2D(3) + 7x7/2 valid conv is
# padding 3; its ZeroPadding2D(1) + 3x3/2 max-pool equals padding 1 after the ReLU (tests prove
# both). Its classifier ends in a softmax: these presets give the logits before it.
_KERAS = dict(stride_in="1x1", conv_bias=True, bn_eps=1.001e-5)


def _clip(layers: tuple[int, ...], width: int, embed: int, side: int, attn: bool) -> dict[str, Any]:
    """OpenAI CLIP's ModifiedResNet (clip/model.py) as timm 1.0.31's resnet*_clip (byobnet.py):
    stem of three 3x3 convs (width/2, width/2, width) and a 2x2 average pool, strides taken by
    2x2 average pools (aa=avg, avg_down), the attention pool of 64-channel heads projecting to
    the ``embed`` dimension at the ``side`` CLIP uses; ``attn=False``: timm's *_clip_gap, a
    global average pool and an fc (timm's default there has no fc: num_classes=0)."""
    head = dict(head="attn", num_classes=embed) if attn else {}
    return dict(layers=layers, widths=tuple(width * 2**i for i in range(4)), stem="deep",
                stem_width=width // 2, avg_down=True, aa="avg", layout="clip", img_size=side,
                **head)  # fmt: skip


# name: layers, width, embedding dimension, input side (OpenAI's RN50, RN101, RN50x4/x16/x64)
_CLIP = {
    "resnet50": ((3, 4, 6, 3), 64, 1024, 224),
    "resnet101": ((3, 4, 23, 3), 64, 512, 224),
    "resnet50x4": ((4, 6, 10, 6), 80, 640, 288),
    "resnet50x16": ((6, 8, 18, 8), 96, 768, 384),
    "resnet50x64": ((3, 15, 36, 10), 128, 1024, 448),
}


def _bit(factor: int) -> dict[str, Any]:
    """BiT (Kolesnikov et al. 2020; timm's _create_resnetv2_bit): weight-standardised convs,
    GroupNorm, the zero-padded stem pool, every width times ``factor``."""
    return dict(**_V2, conv="std", norm="group", stem_pool="fixed", stem_width=64 * factor,
                widths=tuple(w * factor for w in (64, 128, 256, 512)))  # fmt: skip


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
        "ecaresnet50d_pruned": dict(layers=_L50, **_D, **_ECA, block_widths=_PRUNED_50D),
        "ecaresnet101d_pruned": dict(layers=_L101, **_D, **_ECA, block_widths=_PRUNED_101D),
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
    "sknet": {
        "skresnet18": dict(layers=_L18, **_SK18),
        "skresnet34": dict(layers=_L34, **_SK18),
        "skresnet50": dict(layers=_L50, **_SK50),
        "skresnet50d": dict(layers=_L50, **_SK50, **_D),
        "skresnext50_32x4d": dict(layers=_L50, **_SK50, **_X32x4, sk_divisor=32, sk_split=False),
    },
    "senet": {
        # SEResNetBlock: a ReLU after the second norm, before the gate
        "legacy_seresnet18": dict(layers=_L18, **_B, branch_relu=True, **_LEGACY),
        "legacy_seresnet34": dict(layers=_L34, **_B, branch_relu=True, **_LEGACY),
        # SEResNetBottleneck strides on the first 1x1 (Caffe's ResNet)
        "legacy_seresnet50": dict(layers=_L50, stride_in="1x1", **_LEGACY),
        "legacy_seresnet101": dict(layers=_L101, stride_in="1x1", **_LEGACY),
        "legacy_seresnet152": dict(layers=_L152, stride_in="1x1", **_LEGACY),
        "legacy_seresnext26_32x4d": dict(layers=_L26, **_X32x4, **_LEGACY),
        "legacy_seresnext50_32x4d": dict(layers=_L50, **_X32x4, **_LEGACY),
        "legacy_seresnext101_32x4d": dict(layers=_L101, **_X32x4, **_LEGACY),
        # three 3x3 stem convs of 64, 64, 128; halved first convs; 3x3 strided projections
        "legacy_senet154": dict(
            layers=_L152, **_X64x4, stem="deep", stem_width=64, reduce_first=2, down_kernel=3,
            **_LEGACY,
        ),
    },
    "resnetv2": {
        "resnetv2_18": dict(layers=_L18, **_B, **_V2),
        "resnetv2_18d": dict(layers=_L18, **_B, **_V2D),
        "resnetv2_34": dict(layers=_L34, **_B, **_V2),
        "resnetv2_34d": dict(layers=_L34, **_B, **_V2D),
        "resnetv2_50": dict(layers=_L50, **_V2),
        "resnetv2_50d": dict(layers=_L50, **_V2D),
        "resnetv2_50t": dict(layers=_L50, **_V2T),
        "resnetv2_101": dict(layers=_L101, **_V2),
        "resnetv2_101d": dict(layers=_L101, **_V2D),
        "resnetv2_152": dict(layers=_L152, **_V2),
        "resnetv2_152d": dict(layers=_L152, **_V2D),
        "resnetv2_50d_gn": dict(layers=_L50, **_V2D, norm="group"),
        "resnetv2_50d_evos": dict(layers=_L50, **_V2D, norm="evonorm"),
        "resnetv2_50d_frn": dict(layers=_L50, **_V2D, norm="frn"),
        "resnetv2_50x1_bit": dict(layers=_L50, **_bit(1)),
        "resnetv2_50x3_bit": dict(layers=_L50, **_bit(3)),
        "resnetv2_101x1_bit": dict(layers=_L101, **_bit(1)),
        "resnetv2_101x3_bit": dict(layers=_L101, **_bit(3)),
        "resnetv2_152x2_bit": dict(layers=_L152, **_bit(2)),
        "resnetv2_152x4_bit": dict(layers=_L152, **_bit(4)),
    },
    "keras": {
        "resnet50_keras": dict(layers=_L50, **_KERAS),
        "resnet101_keras": dict(layers=_L101, **_KERAS),
        "resnet152_keras": dict(layers=_L152, **_KERAS),
    },
    "clip": {
        **{f"{name}_clip": _clip(*args, attn=True) for name, args in _CLIP.items()},
        **{f"{name}_clip_gap": _clip(*args, attn=False) for name, args in _CLIP.items()},
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

"""OpenMMLab's MMPretrain (formerly mmcls) ResNets: ``ResNet``, ``ResNetV1c``, ``ResNetV1d``,
``ResNeXt``, ``SEResNet``, saved as ``{'meta': ..., 'state_dict': ...}`` (the reader finds the
weights under ``state_dict``) with the backbone under ``backbone.`` and the classifier as
``head.fc``. Names read from mmpretrain 1.2's ``models/backbones/resnet.py``, ``seresnet.py``
and ``utils/se_layer.py``, and checked against the state dicts it builds
(tests/reference/foreign/).

- The plain stem is ``backbone.conv1``/``bn1``, as torchvision's. V1c and V1d's deep stem is
  ``backbone.stem.{0,1,2}.conv/bn`` (three ConvModules): ours is timm's ``conv1.0/1/3/4/6``
  and ``bn1``.
- V1d's average-pool shortcut (timm's avg_down) has its pool only where the stage strides, so
  its conv and norm are ``downsample.0/1`` in layer1 but ``downsample.1/2`` after the pool in
  layers 2-4; timm keeps the (identity) pool's place in every stage: ``downsample.1/2``.
- SE is ``se_layer.conv{1,2}.conv`` (ConvModules with a bias): ours ``se.fc{1,2}``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from .base import Layout, LayoutError, Mapped, require_only, unmapped

if TYPE_CHECKING:
    from ...spec import ResNetSpec

NAME = "an MMPretrain (mmcls)"
_STEM_CONV = {0: "conv1.0", 1: "conv1.3", 2: "conv1.6"}
_STEM_NORM = {0: "conv1.1", 1: "conv1.4", 2: "bn1"}
_STEM = re.compile(r"^stem\.([0-2])\.(conv|bn)\.(.+)$")
_DOWN = re.compile(r"^(layer[0-9]{1,4}\.[0-9]{1,5}\.downsample)\.([0-2])\.(.+)$")
_SE = re.compile(r"^(layer[0-9]{1,4}\.[0-9]{1,5})\.se_layer\.conv([12])\.conv\.(weight|bias)$")
_OURS_SE = re.compile(r"^(layer[0-9]{1,4}\.[0-9]{1,5})\.se\.fc([12])\.(weight|bias)$")
_PLAIN = re.compile(
    r"^(conv1\.weight|bn1\.[a-z_]+|layer[0-9]{1,4}\.[0-9]{1,5}\.(conv|bn)[1-3]\.[a-z_]+)$"
)


_BACKBONE_TOP = re.compile(r"^backbone\.(conv1|bn1|stem|layer[1-9])\.")


def matches(keys: Collection[str]) -> bool:
    """MMPretrain's backbone names under ``backbone.``, and no others there: a torchvision,
    timm or legacy SENet net held as a model's ``.backbone`` (its ``fc``, ``last_linear``,
    ``layer0``, ``stages``) is not one."""
    signed = any(k.startswith(("backbone.layer1.0.conv1.", "backbone.stem.0.conv.")) for k in keys)
    return signed and all(_BACKBONE_TOP.match(k) for k in keys if k.startswith("backbone."))


def to_ours(tensors: Mapping[str, Any]) -> Mapped:
    backbone = {k[len("backbone.") :]: t for k, t in tensors.items() if k.startswith("backbone.")}
    out = {_backbone_name(k): t for k, t in backbone.items()}
    _shift_unpooled(out)
    unused: list[str] = []
    for key, tensor in tensors.items():
        if key.startswith("head.fc."):
            out["fc." + key[len("head.fc.") :]] = tensor
        elif key.startswith("head."):
            raise unmapped(NAME, key, "a ResNet's head is head.fc")
        elif not key.startswith("backbone."):
            unused.append(key)  # a neck, a detector's heads, a data preprocessor's buffers
    return Mapped(out, ASSUMED, {}, tuple(unused))


ASSUMED = (
    "stride_in: a stride has no weights; assumed MMPretrain's default style='pytorch' (the "
    "3x3 strides; style='caffe' strides the first 1x1)",
    "input: RGB, normalised by ImageNet's mean and std on 0-255 values (the configs' "
    "data_preprocessor), as torchvision's after its scaling to 0..1",
)


def _backbone_name(key: str) -> str:
    if (m := _STEM.match(key)) is not None:
        return f"{(_STEM_CONV if m[2] == 'conv' else _STEM_NORM)[int(m[1])]}.{m[3]}"
    if (m := _SE.match(key)) is not None:
        return f"{m[1]}.se.fc{m[2]}.{m[3]}"
    if _DOWN.match(key) is not None or _PLAIN.match(key) is not None:
        return key
    raise unmapped(NAME, "backbone." + key)


def _shift_unpooled(out: dict[str, Any]) -> None:
    """V1d's shortcuts without a pool (``downsample.0/1``, layer1) moved to timm's ``.1/.2``,
    where another shortcut of the file has a pool (``downsample.2`` exists)."""
    if not any(".downsample.2." in k for k in out):
        return
    pooled = {m[1] for k in out if (m := _DOWN.match(k)) is not None and m[2] == "2"}
    moved = {}
    for key in list(out):
        m = _DOWN.match(key)
        if m is not None and m[1] not in pooled:
            moved[f"{m[1]}.{int(m[2]) + 1}.{m[3]}"] = out.pop(key)
    out.update(moved)


def from_ours(tensors: Mapping[str, Any], spec: ResNetSpec) -> dict[str, Any]:
    """Our names to MMPretrain's (ResNet, V1c, V1d, ResNeXt or SEResNet by the spec)."""
    require_only(spec, ("block", "layers", "widths", "stem", "stem_width", "avg_down", "stride_in",
                        "groups", "width_per_group", "attn", "se_reduction", "se_rounding",
                        "num_classes", "in_chans", "zero_init_residual"), NAME)  # fmt: skip
    from ...spec import Stem

    if spec.stem not in (Stem.CLASSIC, Stem.DEEP):
        raise LayoutError(
            f"{NAME} ResNet has a classic or a deep (V1c, V1d) stem, not {spec.stem.value}"
        )
    deep = spec.stem is Stem.DEEP
    out = {_their_name(key, deep): tensor for key, tensor in tensors.items()}
    if spec.avg_down:  # layer1's shortcut has no pool in MMPretrain: back to .0/.1
        moved = {}
        for key in [k for k in out if k.startswith("backbone.layer1.") and ".downsample." in k]:
            m = _DOWN.match(key[len("backbone.") :])
            assert m is not None
            moved[f"backbone.{m[1]}.{int(m[2]) - 1}.{m[3]}"] = out.pop(key)
        out.update(moved)
    return out


def _their_name(key: str, deep: bool) -> str:
    if key.startswith("fc."):
        return "head." + key
    stem = {**{ours: f"stem.{i}.conv" for i, ours in _STEM_CONV.items()},
            **{ours: f"stem.{i}.bn" for i, ours in _STEM_NORM.items()}} if deep else {}  # fmt: skip
    module, _, leaf = key.rpartition(".")
    if module in stem:
        return f"backbone.{stem[module]}.{leaf}"
    if (m := _OURS_SE.match(key)) is not None:
        return f"backbone.{m[1]}.se_layer.conv{m[2]}.conv.{m[3]}"
    if _DOWN.match(key) is not None or _PLAIN.match(key) is not None:
        return "backbone." + key
    raise unmapped("our", key, "no MMPretrain name for it")


LAYOUT = Layout(
    name="mmpretrain",
    ecosystem="an MMPretrain (mmcls) ResNet checkpoint",
    matches=matches,
    to_ours=to_ours,
    from_ours=from_ours,
)

"""detectron2's ResNet (its model zoo's ``.pkl`` files and its own training checkpoints).

The layout, read from detectron2's source (facebookresearch/detectron2, main in 2026):

- ``modeling/backbone/resnet.py``: ``BasicStem.conv1`` (line 344, a 7x7 conv whose norm is
  ``conv1.norm``), stages named ``"res" + str(i + 2)`` (line 403), each an ``nn.Sequential`` of
  blocks with ``conv1..conv3`` (each with its ``.norm``) and a ``shortcut`` conv with its norm
  (lines 133-149); a classifier ``linear`` only when built with ``num_classes`` (line 418).
- ``layers/batch_norm.py`` lines 39-43: ``FrozenBatchNorm2d`` (the default ``RESNETS.NORM``)
  keeps weight, bias, running_mean and running_var, and no ``num_batches_tracked``.
- Detection models nest the backbone: ``backbone.bottom_up.`` under an FPN
  (``modeling/backbone/fpn.py`` line 103), ``backbone.`` in the C4 models, whose res5 sits in
  ``roi_heads.res5`` (``modeling/roi_heads/roi_heads.py`` line 380). The FPN and the heads are
  listed as unused, and counted in the ecosystem line. A detection backbone has no classifier
  (its ``num_classes`` is unset): identified as a headless net, num_classes=0.
- Where a stride sits is not in the weights: ``BottleneckBlock`` puts it in the first 1x1 when
  ``stride_in_1x1`` (resnet.py line 147), and ``config/defaults.py`` line 499 sets
  ``RESNETS.STRIDE_IN_1X1 = True`` (MSRA's ResNets); its ResNeXt configs set it False ("this is
  a C2 model", configs/COCO-Detection/faster_rcnn_X_101_32x8d_FPN_3x.yaml). So: the 1x1 in an
  ungrouped bottleneck, the 3x3 in a grouped one, said as an assumption.
- ``tools/convert-torchvision-to-d2.py`` writes torchvision's weights in this layout, its
  classifier as ``stem.fc`` (lines 38-47), with ``STRIDE_IN_1X1: False`` and RGB input (its
  docstring, lines 18-25): a file with ``stem.fc`` is taken as one of those.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from .base import Layout, Mapped

# the backbone's place in a detection model: (prefix of stem..res4, prefix of res5 if elsewhere)
_NESTINGS = (("backbone.bottom_up.", None), ("backbone.", "roi_heads.res5."), ("", None))
_DIGITS = "[0-9]{1,6}"  # ASCII digits, and few: an index no ResNet reaches is not parsed
_BLOCK = re.compile(rf"^res({_DIGITS})\.({_DIGITS})\.(conv[123]|shortcut)\.(weight|norm\.\w+)$")
_STEM = re.compile(r"^stem\.conv1\.(weight|norm\.\w+)$")
_HEAD = re.compile(r"^(?:linear|stem\.fc)\.(weight|bias)$")  # d2's own; torchvision converted
INPUT_BGR = ("input: detectron2 feeds BGR images, 0-255, minus PIXEL_MEAN [103.530, 116.280, "
             "123.675] and divided by PIXEL_STD [1, 1, 1] (config/defaults.py lines 42-46, 84); "
             "its ResNeXt configs use PIXEL_STD [57.375, 57.120, 58.395]")  # fmt: skip
INPUT_RGB = ("input: converted from torchvision (stem.fc): RGB, 0-255, minus PIXEL_MEAN [123.675, "
             "116.280, 103.530], divided by PIXEL_STD [58.395, 57.120, 57.375] "
             "(tools/convert-torchvision-to-d2.py lines 18-25)")  # fmt: skip
_FROM_TORCHVISION = "stem.fc.weight"


def _nesting(keys: Collection[str]) -> tuple[str, str | None] | None:
    return next(((p, r5) for p, r5 in _NESTINGS
                 if f"{p}stem.conv1.weight" in keys and f"{p}res2.0.conv1.weight" in keys), None)  # fmt: skip


def matches(keys: Collection[str]) -> bool:
    return _nesting(keys) is not None


def rename(name: str) -> str | None:
    """A detectron2 backbone name as ours (``res2.0.conv1.norm.weight`` ->
    ``layer1.0.bn1.weight``), or None where it is no name of a plain ResNet backbone."""
    if m := _STEM.match(name):
        return "conv1.weight" if m[1] == "weight" else "bn1." + m[1].removeprefix("norm.")
    if m := _HEAD.match(name):
        return f"fc.{m[1]}"
    m = _BLOCK.match(name)
    if m is None or int(m[1]) < 2:
        return None
    block = f"layer{int(m[1]) - 1}.{int(m[2])}."
    is_norm = m[4] != "weight"
    if m[3] == "shortcut":
        part = "downsample.1" if is_norm else "downsample.0"
    else:
        part = ("bn" if is_norm else "conv") + m[3][-1]
    return f"{block}{part}.{m[4].removeprefix('norm.') if is_norm else 'weight'}"


def map_backbone(
    source: Mapping[str, Any], backbone: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """``backbone`` maps source keys to detectron2 backbone names: each is renamed to ours, or
    kept under its source name where it has none of ours (a deformable conv's offsets), so that
    the strict load names it; the source keys outside the backbone are returned as unused."""
    tensors: dict[str, Any] = {}
    for key, d2_name in backbone.items():
        tensors[rename(d2_name) or key] = source[key]
    return tensors, [k for k in source if k not in backbone]


def stride_hint(
    tensors: Mapping[str, Any], torchvision: bool = False
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The stride detectron2's configs give a bottleneck of these weights (module doc)."""
    conv1, conv2 = tensors.get("layer1.0.conv1.weight"), tensors.get("layer1.0.conv2.weight")
    if conv1 is None or conv2 is None or "layer1.0.conv3.weight" not in tensors:
        return {}, ()  # basic blocks: both convs are 3x3, the stride sits in the first
    if torchvision:
        return {"stride_in": "3x3"}, ("stride_in: a stride has no weights; assumed in the 3x3, "
                                      "as torchvision's (STRIDE_IN_1X1: False for files "
                                      "converted from it)",)  # fmt: skip
    grouped = conv2.shape[1] != conv1.shape[0]
    where = "3x3" if grouped else "1x1"
    said = ("the 3x3 (grouped: FAIR's ResNeXt, STRIDE_IN_1X1=False in detectron2's configs)"
            if grouped else "the first 1x1 (detectron2's default STRIDE_IN_1X1=True, MSRA's ResNets)")  # fmt: skip
    return {"stride_in": where}, (f"stride_in: a stride has no weights; assumed in {said}",)


def to_ours(source: Mapping[str, Any]) -> Mapped:
    nesting = _nesting(source.keys())
    prefix, res5 = nesting if nesting is not None else ("", None)
    backbone: dict[str, str] = {}
    for key in source:
        if res5 is not None and key.startswith(res5):
            backbone[key] = "res5." + key[len(res5) :]
        elif key.startswith(prefix):
            backbone[key] = key[len(prefix) :]
    tensors, unused = map_backbone(source, backbone)
    converted = f"{prefix}{_FROM_TORCHVISION}" in source
    hints, stride = stride_hint(tensors, converted)
    return Mapped(tensors, (*stride, INPUT_RGB if converted else INPUT_BGR), hints, tuple(unused))


def describe(keys: Collection[str]) -> str:
    """A backbone alone, or a detection model's (FPN: ``backbone.bottom_up.``; C4:
    ``backbone.`` and ``roi_heads.res5.``), with how many of its keys are not the ResNet's."""
    prefix, res5 = _nesting(keys) or ("", None)
    if not prefix:
        return DETECTRON2.ecosystem
    nested = f"{prefix}*" + (f" and {res5}*" if res5 else "")
    inside = (prefix, res5) if res5 else (prefix,)
    others = sum(not k.startswith(inside) for k in keys)
    keys_word = "key" if others == 1 else "keys"
    return (f"a detectron2 detection model's backbone ({nested}); {others:,} other {keys_word} of "
            "the detector (FPN, proposal and box heads) left out: not part of the ResNet")  # fmt: skip


DETECTRON2 = Layout(
    name="detectron2",
    ecosystem="a detectron2 ResNet checkpoint (stem.conv1, res2..res5)",
    matches=matches,
    to_ours=to_ours,
    from_ours=None,
    describe=describe,
)

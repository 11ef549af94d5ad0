"""Caffe2 / Detectron1 ResNets (``R-50.pkl``, ``X-101-32x8d.pkl``: detectron2's ImageNet weights).

Flat blob names (``conv1_w``, ``res_conv1_bn_s``, ``res2_0_branch2a_w``, ``res2_0_branch1_bn_b``,
``fc1000_w``), mapped the way detectron2 maps them (``detectron2/checkpoint/
c2_model_loading.py``, ``convert_basic_c2_names``, lines 9-55: ``_`` becomes ``.``, ``_w`` and
``_b`` become weight and bias, ``bn_s`` the norm's weight, ``res_conv1_bn`` and ``conv1`` the stem,
``branch1`` the shortcut, ``branch2a..c`` conv1..conv3), then as :mod:`.detectron2`'s names.
``fc1000``, which detectron2 leaves unused, is the ImageNet classifier: ours ``fc``. Detection
files nest the blobs under ``blobs``; ``*_momentum`` blobs are optimizer state
(``detection_checkpoint.py`` lines 80-83).

Caffe2's ResNets fold BatchNorm into an AffineChannel: ``y = s * x + b`` per channel. It is
written to our BatchNorm as weight ``s``, bias ``b``, running_mean 0 and running_var
``1 - eps``: BN computes ``(x - mean) / sqrt(var + eps) * weight + bias``, and
``sqrt((1 - eps) + eps) = 1``, so it is ``s * x + b`` (as detectron2's ``FrozenBatchNorm2d``
initialises its statistics, ``layers/batch_norm.py`` lines 41-42).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from .base import Layout, Mapped
from .detectron2 import map_backbone, rename, stride_hint

INPUT_CAFFE2 = ("input: BGR, 0-255, minus the pixel mean [103.530, 116.280, 123.675], std 1 "
                "(detectron2's PIXEL_MEAN and PIXEL_STD for these weights, config/defaults.py "
                "lines 42-46; [57.375, 57.120, 58.395] for FAIR's ResNeXt)")  # fmt: skip
BN_EPS = 1e-5  # our BatchNorm's eps (torch's default), as FrozenBatchNorm2d's
# convert_basic_c2_names' suffix rules, in its order (c2_model_loading.py lines 24-38)
_SUFFIXES = ((r"\.b$", ".bias"), (r"\.w$", ".weight"), (r"bn\.s$", "norm.weight"),
             (r"bn\.bias$", "norm.bias"), (r"bn\.rm$", "norm.running_mean"),
             (r"bn\.riv$", "norm.running_var"), (r"bn\.gamma$", "norm.weight"),
             (r"bn\.beta$", "norm.bias"), (r"gn\.s$", "norm.weight"),
             (r"gn\.bias$", "norm.bias"))  # fmt: skip
_BRANCHES = ((".branch1.", ".shortcut."), (".branch2a.", ".conv1."),
             (".branch2b.", ".conv2."), (".branch2c.", ".conv3."))  # fmt: skip


def matches(keys: Collection[str]) -> bool:
    return "conv1_w" in keys and "res2_0_branch2a_w" in keys


def d2_name(blob: str) -> str:
    """A blob's name as detectron2 renames it (``res2_0_branch2a_bn_s`` ->
    ``res2.0.conv1.norm.weight``); ``fc1000`` as detectron2's classifier, ``linear``."""
    name = {"pred_b": "linear_b", "pred_w": "linear_w", "fc1000_b": "linear_b",
            "fc1000_w": "linear_w"}.get(blob, blob).replace("_", ".")  # fmt: skip
    for pattern, replacement in _SUFFIXES:
        name = re.sub(pattern, replacement, name)
    name = re.sub(r"^res\.conv1\.norm\.", "conv1.norm.", name)
    name = re.sub(r"^conv1\.", "stem.conv1.", name)
    for old, new in _BRANCHES:
        name = name.replace(old, new)
    return name


def _unfold(tensors: dict[str, Any], norms: list[str]) -> None:
    """Give each folded norm (our name) the identity statistics (module doc)."""
    import torch

    for norm in norms:
        scale = tensors[norm + ".weight"]
        tensors[norm + ".running_mean"] = torch.zeros_like(scale)
        tensors[norm + ".running_var"] = torch.full_like(scale, 1 - BN_EPS)


def to_ours(source: Mapping[str, Any]) -> Mapped:
    blobs = {k: d2_name(k) for k in source if not k.endswith("_momentum")}
    backbone = {k: n for k, n in blobs.items() if re.match(r"^(stem\.|res[0-9]|linear\.)", n)}
    tensors, unused = map_backbone(source, backbone)
    # an AffineChannel is a BN's scale blob without the running mean blob beside it
    folded = [str(rename(backbone[k])).removesuffix(".weight") for k in backbone
              if k.endswith("_bn_s") and k.removesuffix("_s") + "_rm" not in source
              and rename(backbone[k]) is not None]  # fmt: skip
    _unfold(tensors, folded)
    hints, stride = stride_hint(tensors)
    assumptions = [*stride, INPUT_CAFFE2]
    if folded:
        assumptions.append(f"BatchNorm: folded into scale and shift (AffineChannel); written as "
                           f"BN(weight=scale, bias=shift, running_mean=0, running_var=1-{BN_EPS:g}), "
                           "which computes scale*x+shift exactly")  # fmt: skip
    return Mapped(tensors, tuple(assumptions), hints, tuple(unused))


CAFFE2 = Layout(
    name="caffe2",
    ecosystem="a Caffe2 / Detectron1 ResNet (flat blob names, as detectron2's R-50.pkl)",
    matches=matches,
    to_ours=to_ours,
    from_ours=None,
)

"""torchvision's quantized ResNets (``torchvision.models.quantization.resnet18/50``, ResNeXt).

The layout, from torchvision's source (``torchvision/models/quantization/resnet.py``) and the
state dicts it builds (tests/reference/tv_quantized.py records them): each BatchNorm is fused
into the conv before it (``fuse_model``), so there is no BN and every conv has a bias; conv
weights are qint8 tensors (per channel), each conv stores its output's ``scale`` and
``zero_point``; a block's residual add is a ``FloatFunctional`` observer (``add_relu`` in the
basic block, ``skip_add_relu`` in the bottleneck), the input a ``QuantStub`` (``quant.scale``),
and the classifier's weight and bias a packed tuple (``fc._packed_params._packed_params``).

Mapped to our float model: each weight dequantized (``scale * (q - zero_point)``), and each
fused conv's bias written into a BatchNorm after it with identity statistics: BN(y) =
``(y - 0) / sqrt((1 - eps) + eps) * 1 + b = y + b``, which is ``conv(x) + b``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from .base import Layout, Mapped

BN_EPS = 1e-5  # our BatchNorm's eps (torch's default)
_PACKED = "fc._packed_params._packed_params"
_DIGITS = "[0-9]{1,6}"
# a fused conv of ours, whose BatchNorm was fused into it
_CONV = re.compile(
    rf"^(conv1|layer{_DIGITS}\.{_DIGITS}\.(?:conv[123]|downsample\.0))\.(weight|bias)$"
)
# quantization parameters with nothing in the float model: activations' scales, observers
_QPARAMS = re.compile(r"(^|\.)(scale|zero_point)$|^fc\._packed_params\.dtype$")
ASSUMPTIONS = (
    "weights: int8 (qint8), dequantized to float32 as scale * (q - zero_point); the original "
    "also quantizes every activation (its scales and zero points are listed as unused), so the "
    "float model's outputs differ from the quantized model's by that rounding",
    "BatchNorm: fused into the convs; each conv's bias is written as a BN after it with "
    f"weight 1, running_mean 0 and running_var 1-{BN_EPS:g}, which adds the bias exactly",
)
REFUSAL = ("a quantized checkpoint holds int8 weights of a model that also rounds every "
           "activation: written as a float checkpoint it would compute a different function; "
           "convert the float model's weights instead (torchvision.models.resnet50, not "
           "torchvision.models.quantization.resnet50)")  # fmt: skip


def matches(keys: Collection[str]) -> bool:
    return "conv1.weight" in keys and "quant.scale" in keys and _PACKED in keys


def _norm_of(conv: str) -> str:
    if conv == "conv1":
        return "bn1"
    if conv.endswith("downsample.0"):
        return conv.removesuffix("0") + "1"
    return conv[: -len("convN")] + "bn" + conv[-1]


def _float(t: Any) -> Any:
    return t.dequantize() if getattr(t, "is_quantized", False) else t


def to_ours(source: Mapping[str, Any]) -> Mapped:
    import torch

    tensors: dict[str, Any] = {}
    unused = []
    for key, value in source.items():
        m = _CONV.match(key)
        if key == _PACKED and isinstance(value, tuple) and len(value) == 2:
            weight, bias = value
            tensors["fc.weight"] = _float(weight)
            if bias is not None:
                tensors["fc.bias"] = _float(bias)
        elif m and m[2] == "weight":
            tensors[key] = _float(value)
        elif m:  # the fused conv's bias: an identity-statistics BatchNorm after the conv
            norm, bias = _norm_of(m[1]), _float(value)
            tensors[f"{norm}.weight"] = torch.ones_like(bias)
            tensors[f"{norm}.bias"] = bias
            tensors[f"{norm}.running_mean"] = torch.zeros_like(bias)
            tensors[f"{norm}.running_var"] = torch.full_like(bias, 1 - BN_EPS)
        elif _QPARAMS.search(key):
            unused.append(key)
        else:  # kept under its name: the strict load names it
            tensors[key] = value
    return Mapped(tensors, ASSUMPTIONS, {}, tuple(unused))


TV_QUANTIZED = Layout(
    name="tv-quantized",
    ecosystem="a torchvision quantized ResNet (torchvision.models.quantization: int8, BN fused)",
    matches=matches,
    to_ours=to_ours,
    from_ours=None,
    refuses_conversion=REFUSAL,
)

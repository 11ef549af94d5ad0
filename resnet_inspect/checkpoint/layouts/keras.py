"""Keras applications' ResNet50, ResNet101 and ResNet152 (v1), from an HDF5 file (``.h5``:
``model.save`` or the published ``*_weights_tf_dim_ordering_tf_kernels.h5``), which the reader
(checkpoint/hdf5.py) names ``{layer}/{variable}``. Names read from keras 3.15's
``applications/resnet.py`` and checked against the files it writes (tests/reference/foreign/):

- ``conv1_conv``/``conv1_bn``: the stem (Keras pads explicitly: ZeroPadding2D of 3 before the
  7x7 and of 1 before the max-pool; after a ReLU, zero padding is -inf padding for a max);
- ``conv{n}_block{i}_{k}_conv``/``_bn``: stage n-1, block i-1; k=0 is the projection
  shortcut, k=1..3 the bottleneck's convs; the first 1x1 strides (stride_in=1x1);
- ``predictions``: the classifier.

Every conv has a bias (``kernel`` and ``bias``), kernels are HWIO (transposed here to torch's
OIHW), the dense kernel is (in, out), BatchNorm's are ``gamma``/``beta``/``moving_mean``/
``moving_variance`` with epsilon 1.001e-5, and there is no ``num_batches_tracked`` (torch fills
in 0 on a strict load).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from .base import Layout, LayoutError, Mapped, unmapped

if TYPE_CHECKING:
    from ...spec import ResNetSpec

NAME = "a Keras applications ResNet (v1)"
BN_EPS = 1.001e-5  # keras.applications.resnet: BatchNormalization(epsilon=1.001e-5)
_NORM = {
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}
_CONV = {"kernel": "weight", "bias": "bias"}
_LAYER = re.compile(r"^conv([2-9])_block([0-9]{1,4})_([0-3])_(conv|bn)$")
_OURS = re.compile(r"^layer([1-8])\.([0-9]{1,4})\.(conv|bn|downsample\.)([0-3])$")


def matches(keys: Collection[str]) -> bool:
    return "conv1_conv/kernel" in keys


def _module(layer: str, key: str) -> tuple[str, bool]:
    """Our module for a Keras layer, and whether it is a conv (else a norm)."""
    if layer in ("conv1_conv", "conv1_bn"):
        return ("conv1", True) if layer == "conv1_conv" else ("bn1", False)
    if layer == "predictions":
        return "fc", True
    m = _LAYER.match(layer)
    if m is None:
        why = (
            "ResNet50V2's pre-activation layout is not read"
            if "preact" in layer or layer == "post_bn"
            else ""
        )
        raise unmapped(NAME, key, why)
    stage, block, k, kind = int(m[1]) - 1, int(m[2]) - 1, int(m[3]), m[4]
    if block < 0:
        raise unmapped(NAME, key)
    where = f"layer{stage}.{block}."
    if k == 0:
        return where + ("downsample.0" if kind == "conv" else "downsample.1"), kind == "conv"
    return where + f"{kind}{k}", kind == "conv"


def to_ours(tensors: Mapping[str, Any]) -> Mapped:
    out: dict[str, Any] = {}
    for key, tensor in tensors.items():
        layer, _, variable = key.partition("/")
        module, is_conv = _module(layer, key)
        leaves = _CONV if is_conv else _NORM
        if variable not in leaves:
            raise unmapped(NAME, key)
        if variable == "kernel" and module == "fc":
            tensor = _checked(tensor, 2, key).t().contiguous()  # (in, out) -> (out, in)
        elif variable == "kernel":
            tensor = _checked(tensor, 4, key).permute(3, 2, 0, 1).contiguous()  # HWIO -> OIHW
        out[f"{module}.{leaves[variable]}"] = tensor
    return Mapped(out, ASSUMED, {"stride_in": "1x1", "conv_bias": True, "bn_eps": BN_EPS})


def _checked(tensor: Any, rank: int, key: str) -> Any:
    if tensor.dim() != rank:
        raise LayoutError(
            f"{NAME} kernel {key!r} has {tensor.dim()} dimensions, not {rank}; not mapped"
        )
    return tensor


ASSUMED = (
    "bn_eps: an epsilon has no weights; assumed Keras applications' 1.001e-5",
    "input: BGR, 0-255, with ImageNet's mean pixel subtracted and no scaling (Keras "
    "applications' resnet preprocess_input, Caffe's mode); channels last in Keras, channels "
    "first here",
)


def from_ours(tensors: Mapping[str, Any], spec: ResNetSpec) -> dict[str, Any]:
    """Our names to Keras's ``{layer}/{variable}``, kernels back to HWIO. A conv without a bias
    gets a zero one (exact: every conv here feeds a BatchNorm)."""
    _require_keras_shape(spec)
    out: dict[str, Any] = {}
    for key, tensor in tensors.items():
        module, _, leaf = key.rpartition(".")
        if leaf == "num_batches_tracked":
            continue
        layer, is_conv = _their_layer(module, key)
        leaves = {v: k for k, v in (_CONV if is_conv else _NORM).items()}
        if leaf not in leaves:
            raise unmapped("our", key, "no Keras name for it")
        if leaf == "weight" and is_conv:
            tensor = (
                tensor.t().contiguous()
                if layer == "predictions"
                else tensor.permute(2, 3, 1, 0).contiguous()
            )
            if layer != "predictions" and f"{module}.bias" not in tensors:
                out[f"{layer}/bias"] = tensor.new_zeros(tensor.shape[-1])
        out[f"{layer}/{leaves[leaf]}"] = tensor
    return out


def _require_keras_shape(spec: ResNetSpec) -> None:
    from ...spec import Block, StrideIn
    from .base import require_only

    require_only(spec, ("layers", "widths", "stride_in", "num_classes", "in_chans", "zero_init_residual",
                        "conv_bias", "bn_eps"), NAME)  # fmt: skip
    if spec.block is not Block.BOTTLENECK or spec.stride_in is not StrideIn.CONV1X1:
        raise LayoutError(f"{NAME} is a bottleneck net whose first 1x1 strides (stride_in=1x1)")


def _their_layer(module: str, key: str) -> tuple[str, bool]:
    if module in ("conv1", "bn1", "fc"):
        return {
            "conv1": ("conv1_conv", True),
            "bn1": ("conv1_bn", False),
            "fc": ("predictions", True),
        }[module]
    m = _OURS.match(module)
    if m is None:
        raise unmapped("our", key, "no Keras name for it")
    k, kind = int(m[4]), m[3]
    if kind == "downsample.":
        kind, k = ("conv", 0) if k == 0 else ("bn", 0)
    return f"conv{int(m[1]) + 1}_block{int(m[2]) + 1}_{k}_{kind}", kind == "conv"


LAYOUT = Layout(
    name="keras",
    ecosystem="a Keras applications ResNet (v1) .h5 file",
    matches=matches,
    to_ours=to_ours,
    from_ours=from_ours,
)

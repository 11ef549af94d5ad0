"""Keras applications' ResNet50, ResNet101 and ResNet152 (v1), from an HDF5 file (``.h5``:
``model.save`` or the published ``*_weights_tf_dim_ordering_tf_kernels.h5``), which the reader
(checkpoint/hdf5.py) names ``{layer}/{variable}``; or Keras 3's ``.weights.h5``
(``model.save_weights``), named ``layers/{class}_{n}/vars/{i}`` (see :func:`keras2_names`). Names read from keras 3.15's
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

from ...units import printable
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


# Keras 3's .weights.h5: ``layers/conv2d_9/vars/0`` (the class in snake case, a counter from
# the second of a class on, in the model's layer order; variables in the order the layer made
# them), read from keras 3.15's saving/saving_lib.py and the files it writes (the fixture).
_KERAS3 = re.compile(
    r"^layers/(conv2d|batch_normalization|dense)(?:_([1-9][0-9]{0,5}))?/vars/([0-9]{1,2})$"
)
_KERAS3_VARIABLES = {
    "conv2d": ("kernel", "bias"),
    "batch_normalization": ("gamma", "beta", "moving_mean", "moving_variance"),
    "dense": ("kernel", "bias"),
}
NAME3 = "a Keras 3 .weights.h5 of a Keras applications ResNet (v1)"


def matches(keys: Collection[str]) -> bool:
    return "conv1_conv/kernel" in keys or "layers/conv2d/vars/0" in keys


def is_keras3(keys: Collection[str]) -> bool:
    return "layers/conv2d/vars/0" in keys


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
    assumed: tuple[str, ...] = ASSUMED
    if is_keras3(tensors):
        tensors = keras2_names(tensors)
        assumed = (*ASSUMED, KERAS3_ORDER)
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
    return Mapped(out, assumed, {"stride_in": "1x1", "conv_bias": True, "bn_eps": BN_EPS})


def keras2_names(tensors: Mapping[str, Any]) -> dict[str, Any]:
    """Keras 3's ``layers/{class}_{n}/vars/{i}`` as the model's own names
    (``conv2_block1_0_conv/kernel``). The file says only each layer's class and its place among
    the layers of that class, in the model's layer order; that order, in keras 3.15's
    ``applications/resnet.py`` model: ``conv1``, then per block ``_1``, ``_2``, the projection
    ``_0`` (a stage's first block only), ``_3``, each conv's BatchNorm at the same place among
    the norms, and ``predictions``. The blocks are read from the kernels' shapes: a block
    whose input is not 4 x its width starts a stage (and has the projection). Every shape is
    checked against that order; where ``_0`` and ``_3`` have the same shape (the first stage's
    first block: 64 -> 256 both), the order alone decides, as every later stage's shapes
    confirm it."""
    layers: dict[str, dict[int, dict[int, Any]]] = {
        "conv2d": {},
        "batch_normalization": {},
        "dense": {},
    }
    for key, tensor in tensors.items():
        m = _KERAS3.match(key)
        if m is None:
            raise unmapped(
                NAME3, key, "not a conv, BatchNorm or dense layer of a Keras applications ResNet"
            )
        kind, n, i = m[1], int(m[2] or 0), int(m[3])
        if i >= len(_KERAS3_VARIABLES[kind]):
            raise unmapped(NAME3, key)
        layers[kind].setdefault(n, {})[i] = tensor
    convs, norms = (
        _in_order(layers["conv2d"], "conv2d"),
        _in_order(layers["batch_normalization"], "batch_normalization"),
    )
    if len(norms) != len(convs):
        raise LayoutError(f"{NAME3}: {len(convs)} convs but {len(norms)} BatchNorms; a Keras "
                          "applications ResNet has one after each conv")  # fmt: skip
    kernels = [_checked(c[0], 4, f"layers/conv2d{f'_{k}' if k else ''}/vars/0", NAME3).shape
               for k, c in enumerate(convs)]  # fmt: skip
    names = _conv_names(kernels)
    out: dict[str, Any] = {}
    for name, conv, norm in zip(names, convs, norms, strict=True):
        out |= {f"{name}_conv/{_KERAS3_VARIABLES['conv2d'][i]}": t for i, t in conv.items()}
        out |= {
            f"{name}_bn/{_KERAS3_VARIABLES['batch_normalization'][i]}": t for i, t in norm.items()
        }
        if tuple(norm[0].shape) != (conv[0].shape[3],):
            raise LayoutError(f"{NAME3}: the BatchNorm of {name} has {tuple(norm[0].shape)} values for "
                              f"{conv[0].shape[3]} channels; not the layer order Keras saves")  # fmt: skip
    dense = _in_order(layers["dense"], "dense")
    if len(dense) > 1:
        raise LayoutError(
            f"{NAME3}: {len(dense)} dense layers; a Keras applications ResNet has one"
        )
    out |= {f"predictions/{_KERAS3_VARIABLES['dense'][i]}": t for d in dense for i, t in d.items()}
    return out


def _in_order(found: dict[int, dict[int, Any]], kind: str) -> list[dict[int, Any]]:
    """The layers of one class by their counter, which must run 0, 1, 2, ... without a gap."""
    order = sorted(found)
    if order != list(range(len(order))):
        missing = next(i for i in range(len(order) + 1) if i not in found)
        raise LayoutError(f"{NAME3}: layers/{kind}{f'_{missing}' if missing else ''} is missing; "
                          "the layer order cannot be read")  # fmt: skip
    return [found[n] for n in order]


def _conv_names(kernels: list[Any]) -> list[str]:
    """``conv1``, ``conv2_block1_1``, ... for the kernels (HWIO) in Keras's layer order; see
    :func:`keras2_names`. Raises LayoutError where the shapes do not follow that order."""

    def fail(k: int, why: str) -> LayoutError:
        return LayoutError(f"{NAME3}: conv #{k + 1} ({'x'.join(map(str, kernels[k]))}): {why}; not "
                           "the layer order Keras applications' ResNet saves")  # fmt: skip

    def shape(k: int, size: int, cin: int, cout: int) -> None:
        if k >= len(kernels):
            raise LayoutError(f"{NAME3}: the last block stops after {len(kernels)} convs")
        if tuple(kernels[k]) != (size, size, cin, cout):
            raise fail(k, f"expected {size}x{size}x{cin}x{cout}")

    if not kernels or tuple(kernels[0][:2]) != (7, 7):
        raise LayoutError(f"{NAME3}: the first conv is not the 7x7 stem")
    names, k, stage, block = ["conv1"], 1, 1, 0
    while k < len(kernels):
        if tuple(kernels[k][:2]) != (1, 1):
            raise fail(k, "a block starts with a 1x1")
        cin, width = int(kernels[k][2]), int(kernels[k][3])
        first = cin != 4 * width
        stage, block = (stage + 1, 1) if first else (stage, block + 1)
        where = f"conv{stage}_block{block}"
        shape(k + 1, 3, width, width)
        if first:  # the projection is saved after the 3x3, before the last 1x1
            shape(k + 2, 1, cin, 4 * width)
            shape(k + 3, 1, width, 4 * width)
            names += [f"{where}_1", f"{where}_2", f"{where}_0", f"{where}_3"]
            k += 4
        else:
            shape(k + 2, 1, width, 4 * width)
            names += [f"{where}_1", f"{where}_2", f"{where}_3"]
            k += 3
    return names


def _checked(tensor: Any, rank: int, key: str, name: str = NAME) -> Any:
    if tensor.dim() != rank:
        raise LayoutError(
            f"{name} kernel {printable(key)!r} has {tensor.dim()} dimensions, not {rank}; not mapped"
        )
    return tensor


ASSUMED = (
    "bn_eps: an epsilon has no weights; assumed Keras applications' 1.001e-5",
    "input: BGR, 0-255, with ImageNet's mean pixel subtracted and no scaling (Keras "
    "applications' resnet preprocess_input, Caffe's mode); channels last in Keras, channels "
    "first here",
)


# what a Keras 3 file cannot show: its names are a layer's class and counter only
KERAS3_ORDER = (
    "layer names: a Keras 3 .weights.h5 names a layer by its class and count only; mapped by "
    "the order Keras applications' ResNet builds them in, which every kernel's shape confirms "
    "except conv2_block1's projection and last 1x1 (both 1x1, 64 -> 256): told apart by that "
    "order alone"
)


def describe(keys: Collection[str]) -> str:
    return NAME3 if is_keras3(keys) else LAYOUT.ecosystem


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
    describe=describe,
)

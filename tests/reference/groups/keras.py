"""Keras 3's applications ResNet50/101/152 (keras/src/applications/resnet.py, v1) on the torch
backend: the presets resnet50_keras, resnet101_keras, resnet152_keras.

Run in the foreign environment (``KERAS_BACKEND=torch``; it has torchvision and timm too)::

    KERAS_BACKEND=torch /work/venv-foreign/bin/python tests/reference/generate.py keras

Keras names its layers, not our modules, and stores kernels as HWIO: :func:`our_name` maps each
layer to the torchvision names our preset has, and :func:`to_keras` turns our tensors into
Keras's weights (conv kernels OIHW -> HWIO, the dense kernel transposed, BN's four weights in
Keras's order). The deterministic weights are made by our names and shapes, converted, and set
in the Keras model; its output on the deterministic input (NCHW, transposed to Keras's NHWC)
is recorded, logits from ``classifier_activation=None`` (Keras's default ends in a softmax).
The recorded state dict is Keras's weights under our names with torch's shapes. Keras's batch
norm has no ``num_batches_tracked``: the entry says so (``no_batch_counters``) and the test
leaves those keys out. Parameters: Keras's trainable weights (its count_params adds the BN
moving statistics, which torch keeps as buffers).
"""

from __future__ import annotations

import ast
import re
from typing import Any

import torch

from reference.entry import Entry
from reference.weights import (
    describe,
    deterministic_input,
    deterministic_state_dict,
    encode_float32,
)

SMALL_KERAS = (2, 3, 64, 64)

ENTRIES: list[Entry] = [
    Entry("keras:ResNet50(input_shape=(64, 64, 3))", "resnet50_keras", SMALL_KERAS),
    Entry("keras:ResNet101(input_shape=(64, 64, 3))", "resnet101_keras", SMALL_KERAS),
    Entry("keras:ResNet152", "resnet152_keras", output=False),
]

_BLOCK = re.compile(r"conv(\d)_block(\d+)_(\d)_(conv|bn)")
_BN = ("weight", "bias", "running_mean", "running_var")  # Keras: gamma, beta, moving mean, variance


def our_name(layer: str) -> str | None:
    """A Keras layer's module in our torchvision layout; None for a layer without weights."""
    fixed = {"conv1_conv": "conv1", "conv1_bn": "bn1", "predictions": "fc"}
    if layer in fixed:
        return fixed[layer]
    m = _BLOCK.fullmatch(layer)
    if m is None:
        return None
    stage, block, index, kind = int(m[1]) - 1, int(m[2]) - 1, int(m[3]), m[4]
    prefix = f"layer{stage}.{block}."
    if index == 0:  # the projection shortcut
        return prefix + ("downsample.0" if kind == "conv" else "downsample.1")
    return prefix + ("conv" if kind == "conv" else "bn") + str(index)


def _torch_shapes(layer: Any) -> dict[str, tuple[int, ...]]:
    """Our tensors of one Keras layer, with torch's shapes."""
    name, shapes = our_name(layer.name), [tuple(w.shape) for w in layer.weights]
    assert name is not None
    if len(shapes) == 4:
        return {f"{name}.{leaf}": s for leaf, s in zip(_BN, shapes, strict=True)}
    kernel, bias = shapes
    if len(kernel) == 4:  # HWIO -> OIHW
        kernel = (kernel[3], kernel[2], kernel[0], kernel[1])
    else:  # dense: in x out -> out x in
        kernel = (kernel[1], kernel[0])
    return {f"{name}.weight": kernel, f"{name}.bias": bias}


def to_keras(layer: Any, ours: dict[str, torch.Tensor]) -> list[Any]:
    """Our tensors for one layer as Keras's weight list (numpy, Keras's order and shapes)."""
    name = our_name(layer.name)
    if len(layer.weights) == 4:
        return [ours[f"{name}.{leaf}"].numpy() for leaf in _BN]
    kernel = ours[f"{name}.weight"]
    kernel = kernel.permute(2, 3, 1, 0) if kernel.dim() == 4 else kernel.t()
    return [kernel.contiguous().numpy(), ours[f"{name}.bias"].numpy()]


def _build(reference: str) -> Any:
    import keras

    library, _, call = reference.partition(":")
    assert library == "keras", reference
    node = ast.parse(call, mode="eval").body
    name, kwargs = (node.id, {}) if isinstance(node, ast.Name) else (
        node.func.id, {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords})  # type: ignore[attr-defined]
    return getattr(keras.applications, name)(weights=None, classifier_activation=None, **kwargs)


def record(entry: Entry) -> dict[str, Any]:
    model = _build(entry.reference)
    layers = [layer for layer in model.layers if layer.weights]
    shapes = {k: s for layer in layers for k, s in _torch_shapes(layer).items()}
    output = None
    if entry.output:
        ours = deterministic_state_dict({k: (s, torch.float32) for k, s in shapes.items()})
        for layer in layers:
            layer.set_weights(to_keras(layer, ours))
        x = deterministic_input(entry.input_shape).permute(0, 2, 3, 1).contiguous()  # NHWC
        with torch.no_grad():
            output = encode_float32(torch.as_tensor(model(x.numpy(), training=False)))
    return {
        "reference": entry.reference,
        "spec": entry.spec,
        "input_shape": list(entry.input_shape),
        "params": sum(int(w.numpy().size) for w in model.trainable_weights),
        "state_dict": {k: describe(torch.empty(s)) for k, s in shapes.items()},
        "no_batch_counters": True,
        "output": output,
    }


def versions() -> dict[str, str]:
    import keras

    return {"keras": keras.__version__, "keras_backend": keras.backend.backend()}

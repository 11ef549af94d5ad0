"""Generate the foreign-layout fixtures under tests/reference/foreign/ from the real libraries.

Run from the repository root in the foreign reference environment (transformers, mmpretrain
with mmengine and mmcv-lite, keras 3 on the torch backend with h5py, open_clip; built by
../shared/tools/reference-env-foreign.sh)::

    KERAS_BACKEND=torch /work/venv-foreign/bin/python tests/reference/foreign/generate.py

For every case it records, from the library's own model only: each state-dict key (Keras:
each variable's ``layer/name``) with its shape and dtype (Keras 3's ``.weights.h5`` too: each
dataset's path and the variable it holds, ``weights_h5``), and, where ``output`` is set, the
model's eval-mode output on ``deterministic_input`` with the deterministic weights of
schemes.py, seeded by the library's own key names (float32, base64). The tests map those same
weights to our names and compare our model's output with it, without the library. ``spec`` is
our spec string for the same architecture, written here by hand: the claim the tests check.
Nothing of resnet_inspect is used. One file per library, ``<library>.json.gz``, rewritten whole.
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # tests/, for `reference`
from reference.foreign.schemes import foreign_state_dict  # noqa: E402
from reference.weights import SCHEME, deterministic_input, encode_float32, fingerprint  # noqa: E402

INPUT = (1, 3, 64, 64)


@dataclass(frozen=True)
class Case:
    name: str
    constructor: str  # how the library builds it, as text
    spec: str | None  # our spec string for it (None: no preset or spec here yet, e.g. CLIP)
    build: Callable[[], Any]
    output: bool = True
    ecosystem: str = ""  # what identify should say the file is


# --- Hugging Face transformers -----------------------------------------------------------------
def _hf(model: str = "ResNetForImageClassification", **config: Any) -> Callable[[], Any]:
    def build() -> Any:
        import transformers

        return getattr(transformers, model)(transformers.ResNetConfig(**config))

    return build


HF_TINY = dict(embedding_size=8, hidden_sizes=[16, 32, 64, 128], depths=[1, 2, 1, 1], num_labels=5)
DETR_TINY = dict(d_model=32, encoder_layers=1, decoder_layers=1, encoder_ffn_dim=32, decoder_ffn_dim=32,
                 encoder_attention_heads=2, decoder_attention_heads=2, num_queries=5, num_labels=3)


def _detr() -> Any:
    import transformers

    backbone = transformers.ResNetConfig(**HF_TINY, out_features=["stage4"])
    config = transformers.DetrConfig(use_timm_backbone=False, backbone_config=backbone,
                                     use_pretrained_backbone=False, **DETR_TINY)
    return transformers.DetrForObjectDetection(config)


HF = [
    Case(
        "hf-bottleneck-tiny",
        f"ResNetForImageClassification(ResNetConfig(**{HF_TINY}))",
        "resnet50:layers=1,2,1,1,widths=4,8,16,32,stem_width=8,num_classes=5",
        _hf(**HF_TINY),
    ),
    Case(
        "hf-bottleneck-tiny-in-bottleneck",
        f"ResNetForImageClassification(ResNetConfig(**{HF_TINY}, downsample_in_bottleneck=True))",
        "resnet50:layers=1,2,1,1,widths=4,8,16,32,stem_width=8,num_classes=5,stride_in=1x1",
        _hf(**HF_TINY, downsample_in_bottleneck=True),
    ),
    Case(
        "hf-basic-tiny",
        "ResNetForImageClassification(ResNetConfig(layer_type='basic', embedding_size=8, "
        "hidden_sizes=[8, 16, 32, 64], depths=[1, 1, 2, 1], num_labels=5))",
        "resnet18:layers=1,1,2,1,widths=8,16,32,64,stem_width=8,num_classes=5",
        _hf(
            layer_type="basic",
            embedding_size=8,
            hidden_sizes=[8, 16, 32, 64],
            depths=[1, 1, 2, 1],
            num_labels=5,
        ),
    ),
    Case(
        # no classifier: num_classes=0, the output is the pooled features
        "hf-model-tiny",
        f"ResNetModel(ResNetConfig(**{HF_TINY})): pooler_output",
        "resnet50:layers=1,2,1,1,widths=4,8,16,32,stem_width=8,num_classes=0",
        _hf("ResNetModel", **HF_TINY),
    ),
    Case(
        # a detector's backbone: the same keys as ResNetModel's; its output is feature maps
        "hf-backbone-tiny",
        f"ResNetBackbone(ResNetConfig(**{HF_TINY}, out_features=['stage4']))",
        "resnet50:layers=1,2,1,1,widths=4,8,16,32,stem_width=8,num_classes=0",
        _hf("ResNetBackbone", **HF_TINY, out_features=["stage4"]),
        output=False,
    ),
    Case(
        # DETR (use_timm_backbone=False) holds a ResNetBackbone under model.backbone.model.,
        # its BatchNorms frozen (no num_batches_tracked); the detector's own keys are not read
        "hf-detr-backbone-tiny",
        f"DetrForObjectDetection(DetrConfig(use_timm_backbone=False, backbone_config="
        f"ResNetConfig(**{HF_TINY}, out_features=['stage4']), {DETR_TINY}))",
        "resnet50:layers=1,2,1,1,widths=4,8,16,32,stem_width=8,num_classes=0",
        _detr,
        output=False,
    ),
    Case(
        "hf-resnet-50",
        "ResNetForImageClassification(ResNetConfig(num_labels=1000)) "
        "(microsoft/resnet-50's config)",
        "resnet50",
        _hf(num_labels=1000),
    ),
]


# --- MMPretrain --------------------------------------------------------------------------------
def _mm(backbone: dict[str, Any], channels: int) -> Callable[[], Any]:
    def build() -> Any:
        from mmpretrain.models import build_classifier

        return build_classifier(
            dict(
                type="ImageClassifier",
                backbone=backbone,
                neck=dict(type="GlobalAveragePooling"),
                head=dict(type="LinearClsHead", num_classes=10, in_channels=channels),
            )
        )

    return build


def _mm_case(name: str, spec: str, channels: int, output: bool = True, **backbone: Any) -> Case:
    text = f"ImageClassifier(backbone={backbone}, neck=GlobalAveragePooling, LinearClsHead(10, {channels}))"
    return Case(name, text, spec, _mm(backbone, channels), output)


SMALL = dict(stem_channels=16, base_channels=16)  # a quarter of the widths: fast to run


MMPRETRAIN = [
    _mm_case("mm-resnet18", "resnet18:num_classes=10", 512, type="ResNet", depth=18),
    _mm_case("mm-resnet50", "resnet50:num_classes=10", 2048, False, type="ResNet", depth=50),
    _mm_case(
        "mm-resnet50-small",
        "resnet50:widths=16,32,64,128,stem_width=16,num_classes=10",
        512,
        type="ResNet",
        depth=50,
        stem_channels=16,
        base_channels=16,
    ),
    # the published configurations by their keys (each identifies as its preset); the small
    # ones, with the same code paths, by their outputs
    _mm_case("mm-resnetv1c50", "resnet50c:num_classes=10", 2048, False, type="ResNetV1c", depth=50),
    _mm_case("mm-resnetv1d50", "resnet50d:num_classes=10", 2048, False, type="ResNetV1d", depth=50),
    _mm_case("mm-seresnet50", "seresnet50:num_classes=10", 2048, False, type="SEResNet", depth=50),
    _mm_case(
        "mm-resnetv1c50-small",
        "resnet50c:widths=16,32,64,128,stem_width=8,num_classes=10",
        512,
        type="ResNetV1c",
        depth=50,
        **SMALL,
    ),
    _mm_case(
        "mm-resnetv1d50-small",
        "resnet50d:widths=16,32,64,128,stem_width=8,num_classes=10",
        512,
        type="ResNetV1d",
        depth=50,
        **SMALL,
    ),
    _mm_case(
        "mm-seresnet50-small",
        "seresnet50:widths=16,32,64,128,stem_width=16,num_classes=10",
        512,
        type="SEResNet",
        depth=50,
        **SMALL,
    ),
    _mm_case(
        "mm-resnext50",
        "resnext50_32x4d:num_classes=10",
        2048,
        type="ResNeXt",
        depth=50,
        groups=32,
        width_per_group=4,
    ),
]


# --- Keras ------------------------------------------------------------------------------------
def _keras(depth: int) -> Callable[[], Any]:
    def build() -> Any:
        import keras

        factory = getattr(keras.applications, f"ResNet{depth}")
        return factory(
            weights=None, input_shape=(64, 64, 3), classes=10, classifier_activation=None
        )

    return build


KERAS = [
    Case(
        f"keras-resnet{d}",
        f"keras.applications.ResNet{d}(weights=None, input_shape=(64, 64, 3), "
        "classes=10, classifier_activation=None)",
        f"resnet{d}_keras:num_classes=10",
        _keras(d),
    )
    for d in (50, 101, 152)
]


# --- open_clip --------------------------------------------------------------------------------
def _clip_tower() -> Any:
    from open_clip.modified_resnet import ModifiedResNet

    return ModifiedResNet(layers=[1, 1, 1, 1], output_dim=16, heads=4, image_size=64, width=8)


def _clip_full() -> Any:
    import open_clip

    return open_clip.create_model("RN50", pretrained=None)


CLIP = [
    Case(
        "clip-modifiedresnet-tiny",
        "open_clip ModifiedResNet(layers=[1, 1, 1, 1], output_dim=16, "
        "heads=4, image_size=64, width=8), under visual. (heads = width * 32 // 64, as CLIP sets it)",
        None,
        _clip_tower,
    ),
    Case(
        "clip-rn50-full",
        "open_clip.create_model('RN50', pretrained=None): the whole CLIP model "
        "(image and text towers)",
        "resnet50_clip",
        _clip_full,
        output=False,
    ),
]

LIBRARIES = {
    "hf": ("transformers", HF),
    "mmpretrain": ("mmpretrain", MMPRETRAIN),
    "keras": ("keras", KERAS),
    "clip": ("open_clip_torch", CLIP),
}


# --- running ----------------------------------------------------------------------------------
def _torch_case(library: str, case: Case) -> dict[str, Any]:
    model = case.build().eval()
    sd = model.state_dict()
    prefix = "visual." if case.name == "clip-modifiedresnet-tiny" else ""
    keys = {prefix + k: (list(t.shape), str(t.dtype).removeprefix("torch.")) for k, t in sd.items()}
    entry: dict[str, Any] = {"keys": keys}
    if case.output:
        weights = foreign_state_dict(library, keys)
        model.load_state_dict({k[len(prefix) :]: v for k, v in weights.items()}, strict=True)
        x = deterministic_input(INPUT)
        with torch.no_grad():
            if library == "hf":
                out = model(pixel_values=x)
                out = out.logits if hasattr(out, "logits") else out.pooler_output
            elif library == "mmpretrain":
                out = model(x, mode="tensor")
            else:
                out = model(x)
        entry["output"] = encode_float32(out)
    return entry


def _keras_case(case: Case) -> dict[str, Any]:
    import h5py
    import numpy as np

    model = case.build()
    variables = {w.path: w for w in model.weights}
    keys = {path: (list(w.shape), str(w.dtype)) for path, w in variables.items()}
    entry: dict[str, Any] = {"keys": keys}
    with tempfile.TemporaryDirectory() as tmp:  # the dataset paths model.save writes
        model.save(f"{tmp}/m.h5")
        paths: list[str] = []
        with h5py.File(f"{tmp}/m.h5") as f:
            f.visititems(lambda n, o: paths.append(n) if isinstance(o, h5py.Dataset) else None)
        entry["h5_dataset_paths"] = paths
    weights = foreign_state_dict("keras", keys)
    for path, w in variables.items():
        w.assign(weights[path].numpy())
    entry["weights_h5"] = _keras3_paths(model, variables)
    x = deterministic_input(INPUT).permute(0, 2, 3, 1).contiguous()  # NCHW -> NHWC
    out = model(np.asarray(x), training=False)
    entry["output"] = encode_float32(
        torch.as_tensor(np.asarray(out.detach().cpu() if hasattr(out, "detach") else out))
    )
    return entry


def _keras3_paths(model: Any, variables: dict[str, Any]) -> dict[str, str]:
    """Keras 3's ``model.save_weights('x.weights.h5')``: each dataset's path (layers named by
    class and counter, ``layers/conv2d_9/vars/0``) -> the variable it holds (``w.path``),
    found by its values (the deterministic weights differ from one variable to the next)."""
    import h5py
    import numpy as np

    by_value = {path: np.asarray(w.numpy() if hasattr(w, "numpy") else w) for path, w in variables.items()}
    found: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model.save_weights(f"{tmp}/m.weights.h5")
        with h5py.File(f"{tmp}/m.weights.h5") as f:
            datasets: list[tuple[str, Any]] = []
            f.visititems(lambda n, o: datasets.append((n, o[()])) if isinstance(o, h5py.Dataset) else None)
    for name, data in datasets:
        same = [p for p, v in by_value.items() if v.shape == data.shape and np.array_equal(v, data)]
        assert len(same) == 1, (name, same)  # one variable each, or the record would guess
        found[name] = same[0]
    return found


def generate(library: str) -> None:
    package, cases = LIBRARIES[library]
    data: dict[str, Any] = {
        "library": package,
        "versions": {p: metadata.version(p) for p in (package, "torch", "numpy")},
        "command": "KERAS_BACKEND=torch python tests/reference/foreign/generate.py " + library,
        "python": platform.python_version(),
        "generated": datetime.date.today().isoformat(),
        "scheme": SCHEME,
        "fingerprint": fingerprint(),
        "input": list(INPUT),
        "cases": [],
    }
    for case in cases:
        entry = _keras_case(case) if library == "keras" else _torch_case(library, case)
        data["cases"].append(
            {"name": case.name, "constructor": case.constructor, "spec": case.spec, **entry}
        )
        print(f"{library}: {case.name}: {len(entry['keys'])} keys", flush=True)
    out = HERE / f"{library}.json.gz"
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as f:
        json.dump(data, f, indent=None, sort_keys=False)
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    for name in sys.argv[1:] or list(LIBRARIES):
        generate(name)

"""CLIP's ModifiedResNet: timm 1.0.31's resnet*_clip and resnet*_clip_gap (byobnet.py) and
open_clip's ModifiedResNet (modified_resnet.py, OpenAI's clip/model.py class): the clip presets.

Run in the foreign environment (open_clip, timm and torchvision)::

    /work/venv-foreign/bin/python tests/reference/generate.py clip

Our presets keep OpenAI's state-dict names (open_clip's, without ``visual.``). timm names the
same tensors its own way and publishes the map, ``byobnet._convert_openai_clip``, with which it
loads OpenAI's checkpoints: so for a timm entry the deterministic weights are made by the OpenAI
names and shapes of the open_clip model of the same configuration, converted by timm's map
(which must cover timm's state dict exactly: a strict load) and loaded into timm's model. The
recorded state dict is the OpenAI-named one; for ``*_clip_gap`` (no attention pool) the trunk's
names and ``fc.*``, which is timm's ``head.fc.*``.

The attention pool's positional embedding fixes the input size (a grid of side / 32, plus the
mean token): outputs are recorded at 64x64 (``img_size=64``: a 2x2 grid, 5 tokens); parameters
and names at the size CLIP uses (224; 288 for x4, 384 for x16, 448 for x64), on the meta device.
timm's *_clip_gap default to num_classes=0 (features only): the entries ask for 1000 classes,
as the presets have.
"""

from __future__ import annotations

import ast
from typing import Any

import torch

from reference.entry import Entry
from reference.weights import (
    describe,
    deterministic_input,
    deterministic_state_dict,
    encode_float32,
    load_deterministic,
)

# timm name: open_clip's ModifiedResNet(layers, output_dim, heads, width) for OpenAI's
# RN50, RN101, RN50x4, RN50x16, RN50x64 (heads = width * 32 // 64, open_clip's vision_heads)
CONFIGS: dict[str, dict[str, Any]] = {
    "resnet50_clip": dict(layers=[3, 4, 6, 3], output_dim=1024, heads=32, width=64),
    "resnet101_clip": dict(layers=[3, 4, 23, 3], output_dim=512, heads=32, width=64),
    "resnet50x4_clip": dict(layers=[4, 6, 10, 6], output_dim=640, heads=40, width=80),
    "resnet50x16_clip": dict(layers=[6, 8, 18, 8], output_dim=768, heads=48, width=96),
    "resnet50x64_clip": dict(layers=[3, 15, 36, 10], output_dim=1024, heads=64, width=128),
}
SIDES = {"resnet50_clip": 224, "resnet101_clip": 224, "resnet50x4_clip": 288,
         "resnet50x16_clip": 384, "resnet50x64_clip": 448}  # fmt: skip


def _open_clip_ref(name: str, side: int) -> str:
    kwargs = ", ".join(f"{k}={v!r}" for k, v in {**CONFIGS[name], "image_size": side}.items())
    return f"open_clip:ModifiedResNet({kwargs})"


ENTRIES: list[Entry] = [
    # outputs at 64x64: RN50, RN50x4 (width 80, 40 heads) from timm and open_clip; a gap head
    Entry("timm:resnet50_clip(img_size=64)", "resnet50_clip:img_size=64"),
    Entry("timm:resnet50x4_clip(img_size=64)", "resnet50x4_clip:img_size=64"),
    Entry("timm:resnet50_clip_gap(num_classes=1000)", "resnet50_clip_gap"),
    Entry(_open_clip_ref("resnet50_clip", 64), "resnet50_clip:img_size=64"),
    Entry(_open_clip_ref("resnet50x4_clip", 64), "resnet50x4_clip:img_size=64"),
    # every preset at CLIP's size: parameters and names
    *(Entry(f"timm:{name}", name, output=False) for name in CONFIGS),
    *(Entry(f"timm:{name}_gap(num_classes=1000)", f"{name}_gap", output=False)
      for name in CONFIGS if name != "resnet50_clip"),
    *(Entry(_open_clip_ref(name, SIDES[name]), name, output=False) for name in CONFIGS),
]


def _parse(reference: str) -> tuple[str, str, dict[str, Any]]:
    library, _, call = reference.partition(":")
    node = ast.parse(call, mode="eval").body
    if isinstance(node, ast.Name):
        return library, node.id, {}
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return library, node.func.id, {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}


def _open_clip(kwargs: dict[str, Any]) -> torch.nn.Module:
    from open_clip.modified_resnet import ModifiedResNet

    return ModifiedResNet(**kwargs)


def _openai_names(name: str, kwargs: dict[str, Any], timm_model: torch.nn.Module) -> dict[str, Any]:
    """{OpenAI name: (shape, dtype)} of the model timm builds as ``name``: open_clip's, at the
    same input size; a gap model has no attnpool and has timm's head.fc as fc."""
    base = name.removesuffix("_gap")
    side = kwargs.get("img_size", SIDES[base])
    with torch.device("meta"):
        source = _open_clip({**CONFIGS[base], "image_size": side})
    shapes = {k: (tuple(t.shape), t.dtype) for k, t in source.state_dict().items()}
    if name.endswith("_gap"):
        shapes = {k: v for k, v in shapes.items() if not k.startswith("attnpool.")}
        head = timm_model.state_dict()
        shapes.update({f"fc.{leaf}": (tuple(head[f"head.fc.{leaf}"].shape), torch.float32)
                       for leaf in ("weight", "bias")})  # fmt: skip
    return shapes


def to_timm(ours: dict[str, torch.Tensor], model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """OpenAI-named tensors to timm's names by timm's own map (and the gap head's fc)."""
    from timm.models.byobnet import _convert_openai_clip

    trunk = {f"visual.{k}": v for k, v in ours.items() if not k.startswith("fc.")}
    converted = _convert_openai_clip(trunk, model)
    converted.update({f"head.{k}": v for k, v in ours.items() if k.startswith("fc.")})
    return converted


def _record_timm(entry: Entry, name: str, kwargs: dict[str, Any]) -> tuple[Any, ...]:
    import timm

    with torch.device("cpu" if entry.output else "meta"):
        model = timm.create_model(name, pretrained=False, **kwargs)
    shapes = _openai_names(name, kwargs, model)
    converted = to_timm({k: torch.empty(s, dtype=d, device="meta") for k, (s, d) in shapes.items()}, model)
    theirs = {k: (tuple(t.shape), t.dtype) for k, t in model.state_dict().items()}
    mapped = {k: (tuple(t.shape), t.dtype) for k, t in converted.items()}
    assert mapped == theirs, f"timm's map does not cover {name}: {set(mapped) ^ set(theirs)}"
    output = None
    if entry.output:
        model.load_state_dict(to_timm(deterministic_state_dict(shapes), model), strict=True)
        with torch.no_grad():
            output = encode_float32(model.eval()(deterministic_input(entry.input_shape)))
    layout = {k: describe(torch.empty(s, dtype=d, device="meta")) for k, (s, d) in shapes.items()}
    return model, layout, output


def record(entry: Entry) -> dict[str, Any]:
    library, name, kwargs = _parse(entry.reference)
    if library == "timm":
        model, layout, output = _record_timm(entry, name, kwargs)
    else:
        assert library == "open_clip" and name == "ModifiedResNet", entry.reference
        with torch.device("cpu" if entry.output else "meta"):
            model = _open_clip(kwargs)
        layout = {k: describe(t) for k, t in model.state_dict().items()}
        output = None
        if entry.output:
            load_deterministic(model)
            with torch.no_grad():
                output = encode_float32(model(deterministic_input(entry.input_shape)))
    return {
        "reference": entry.reference,
        "spec": entry.spec,
        "input_shape": list(entry.input_shape),
        "params": sum(p.numel() for p in model.parameters()),
        "state_dict": layout,
        "output": output,
    }


def versions() -> dict[str, str]:
    import open_clip

    return {"open_clip": open_clip.__version__}

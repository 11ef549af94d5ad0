"""Hugging Face transformers' ResNet (``ResNetForImageClassification``, ``ResNetModel``,
``ResNetBackbone``): ``resnet.embedder.embedder.{convolution,normalization}``, then
``resnet.encoder.stages.{s}.layers.{b}.layer.{k}.{convolution,normalization}`` and
``...shortcut.*`` per block, and ``classifier.1`` (``classifier.0`` is a Flatten). Names read
from transformers' ``modeling_resnet.py`` and checked against the state dicts it builds
(tests/reference/foreign/). ``ResNetModel`` and ``ResNetBackbone`` (transformers 5.25: the same
keys, checked) have no ``resnet.`` prefix and no classifier: a headless net (num_classes=0);
a ResNetBackbone inside a larger model (a detector) sits under that model's prefix, whose
other keys are listed as unused.

What the weights cannot show: where a bottleneck strides. transformers' config says it
(``downsample_in_bottleneck``: true puts the stride on the first 1x1); its default, and every
``microsoft/resnet-*`` model, strides the 3x3. A ``config.json`` beside the file is read as
data (size-limited JSON, never trusted): its fields are checked against the weights, and
``downsample_in_bottleneck`` becomes the spec's ``stride_in``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import Layout, LayoutError, Mapped, Shape, Sidecar, require_only, unmapped

if TYPE_CHECKING:
    from ...spec import ResNetSpec

NAME = "a Hugging Face transformers ResNet"
_BLOCK = re.compile(r"^encoder\.stages\.([0-9]{1,4})\.layers\.([0-9]{1,5})\.(.+)$")
_PART = re.compile(r"^layer\.([0-9])\.(convolution|normalization)\.(.+)$")
_OURS_BLOCK = re.compile(r"^layer([0-9]{1,4})\.([0-9]{1,5})\.(.+)$")
_OURS_PART = re.compile(r"^(conv|bn)([0-9])\.(.+)$")
_SHORTCUT = {"shortcut.convolution.": "downsample.0.", "shortcut.normalization.": "downsample.1."}
_STEM = {"embedder.embedder.convolution.": "conv1.", "embedder.embedder.normalization.": "bn1."}
_HEAD = "classifier.1."
MAX_CONFIG_BYTES = 1_000_000  # a ResNet's config.json is ~2 kB (with 1000 labels, ~70 kB)


_SIGNATURE = "embedder.embedder.convolution.weight"
_MAX_SHOWN = 60  # characters of a nesting prefix shown in the ecosystem line


def _prefix(keys: Collection[str]) -> str | None:
    """What comes before the ResNet's own names: ``resnet.`` (ResNetForImageClassification),
    nothing (ResNetModel, ResNetBackbone), or the place of a ResNetBackbone inside a larger
    model (a detector's); None without the signature. Two ResNets in one file: refused."""
    found = sorted({k[: -len(_SIGNATURE)] for k in keys
                    if k.endswith(_SIGNATURE) and (k == _SIGNATURE or k[-len(_SIGNATURE) - 1] == ".")})  # fmt: skip
    if len(found) > 1:
        shown = ", ".join(repr(p[:_MAX_SHOWN]) for p in found[:3])
        raise LayoutError(f"{NAME}: the file holds {len(found)} ResNets (under {shown}); "
                          "cannot tell which one to read")  # fmt: skip
    return found[0] if found else None


def matches(keys: Collection[str]) -> bool:
    return _prefix(keys) is not None


def describe(keys: Collection[str]) -> str:
    prefix = _prefix(keys) or ""
    if prefix == "resnet.":
        if "classifier.1.weight" in keys:
            return "a Hugging Face transformers ResNetForImageClassification checkpoint"
        return "a Hugging Face transformers ResNetForImageClassification checkpoint without its classifier"
    if not prefix:
        return ("a Hugging Face transformers ResNetModel or ResNetBackbone checkpoint (no classifier; "
                "the two have the same keys)")  # fmt: skip
    others = sum(not k.startswith(prefix) for k in keys)
    return (f"a Hugging Face transformers ResNetBackbone inside a larger model (under "
            f"{prefix[:_MAX_SHOWN]!r}); its {others:,} other keys are not part of the ResNet and "
            "were left out")  # fmt: skip


def _our_name(key: str, shown: str) -> str:
    for theirs, ours in _STEM.items():
        if key.startswith(theirs):
            return ours + key[len(theirs) :]
    if key.startswith(_HEAD):
        return "fc." + key[len(_HEAD) :]
    block = _BLOCK.match(key)
    if block is None:
        raise unmapped(NAME, shown)
    stage, index, rest = int(block[1]), int(block[2]), block[3]
    where = f"layer{stage + 1}.{index}."
    for theirs, ours in _SHORTCUT.items():
        if rest.startswith(theirs):
            return where + ours + rest[len(theirs) :]
    part = _PART.match(rest)
    if part is None:
        raise unmapped(NAME, shown)
    kind = "conv" if part[2] == "convolution" else "bn"
    return f"{where}{kind}{int(part[1]) + 1}.{part[3]}"


def to_ours(tensors: Mapping[str, Any]) -> Mapped:
    """Every key under the ResNet's prefix renamed (an unknown one refused); a nested
    backbone's other keys (a detector's neck and heads) listed as unused."""
    prefix = _prefix(tensors.keys()) or ""
    nested = prefix not in ("", "resnet.")
    out: dict[str, Any] = {}
    unused: list[str] = []
    for key, tensor in tensors.items():
        if key.startswith(prefix):
            out[_our_name(key[len(prefix) :], key)] = tensor
        elif nested:
            unused.append(key)
        elif key.startswith(_HEAD):
            out[_our_name(key, key)] = tensor
        else:
            raise unmapped(NAME, key)
    return Mapped(out, ASSUMED, {}, tuple(unused))


ASSUMED = (
    "stride_in: a stride has no weights; assumed transformers' default "
    "downsample_in_bottleneck=false (the 3x3 strides, as in every microsoft/resnet-*), "
    "unless a config.json beside the file says otherwise",
    "input: RGB scaled to 0..1 and normalised by ImageNet's mean and std (the models' image "
    "processor), as torchvision's",
)


def from_ours(tensors: Mapping[str, Any], spec: ResNetSpec) -> dict[str, Any]:
    """Our names to transformers' ``ResNetForImageClassification``'s; a headless spec
    (num_classes=0) to ``ResNetModel``'s, which have no ``resnet.`` prefix and no classifier
    (ResNetBackbone's are the same). The config's ``downsample_in_bottleneck`` must follow
    ``spec.stride_in``: a config is the writer's to produce."""
    require_only(spec, ("block", "layers", "widths", "stem_width", "stride_in", "num_classes",
                        "in_chans", "zero_init_residual"), NAME)  # fmt: skip
    prefix = "resnet." if spec.num_classes else ""
    return {_their_name(key, prefix): tensor for key, tensor in tensors.items()}


def _their_name(key: str, prefix: str = "resnet.") -> str:
    for theirs, ours in _STEM.items():
        if key.startswith(ours):
            return prefix + theirs + key[len(ours) :]
    if key.startswith("fc."):
        return _HEAD + key[3:]
    block = _OURS_BLOCK.match(key)
    if block is None:
        raise unmapped("our", key, "no Hugging Face name for it")
    where = f"{prefix}encoder.stages.{int(block[1]) - 1}.layers.{block[2]}."
    rest = block[3]
    for theirs, ours in _SHORTCUT.items():
        if rest.startswith(ours):
            return where + theirs + rest[len(ours) :]
    part = _OURS_PART.match(rest)
    if part is None:
        raise unmapped("our", key, "no Hugging Face name for it")
    kind = "convolution" if part[1] == "conv" else "normalization"
    return f"{where}layer.{int(part[2]) - 1}.{kind}.{part[3]}"


# --- config.json -----------------------------------------------------------------------------
def read_config(checkpoint: Path, shapes: Mapping[str, Shape]) -> Sidecar:
    """The ``config.json`` beside ``checkpoint``, read as data and checked against the mapped
    weights' ``shapes``; none there: nothing said. An unreadable one is a note, not an error:
    the weights are what is identified."""
    path = checkpoint.parent / "config.json"
    if not path.is_file():
        return Sidecar()
    shown = repr(str(path))
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            return Sidecar(notes=(f"config.json {shown} not read: {size:,} bytes, more than the "
                                  f"{MAX_CONFIG_BYTES:,} a ResNet's config takes",), read_from=str(path))  # fmt: skip
        with path.open("rb") as f:
            config = json.loads(f.read(MAX_CONFIG_BYTES + 1))
    except (OSError, ValueError, RecursionError) as exc:
        why = type(exc).__name__ if not isinstance(exc, ValueError) else "not valid JSON"
        return Sidecar(notes=(f"config.json {shown} not read: {why}",), read_from=str(path))
    if not isinstance(config, dict):
        return Sidecar(
            notes=(f"config.json {shown} not read: not a JSON object",), read_from=str(path)
        )
    hints, notes = _check_config(config, shapes)
    return Sidecar(hints, tuple(f"config.json {shown}: {n}" for n in notes), str(path))


def _check_config(
    config: Mapping[str, Any], shapes: Mapping[str, Shape]
) -> tuple[dict[str, Any], list[str]]:
    """The spec fields the config decides, and one line per contradiction with the weights.
    Unknown fields are ignored; values of the wrong type are contradictions."""
    found = _facts(shapes)
    notes: list[str] = []
    for field, seen in found.items():
        if field in config and config[field] != seen:
            notes.append(f"{field}={_short(config[field])} contradicts the weights, which show "
                         f"{_short(seen)}; the weights are trusted")  # fmt: skip
    notes += _labels(config, shapes)
    hints: dict[str, Any] = {}
    in_bottleneck = config.get("downsample_in_bottleneck", False)
    if in_bottleneck is True and found.get("layer_type") == "bottleneck":
        hints["stride_in"] = "1x1"
    elif in_bottleneck not in (True, False):
        notes.append(
            f"downsample_in_bottleneck={_short(in_bottleneck)} is not true or false; ignored"
        )
    if config.get("downsample_in_first_stage") is True:
        notes.append("downsample_in_first_stage=true: the first stage strides by 2, which no "
                     "variant here builds; the identified variant computes at twice that size")  # fmt: skip
    return hints, notes


def _facts(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    """What the weights show of the config's fields, in the config's terms."""
    blocks: dict[int, set[int]] = {}
    for key in shapes:
        if (m := _OURS_BLOCK.match(key)) is not None:
            blocks.setdefault(int(m[1]), set()).add(int(m[2]))
    stages = sorted(blocks)
    bottleneck = any(k.endswith(".conv3.weight") for k in shapes)
    last = "conv3" if bottleneck else "conv2"
    facts: dict[str, Any] = {
        "layer_type": "bottleneck" if bottleneck else "basic",
        "depths": [len(blocks[s]) for s in stages],
        "hidden_sizes": [shapes[f"layer{s}.0.{last}.weight"][0] for s in stages
                         if f"layer{s}.0.{last}.weight" in shapes],
    }  # fmt: skip
    if len(shapes.get("conv1.weight", ())) == 4:
        facts["embedding_size"], facts["num_channels"] = shapes["conv1.weight"][:2]
    return facts


def _labels(config: Mapping[str, Any], shapes: Mapping[str, Shape]) -> list[str]:
    """id2label's count against the classifier's rows (transformers derives num_labels from it)."""
    labels, fc = config.get("id2label"), shapes.get("fc.weight")
    if isinstance(labels, dict) and fc and len(labels) != fc[0]:
        return [f"id2label has {len(labels):,} labels, but the classifier has {fc[0]:,} outputs; "
                "the weights are trusted"]  # fmt: skip
    return []


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


LAYOUT = Layout(
    name="hf",
    ecosystem="a Hugging Face transformers ResNetForImageClassification checkpoint",
    matches=matches,
    to_ours=to_ours,
    from_ours=from_ours,
    sidecar=read_config,
    describe=describe,
)

__all__ = ["LAYOUT", "LayoutError", "from_ours", "matches", "read_config", "to_ours"]

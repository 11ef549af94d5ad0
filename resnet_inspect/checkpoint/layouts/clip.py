"""OpenAI CLIP's and open_clip's ModifiedResNet image tower (RN50, RN101, RN50x4, x16, x64):
``visual.conv1..3``/``bn1..3`` (a three-conv stem), ``visual.layer{s}.{b}.*`` with the
shortcut's conv and norm as ``downsample.0/1`` (its AvgPool is ``downsample.-1``, no
weights), and ``visual.attnpool.{positional_embedding, q_proj, k_proj, v_proj, c_proj}``.
Names read from open_clip 3.3's ``modified_resnet.py`` (the same as OpenAI's ``model.py``) and
checked against the state dicts it builds (tests/reference/foreign/).

Our CLIP presets (timm's ``resnet50_clip`` and friends) use exactly these names without the
``visual.`` prefix, so the mapping is the prefix. A full CLIP model also holds the text tower
(``transformer.*``, ``token_embedding``, ``ln_final``, ``text_projection``, ``logit_scale``):
listed as unused, never read. OpenAI's own ``RN50.pt`` downloads are TorchScript archives,
which are code; they are not read (open_clip's state-dict files are).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from ...spec import spec_string
from .base import Layout, LayoutError, Mapped, unmapped

if TYPE_CHECKING:
    from ...spec import ResNetSpec

PREFIX = "visual."
NAME = "a CLIP ModifiedResNet"
# the image tower's own modules; anything else under visual. belongs to another architecture
_TOWER = ("conv1.", "conv2.", "conv3.", "bn1.", "bn2.", "bn3.", "layer", "attnpool.")


def matches(keys: Collection[str]) -> bool:
    return "visual.layer1.0.conv1.weight" in keys and "visual.attnpool.positional_embedding" in keys


def describe(keys: Collection[str]) -> str:
    if any(not k.startswith(PREFIX) for k in keys):
        return (
            "an OpenAI CLIP / open_clip ModifiedResNet image tower (visual.*, of a full CLIP model)"
        )
    return "an OpenAI CLIP / open_clip ModifiedResNet image tower (visual.*)"


def to_ours(tensors: Mapping[str, Any]) -> Mapped:
    out: dict[str, Any] = {}
    unused: list[str] = []
    for key, tensor in tensors.items():
        if not key.startswith(PREFIX):
            unused.append(key)  # the text tower and the shared scalars
            continue
        name = key[len(PREFIX) :]
        if not name.startswith(_TOWER):
            raise unmapped(NAME, key)
        out[name] = tensor
    return Mapped(out, ASSUMED, {}, tuple(unused))


ASSUMED = (
    "input: RGB scaled to 0..1, normalised by CLIP's mean (0.4815, 0.4578, 0.4082) and std "
    "(0.2686, 0.2613, 0.2758), not ImageNet's",
    "output: the attention pool's image embedding (CLIP's joint space), not class logits",
)


def from_ours(tensors: Mapping[str, Any], spec: ResNetSpec) -> dict[str, Any]:
    """Our CLIP preset's names to the image tower's (``visual.``): only a CLIP spec maps."""
    if "attnpool.positional_embedding" not in tensors:
        raise LayoutError(f"{NAME} image tower ends in an attention pool; {spec_string(spec)} "
                          "has none: only a CLIP variant (resnet50_clip, ...) is written in it")  # fmt: skip
    return {PREFIX + key: tensor for key, tensor in tensors.items()}


LAYOUT = Layout(
    name="clip",
    ecosystem="an OpenAI CLIP / open_clip ModifiedResNet image tower (visual.*)",
    matches=matches,
    to_ours=to_ours,
    from_ours=from_ours,
    describe=describe,
)

"""Reading timm's resnetv2 layout (stem.*, stages.N.blocks.M.*, norm, head.fc): pre-activation
ResNets and BiT. Part of identify (see weights.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import SpecError
from ..spec import (
    BLOCK_TYPES,
    FIELD_NAMES,
    MAX_BLOCKS,
    Block,
    Conv,
    Layout,
    Norm,
    ResNetSpec,
    Stem,
    StemPool,
)  # fmt: skip
from ..units import shape_text
from .evidence import Identified, IdentifyError, Shape, _Reader

UNSEEN_V2 = (
    "conv: weight standardisation has no weights; assumed std (BiT's) with GroupNorm and the "
    "7x7 stem, as every BiT model, plain otherwise",
    "stem_pool: a pool has no weights; assumed fixed (BiT's zero padding) with conv=std, "
    "max otherwise",
    "avg_down: the average pool before a projection has no weights; assumed with a deep or "
    "tiered stem (timm's resnetv2 d and t models), none with the 7x7 stem",
    "replace_stride_with_dilation: dilation has no weights; assumed none",
    "zero_init_residual: an initialisation, not a shape; assumed false",
    "drop_path: stochastic depth has no weights; assumed 0",
)
_V2_BLOCK_KEY = re.compile(r"^stages\.([0-9]{1,6})\.blocks\.([0-9]{1,6})\.")


def _is_resnetv2(shapes: Mapping[str, Shape]) -> bool:
    has_stem = "stem.conv.weight" in shapes or "stem.conv1.weight" in shapes
    return has_stem and any(_V2_BLOCK_KEY.match(k) for k in shapes)


def _identify_resnetv2(shapes: Mapping[str, Shape]) -> Identified:
    """timm's pre-activation ResNet v2 and BiT: the same reading as the torchvision layout's,
    by timm's names. A pool and weight standardisation have no weights: they are assumed as
    timm's models pair them with what the weights do show (see UNSEEN_V2)."""
    r = _Reader(shapes)
    stem, stem_width, in_chans = _v2_stem(r)
    norm = _v2_norm(r)
    layers = _v2_layers(r)
    block = Block.BOTTLENECK if "stages.0.blocks.0.conv3.weight" in shapes else Block.BASIC
    r.note("block", block, "stages.0.blocks.0.conv3.weight " + (
        "present" if block is Block.BOTTLENECK else "absent: two 3x3 convs per block"))
    conv_name, expansion = BLOCK_TYPES[block].keys.width_conv, BLOCK_TYPES[block].expansion
    widths = []
    for s in range(len(layers)):
        out = r.shape(f"stages.{s}.blocks.0.{conv_name}.weight", 4)[0]
        if out % expansion:
            raise IdentifyError(f"cannot identify: stages.{s} outputs {out} channels, not "
                                f"{expansion} x a width")  # fmt: skip
        widths.append(out // expansion)
    r.note("widths", tuple(widths), f"stages.N.blocks.0.{conv_name} output channels"
                                    + (f" / {expansion}" if expansion > 1 else ""))  # fmt: skip
    bit = norm is Norm.GROUP and stem is Stem.CLASSIC
    classes = _v2_classifier(r)
    r.note("layout", Layout.RESNETV2, "stem.*, stages.N.blocks.M.*, norm" + (", head.fc" if classes else "") + " keys")
    r.note("preact", True, "no norm after the stem's last conv; a final norm before the head")
    assumptions = list(UNSEEN_V2)
    if norm in (Norm.GROUP, Norm.EVONORM):
        assumptions.append(f"{norm.value} groups: not in the weights; assumed 32")
    try:
        spec = ResNetSpec(
            block=block, layers=layers, widths=tuple(widths), stem=stem, stem_width=stem_width,
            avg_down=stem is not Stem.CLASSIC, norm=norm, num_classes=classes, in_chans=in_chans,
            layout=Layout.RESNETV2, preact=True, conv=Conv.STD if bit else Conv.PLAIN,
            stem_pool=StemPool.FIXED if bit else StemPool.MAX,
        )  # fmt: skip
    except SpecError as exc:
        raise IdentifyError(f"cannot identify: the shapes describe an impossible variant ({exc})") from None
    evidence = sorted(r.evidence, key=lambda e: FIELD_NAMES.index(e.field))
    return Identified(spec, tuple(evidence), tuple(assumptions))


def _v2_classifier(r: _Reader) -> int:
    """head.fc's outputs; no head.fc keys: 0, timm's num_classes=0 (its head.fc an Identity)."""
    if "head.fc.weight" not in r.shapes and "head.fc.bias" not in r.shapes:
        r.note("num_classes", 0, "no head.fc keys: a headless net (num_classes=0), its output the "
                                 "pooled features, as timm's num_classes=0")  # fmt: skip
        return 0
    w = r.shape("head.fc.weight", 4)
    r.note("num_classes", w[0], f"head.fc.weight {shape_text(w)}: a 1x1 conv classifier")
    return w[0]


def _v2_stem(r: _Reader) -> tuple[Stem, int, int]:
    if "stem.conv1.weight" in r.shapes:
        a, b, c = (r.shape(f"stem.conv{i}.weight", 4) for i in (1, 2, 3))
        if b[0] == a[0] and c[0] == 2 * a[0]:
            stem = Stem.DEEP
        elif a[0] == 3 * (b[0] // 4) and c[0] == 2 * b[0]:
            stem = Stem.TIERED
        else:
            raise IdentifyError(f"cannot identify: deep stem of {a[0]}, {b[0]}, {c[0]} channels; "
                                "this tool's deep stems are w, w, 2w and 3*(w//4), w, 2w (tiered)")  # fmt: skip
        r.note("stem", stem, f"stem.conv1/2/3: three 3x3 convs of {a[0]}, {b[0]}, {c[0]} channels")
        r.note("stem_width", b[0], f"stem.conv2.weight {shape_text(b)}")
        r.note("in_chans", a[1], f"stem.conv1.weight {shape_text(a)}")
        return stem, b[0], a[1]
    w = r.shape("stem.conv.weight", 4)
    if w[-1] != 7:
        raise IdentifyError(f"cannot identify: stem.conv.weight is {shape_text(w)}; expected a 7x7 conv")
    r.note("stem", Stem.CLASSIC, f"stem.conv.weight {shape_text(w)}: one 7x7 conv")
    r.note("stem_width", w[0], f"stem.conv.weight {shape_text(w)}")
    r.note("in_chans", w[1], f"stem.conv.weight {shape_text(w)}")
    return Stem.CLASSIC, w[0], w[1]


def _v2_norm(r: _Reader) -> Norm:
    key = "stages.0.blocks.0.norm1"
    for suffix, norm, why in ((".running_mean", Norm.BATCH, "running statistics: batch norm"),
                              (".v", Norm.EVONORM, "EvoNorm-S0's v"),
                              (".tau", Norm.FRN, "FRN's TLU threshold tau"),
                              (".weight", Norm.GROUP, "a scale without running statistics: GroupNorm")):  # fmt: skip
        if key + suffix in r.shapes:
            r.note("norm", norm, f"{key}{suffix} present: {why}")
            return norm
    raise IdentifyError(f"cannot identify: no {key}.weight; a resnetv2 block normalises first")


def _v2_layers(r: _Reader) -> tuple[int, ...]:
    blocks: dict[int, set[int]] = {}
    for key in r.shapes:
        m = _V2_BLOCK_KEY.match(key)
        if m:
            blocks.setdefault(int(m[1]), set()).add(int(m[2]))
    if sorted(blocks) != list(range(len(blocks))):
        raise IdentifyError("cannot identify: stages are not numbered 0, 1, 2, ... in order")
    layers = []
    for s in sorted(blocks):
        if sorted(blocks[s]) != list(range(len(blocks[s]))):
            raise IdentifyError(f"cannot identify: stages.{s} has {len(blocks[s])} blocks with a gap")
        layers.append(len(blocks[s]))
    if sum(layers) > MAX_BLOCKS:
        raise IdentifyError(f"cannot identify: {sum(layers):,} blocks, more than the {MAX_BLOCKS:,} "
                            "this tool builds")  # fmt: skip
    r.note("layers", tuple(layers), "count of stages.N.blocks.M blocks")
    return tuple(layers)

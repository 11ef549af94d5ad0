"""Which ResNet variant a state_dict holds, from its key names and tensor shapes alone.

Pure Python, no torch: the input is ``{key: shape}``, so the same code identifies a real
checkpoint, a memory-mapped one and the meta-device state_dict of a spec (which is how the
tests prove every preset identifies back to itself). Each decided field keeps the key and
shape that decided it, so ``identify`` can show its evidence.

What weights cannot show, and what is assumed instead:

- ``stride_in``: a stride has no weights; a v1 and a v1.5 bottleneck have identical shapes (3x3).
- ``replace_stride_with_dilation``: likewise (none).
- ``zero_init_residual``: an initialisation, not a shape (false).
- the max-pool has no weights: a single 3x3 stem conv is taken as the CIFAR stem (no max-pool).
- GroupNorm's number of groups is not in its weights (the builder's 32).
- ``aa``: anti-aliasing filters have no weights; a resnetaa50d or resnetblur50 checkpoint
  loads strictly into resnet50d or resnet50, which compute a different function (none).
- ``drop_path``: stochastic depth acts in training only and has no weights (0).
- ``avd``, ``avd_first``: ResNeSt's average-pool downsampling has no weights (true, as in
  every timm ResNeSt), nor has its place (after the 3x3): resnest50d_4s2x40d and
  resnest50d_1s4x24d, which pool before it, identify with avd_first=false and are named as
  twins.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InspectError, SpecError
from ..spec import (
    BLOCK_TYPES,
    FIELD_NAMES,
    MAX_BLOCKS,
    PRESETS,
    Attn,
    Block,
    Norm,
    ResNetSpec,
    Shortcut,
    Stem,
    StemPool,
    format_value,
    preset_name,
    spec_string,
)  # fmt: skip
from ..units import shape_text

Shape = tuple[int, ...]

UNSEEN = (
    "stride_in: a stride has no weights; assumed 3x3 (torchvision's v1.5)",
    "replace_stride_with_dilation: dilation has no weights; assumed none",
    "zero_init_residual: an initialisation, not a shape; assumed false",
    "aa: anti-aliasing (avg or blur) has no weights; assumed none, so an anti-aliased "
    "checkpoint (resnetaa50d, resnetblur50, ...) identifies as its plain twin",
    "drop_path: stochastic depth has no weights; assumed 0",
)
UNSEEN_SPLIT_ATTENTION = (
    "avd: ResNeSt's average-pool downsampling has no weights; assumed true (every timm ResNeSt)",
    "avd_first: where the avd pool sits has no weights; assumed after the 3x3, so a checkpoint "
    "that pools before it (resnest50d_4s2x40d, resnest50d_1s4x24d) identifies as its twin "
    "with avd_first=false",
)
# ASCII digits only (``\d`` would take other scripts' digits, which int() reads too), and few
# of them: a stage or block index no ResNet reaches is an extra key, not a number to parse
_BLOCK_KEY = re.compile(r"^layer([0-9]{1,6})\.([0-9]{1,6})\.")
_PROJECTION_KEY = re.compile(r"^layer([0-9]{1,6})\.([0-9]{1,6})\.downsample\.")


class IdentifyError(InspectError):
    """The tensors are readable but do not describe a variant this tool can build (exit 1)."""


@dataclass(frozen=True)
class Evidence:
    field: str  # a ResNetSpec field name
    value: str  # as written in a spec string
    because: str  # the key(s) and shape(s) that decided it


@dataclass(frozen=True)
class Identified:
    spec: ResNetSpec
    evidence: tuple[Evidence, ...]
    assumptions: tuple[str, ...]  # what the weights cannot show, and what was assumed

    @property
    def preset(self) -> str | None:
        return preset_name(self.spec)

    @property
    def spec_string(self) -> str:
        return spec_string(self.spec)

    @property
    def twins(self) -> tuple[str, ...]:
        """Other presets these weights load into strictly, differing only in what weights
        cannot show (anti-aliasing, drop path): resnetaa50d and resnetblur50d for resnet50d."""
        plain = _without_unseen(self.spec)
        return tuple(name for name, p in PRESETS.items() if p != self.spec and _without_unseen(p) == plain)


def _without_unseen(spec: ResNetSpec) -> ResNetSpec:
    """``spec`` with what weights cannot show set as identify assumes it."""
    unseen: dict[str, object] = {"aa": "none", "drop_path": 0.0}
    if spec.block is Block.RESNEST:
        unseen.update(avd=True, avd_first=False)
    return spec.replace(**unseen)


class _Reader:
    """Looks keys up, and records which ones decided what."""

    def __init__(self, shapes: Mapping[str, Shape]) -> None:
        self.shapes = shapes
        self.evidence: list[Evidence] = []

    def shape(self, key: str, rank: int | None = None) -> Shape:
        """The shape of ``key``, which must have ``rank`` dimensions (any, where None), none of
        them empty: a file may hold anything under a ResNet's key names (a vector where a conv
        belongs)."""
        if key not in self.shapes:
            raise IdentifyError(f"cannot identify: no {key!r} in the checkpoint")
        shape = tuple(self.shapes[key])
        if (rank is not None and len(shape) != rank) or not shape or not all(d >= 1 for d in shape):
            what = {1: "a vector", 2: "a matrix", 3: "a 1-D conv weight", 4: "a conv weight"}.get(
                rank or 0, "a tensor")
            dims = (f"{rank} dimensions, " if rank else "") + "none of them 0"
            raise IdentifyError(f"cannot identify: {key} is {shape_text(shape)}; expected {what} "
                                f"({dims})")  # fmt: skip
        return shape

    def note(self, field: str, value: object, because: str) -> None:
        self.evidence.append(Evidence(field, format_value(value), because))


def identify_shapes(shapes: Mapping[str, Shape]) -> Identified:
    """The variant whose state_dict has exactly these names and shapes (see the module doc)."""
    _require_resnet(shapes)
    r = _Reader(shapes)
    stem, stem_width, in_chans = _stem(r)
    norm = _norm(r, stem)
    layers = _layers(r)
    block = _block(r)
    widths = _widths(r, block, len(layers))
    reduce_first = _reduce_first(r, block)
    groups, width_per_group = _grouping(r, block, widths, reduce_first)
    radix = _radix(r, block, len(layers))
    scale = _scale(r, block, len(layers))
    avg_down = _avg_down(r)
    stem_pool = _stem_pool(r, stem)
    attn, se_reduction = _attn(r, layers)
    down_kernel = _down_kernel(r)
    expansion = BLOCK_TYPES[block].expansion
    stem_out = 2 * stem_width if stem in (Stem.DEEP, Stem.TIERED) else stem_width
    shortcut, dilation = _shortcut(r, layers, stem_out, [w * expansion for w in widths])
    num_classes = _classifier(r)
    assumptions = [a for a in UNSEEN if not (dilation and a.startswith("replace_stride"))]
    if block is Block.RES2NET:  # its split 3x3s take the stride, and it has no anti-aliasing
        assumptions = [a for a in assumptions if not a.startswith(("stride_in", "aa"))]
    if stem is Stem.CIFAR:
        assumptions.append("max-pool: no weights; a single 3x3 stem conv is taken as the "
                           "CIFAR stem, which has none")  # fmt: skip
    if norm is Norm.GROUP:
        assumptions.append("GroupNorm groups: not in the weights; assumed 32")
    if block is Block.RESNEST:  # its avd pool, not its 3x3 or a filter, takes the stride
        assumptions = [a for a in assumptions if not a.startswith(("stride_in", "aa"))]
        assumptions += UNSEEN_SPLIT_ATTENTION
    try:
        spec = ResNetSpec(
            block=block, layers=layers, widths=widths, groups=groups,
            width_per_group=width_per_group, stem=stem, stem_width=stem_width, avg_down=avg_down,
            shortcut=shortcut, replace_stride_with_dilation=dilation, norm=norm, num_classes=num_classes, in_chans=in_chans,
            attn=attn, se_reduction=se_reduction, stem_pool=stem_pool, reduce_first=reduce_first,
            down_kernel=down_kernel, radix=radix, avd=block is Block.RESNEST, scale=scale,
        )  # fmt: skip
    except SpecError as exc:
        raise IdentifyError(f"cannot identify: the shapes describe an impossible variant ({exc})") from None
    if block is Block.RESNEST:
        _check_attention_width(r, spec)
    evidence = sorted(r.evidence, key=lambda e: FIELD_NAMES.index(e.field))
    return Identified(spec, tuple(evidence), tuple(assumptions))


def _require_resnet(shapes: Mapping[str, Shape]) -> None:
    has_stem = "conv1.weight" in shapes or "conv1.0.weight" in shapes
    has_stage = any(_BLOCK_KEY.match(k) for k in shapes)
    if not (has_stem and has_stage):
        sample = ", ".join(repr(k[:80]) for k in list(shapes)[:4])
        raise IdentifyError(
            "cannot identify: not a ResNet state_dict (no conv1 and layer1.0 keys); "
            f"its first keys are {sample}"
        )


def _stem(r: _Reader) -> tuple[Stem, int, int]:
    if "conv1.0.weight" in r.shapes:
        a, b, c = (r.shape(f"conv1.{i}.weight", 4) for i in (0, 3, 6))
        if b[0] == a[0] and c[0] == 2 * a[0]:
            stem = Stem.DEEP
        elif a[0] == 3 * (b[0] // 4) and c[0] == 2 * b[0]:
            stem = Stem.TIERED
        else:
            raise IdentifyError(
                f"cannot identify: deep stem of {a[0]}, {b[0]}, {c[0]} channels; this tool's deep "
                "stems are w, w, 2w and 3*(w//4), w, 2w (tiered)"
            )
        r.note("stem", stem, f"conv1.0/.3/.6: three 3x3 convs of {a[0]}, {b[0]}, {c[0]} channels")
        width_key, width = ("conv1.0", a) if stem is Stem.DEEP else ("conv1.3", b)
        r.note("stem_width", b[0], f"{width_key}.weight {shape_text(width)}")
        r.note("in_chans", a[1], f"conv1.0.weight {shape_text(a)}")
        return stem, b[0], a[1]
    w = r.shape("conv1.weight", 4)
    kernel = w[-1]
    if kernel not in (3, 7):
        raise IdentifyError(f"cannot identify: conv1.weight is {shape_text(w)}; expected a 7x7 or 3x3 conv")
    stem = Stem.CLASSIC if kernel == 7 else Stem.CIFAR
    r.note("stem", stem, f"conv1.weight {shape_text(w)}: one {kernel}x{kernel} conv")
    r.note("stem_width", w[0], f"conv1.weight {shape_text(w)}")
    r.note("in_chans", w[1], f"conv1.weight {shape_text(w)}")
    return stem, w[0], w[1]


def _norm(r: _Reader, stem: Stem) -> Norm:
    conv = "conv1.0" if stem in (Stem.DEEP, Stem.TIERED) else "conv1"
    if "bn1.running_mean" in r.shapes:
        r.note("norm", Norm.BATCH, "bn1.running_mean present")
        return Norm.BATCH
    if "bn1.weight" in r.shapes:
        r.note("norm", Norm.GROUP, "bn1.weight without running statistics")
        return Norm.GROUP
    if f"{conv}.bias" in r.shapes:
        r.note("norm", Norm.NONE, f"no bn1; {conv}.bias present")
        return Norm.NONE
    raise IdentifyError(f"cannot identify: no bn1 and no {conv}.bias; unknown normalisation")


def _layers(r: _Reader) -> tuple[int, ...]:
    blocks: dict[int, set[int]] = {}
    for key in r.shapes:
        m = _BLOCK_KEY.match(key)
        if m:
            blocks.setdefault(int(m[1]), set()).add(int(m[2]))
    stages = sorted(blocks)
    if stages != list(range(1, len(stages) + 1)):
        shown = ", ".join(map(str, stages[:8])) + (", ..." if len(stages) > 8 else "")
        raise IdentifyError(f"cannot identify: stages {shown}; expected layer1, layer2, ... in order")
    layers = []
    for s in stages:
        if sorted(blocks[s]) != list(range(len(blocks[s]))):
            missing = min(set(range(len(blocks[s]))) - blocks[s])
            raise IdentifyError(f"cannot identify: layer{s} has {len(blocks[s])} blocks but no "
                                f"layer{s}.{missing}; a gap")  # fmt: skip
        layers.append(len(blocks[s]))
    if sum(layers) > MAX_BLOCKS:
        raise IdentifyError(f"cannot identify: {sum(layers):,} blocks, more than the {MAX_BLOCKS:,} "
                            "this tool builds")  # fmt: skip
    r.note("layers", tuple(layers), "count of layerN.M blocks")
    return tuple(layers)


def _block(r: _Reader) -> Block:
    if "layer1.0.conv2.conv.weight" in r.shapes:
        r.note("block", Block.RESNEST, "layer1.0.conv2.conv.weight present: split attention (ResNeSt)")
        return Block.RESNEST
    if "layer1.0.convs.0.weight" in r.shapes:
        r.note("block", Block.RES2NET, "layer1.0.convs.0.weight present: a 3x3 conv per split (Res2Net)")
        return Block.RES2NET
    block = Block.BOTTLENECK if "layer1.0.conv3.weight" in r.shapes else Block.BASIC
    r.note("block", block, "layer1.0.conv3.weight " + ("present" if block is Block.BOTTLENECK
                                                      else "absent: two 3x3 convs per block"))  # fmt: skip
    return block


# the conv whose output channels are the block's width times its expansion
_WIDTH_CONV = {Block.BASIC: "conv2", Block.BOTTLENECK: "conv3", Block.RES2NET: "conv3",
               Block.RESNEST: "conv3"}  # fmt: skip
# the grouped conv whose shape gives groups and width_per_group: the 3x3 of a bottleneck, a
# Res2Net split's 3x3, the attention's fc1 of a ResNeSt block (its 3x3 has groups x radix groups)
_GROUPED_CONV = {Block.BOTTLENECK: "conv2", Block.RES2NET: "convs.0", Block.RESNEST: "conv2.fc1"}


def _widths(r: _Reader, block: Block, stages: int) -> tuple[int, ...]:
    widths = []
    conv, expansion = _WIDTH_CONV[block], BLOCK_TYPES[block].expansion
    for s in range(1, stages + 1):
        out = r.shape(f"layer{s}.0.{conv}.weight", 4)[0]
        if out % expansion:
            raise IdentifyError(
                f"cannot identify: layer{s} outputs {out} channels, not {expansion} x a width"
            )
        widths.append(out // expansion)
    per = f" / {expansion}" if expansion > 1 else ""
    r.note("widths", tuple(widths), f"layerN.0.{conv} output channels{per}")
    return tuple(widths)


def _reduce_first(r: _Reader, block: Block) -> int:
    """The first conv's width divided into the next one's (2 in SENet-154's blocks)."""
    if block is Block.RES2NET:
        return 1  # its first conv feeds all the splits (see _scale)
    if block is Block.RESNEST:  # its first conv has the full width (the spec allows no other)
        return 1
    first = r.shape("layer1.0.conv1.weight")
    following = r.shape("layer1.0.conv2.weight")
    ratio = following[0] // first[0] if first[0] and following[0] % first[0] == 0 else 1
    if ratio > 1:
        r.note("reduce_first", ratio, f"layer1.0.conv1.weight {shape_text(first)} into "
                                      f"conv2 of {following[0]} channels")  # fmt: skip
    return max(ratio, 1)


def _grouping(r: _Reader, block: Block, widths: tuple[int, ...], reduce_first: int) -> tuple[int, int]:
    """groups from the grouped conv2 (its input channels / weight.shape[1]); width_per_group
    from inner width = int(planes * width_per_group / 64) * groups, for every stage."""
    if "groups" not in BLOCK_TYPES[block].fields:
        return 1, 64
    lo, hi, groups_seen = 1, math.inf, set()
    grouped = _GROUPED_CONV[block]
    inners = []
    for s, planes in enumerate(widths, start=1):
        grouped_out, per_group_in = r.shape(f"layer{s}.0.{grouped}.weight", 4)[:2]
        # a bottleneck's 3x3 takes the first conv's output; a Res2Net split's, its own width;
        # a ResNeSt block's attention, the block's width (its first conv's output)
        first_out = grouped_out if block is Block.RES2NET else r.shape(f"layer{s}.0.conv1.weight", 4)[0]
        inner = first_out if block is Block.RESNEST else grouped_out
        inners.append(inner)
        groups = first_out // max(per_group_in, 1)
        groups_seen.add(groups)
        per_group = inner // max(groups, 1)
        # int(planes * wpg / 64) == per_group  <=>  64*per_group <= planes*wpg < 64*(per_group+1)
        lo = max(lo, -(-64 * per_group // planes))
        hi = min(hi, -(-64 * (per_group + 1) // planes) - 1)
    if len(groups_seen) != 1 or lo > hi:
        raise IdentifyError("cannot identify: the grouped 3x3 convs do not follow one "
                            "groups x width_per_group")  # fmt: skip
    groups = groups_seen.pop()
    # several values can give the same shapes at tiny widths: prefer the default, else the least
    wpg = 64 if lo <= 64 <= hi else lo
    w = r.shape(f"layer1.0.{grouped}.weight", 4)
    first = w[0] if block is Block.RES2NET else r.shape("layer1.0.conv1.weight", 4)[0]
    r.note("groups", groups, f"layer1.0.{grouped}.weight {shape_text(w)}: {first} channels / {w[1]} per group")
    r.note("width_per_group", wpg, f"{inners[0] // groups} channels per group at width {widths[0]}")
    return groups, int(wpg)


def _scale(r: _Reader, block: Block, stages: int) -> int:
    """Res2Net's splits: the first conv's channels over one split's (its convs.i), in every
    stage; a block has max(1, scale - 1) split convs (the last split has none)."""
    if block is not Block.RES2NET:
        return 4  # the field's default, which other blocks do not read
    scales = set()
    for s in range(1, stages + 1):
        first = r.shape(f"layer{s}.0.conv1.weight", 4)[0]
        split = r.shape(f"layer{s}.0.convs.0.weight", 4)[0]
        scales.add(first // split if first % split == 0 else 0)
    scale = scales.pop() if len(scales) == 1 else 0
    convs = sum(1 for k in r.shapes if re.fullmatch(r"layer1\.0\.convs\.[0-9]{1,6}\.weight", k))
    if scale < 1 or convs != max(1, scale - 1):
        raise IdentifyError("cannot identify: the Res2Net splits do not follow one scale (first "
                            "conv = scale x split width, scale - 1 split convs)")  # fmt: skip
    w1, w2 = r.shape("layer1.0.conv1.weight", 4), r.shape("layer1.0.convs.0.weight", 4)
    r.note("scale", scale, f"layer1.0.conv1.weight {shape_text(w1)} into splits of {w2[0]} "
                           f"channels (layer1.0.convs.0), {convs} split convs")  # fmt: skip
    return scale


def _radix(r: _Reader, block: Block, stages: int) -> int:
    """ResNeSt's branches: the split-attention conv's outputs over the block's width."""
    if block is not Block.RESNEST:
        return 2  # the spec's default, unread by other blocks
    radixes = set()
    for s in range(1, stages + 1):
        width = r.shape(f"layer{s}.0.conv1.weight", 4)[0]
        branches = r.shape(f"layer{s}.0.conv2.conv.weight", 4)[0]
        if branches % width:
            raise IdentifyError(f"cannot identify: layer{s}.0.conv2.conv has {branches} outputs, "
                                f"not a whole number of branches of {width} channels")  # fmt: skip
        radixes.add(branches // width)
    if len(radixes) != 1:
        raise IdentifyError("cannot identify: the split-attention convs do not follow one radix")
    radix = radixes.pop()
    w = r.shape("layer1.0.conv2.conv.weight", 4)
    first = r.shape("layer1.0.conv1.weight", 4)[0]
    r.note("radix", radix, f"layer1.0.conv2.conv.weight {shape_text(w)}: {radix} branches of {first} channels")
    return radix


def _check_attention_width(r: _Reader, spec: ResNetSpec) -> None:
    """The attention's hidden width follows timm's rule (radix x width / 4, in multiples of
    8, at least 32); a checkpoint with another would not load into the spec."""
    for s in range(spec.num_stages):
        conv = r.shape(f"layer{s + 1}.0.conv2.conv.weight", 4)
        if conv[1] * spec.groups * spec.radix != spec.inner_width(s):
            raise IdentifyError(
                f"cannot identify: layer{s + 1}.0.conv2.conv.weight is {shape_text(conv)}; "
                f"groups x radix = {spec.groups * spec.radix} groups of {spec.inner_width(s)} "
                "channels do not give that"
            )
        hidden = r.shape(f"layer{s + 1}.0.conv2.fc1.weight", 4)[0]
        if hidden != spec.attn_channels(s):
            raise IdentifyError(
                f"cannot identify: layer{s + 1}.0.conv2.fc1 has {hidden} outputs; this tool's "
                f"split attention has {spec.attn_channels(s)} there (radix x width / 4, rounded to 8)"
            )


def _stem_pool(r: _Reader, stem: Stem) -> StemPool:
    w = r.shapes.get("maxpool.0.weight")
    if w is not None and len(w) == 4:
        r.note("stem_pool", StemPool.CONV, f"maxpool.0.weight {shape_text(w)}: a conv in place of the pool")
        return StemPool.CONV
    if stem is not Stem.CIFAR:  # which has no pool at all
        r.note("stem_pool", StemPool.MAX, "no maxpool weights: a pool (max, or an anti-aliasing filter)")
    return StemPool.MAX


_SE_REDUCTIONS = (16, 4, 8, 2, 32, 1)  # timm's 1/16, ResNet-RS's 1/4 first


def _attn(r: _Reader, layers: tuple[int, ...]) -> tuple[Attn, int]:
    if "layer1.0.se.conv.weight" in r.shapes:
        w = r.shape("layer1.0.se.conv.weight")
        r.note("attn", Attn.ECA, f"layer1.0.se.conv.weight {shape_text(w)}: a 1-D conv across channels")
        return Attn.ECA, 16
    if "layer1.0.se.fc1.weight" not in r.shapes:
        r.note("attn", Attn.NONE, "no layerN.M.se weights")
        return Attn.NONE, 16
    fc1 = [r.shape(f"layer{s + 1}.{i}.se.fc1.weight") for s, n in enumerate(layers) for i in range(n)]
    w = fc1[0]
    r.note("attn", Attn.SE, f"layer1.0.se.fc1.weight {shape_text(w)}: squeeze-excitation")
    for reduction in _SE_REDUCTIONS:
        if all(f[0] == max(8, int(f[1] / reduction + 4) // 8 * 8) for f in fc1):
            r.note("se_reduction", reduction, f"{w[1]} channels squeezed to {w[0]}")
            return Attn.SE, reduction
    raise IdentifyError(f"cannot identify: the SE gates squeeze {w[1]} channels to {w[0]}, "
                        "which no se_reduction of this tool's rounding gives")  # fmt: skip


def _down_kernel(r: _Reader) -> int:
    for key, shape in r.shapes.items():
        if key.endswith(".downsample.0.weight") and len(shape) == 4 and shape[-1] == 3:
            r.note("down_kernel", 3, f"{key} {shape_text(shape)}")
            return 3
    return 1


def _avg_down(r: _Reader) -> bool:
    pooled = sorted(k for k, v in r.shapes.items()
                    if k.endswith(".downsample.1.weight") and _PROJECTION_KEY.match(k) and len(v) == 4)  # fmt: skip
    because = f"{pooled[0]} is the conv (after a pool)" if pooled else "no pool before the projection convs"
    r.note("avg_down", bool(pooled), because)
    return bool(pooled)


def _shortcut(
    r: _Reader, layers: tuple[int, ...], stem_out: int, outs: list[int]
) -> tuple[Shortcut, tuple[bool, ...] | None]:
    """The option, and the dilation where weights show it: with shortcut B, a later stage
    whose first block keeps its channels and has no projection cannot have stride 2."""
    # one pass over the keys (not one per block: 5,000 blocks x 90,000 keys took minutes)
    with_proj: set[tuple[int, int]] = set()
    for key in r.shapes:
        m = _PROJECTION_KEY.match(key)
        if m and int(m[1]) <= len(layers) and int(m[2]) < layers[int(m[1]) - 1]:
            with_proj.add((int(m[1]) - 1, int(m[2])))
    changing, stride_only = set(), set()
    in_ch = stem_out
    for s, n in enumerate(layers):
        for i in range(n):
            if i == 0 and (s > 0 or in_ch != outs[s]):
                changing.add((s, i))
                if in_ch == outs[s]:
                    stride_only.add((s, i))
            in_ch = outs[s]
    total = sum(layers)
    dilated = changing - with_proj
    if with_proj <= changing and with_proj and dilated <= stride_only:
        if dilated:
            stages = sorted(s + 1 for s, _ in dilated)
            r.note("replace_stride_with_dilation", ",".join(
                str(int((s, 0) in dilated)) for s in range(1, len(layers))),
                f"no projection in layer{stages[0]}.0 although its stride would change the shape")
        because = f"projections in the {len(with_proj)} blocks that change shape"
        r.note("shortcut", Shortcut.B, because)
        dilation = tuple((s, 0) in dilated for s in range(1, len(layers)))
        return Shortcut.B, dilation if dilated else None
    if with_proj == changing:
        kind, because = Shortcut.B, f"projections in the {len(changing)} blocks that change shape"
    elif not with_proj:
        kind, because = Shortcut.A, f"no projections; {len(changing)} blocks change shape"
    elif len(with_proj) == total:
        kind, because = Shortcut.C, f"projections in all {total} blocks"
    else:
        raise IdentifyError(f"cannot identify: projections in {len(with_proj)} of {total} blocks, "
                            "which is none of shortcut A, B, C")  # fmt: skip
    r.note("shortcut", kind, because)
    return kind, None


def _classifier(r: _Reader) -> int:
    w = r.shape("fc.weight", 2)
    r.note("num_classes", w[0], f"fc.weight {shape_text(w)}")
    return w[0]

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
  every timm ResNeSt), nor has its place (after the 3x3).

Where these defaults name no preset but the weights fit exactly one preset in everything they
show, what they cannot show is taken from that preset, and said (:func:`_as_published`):
resnest50d_4s2x40d and resnest50d_1s4x24d pool before the 3x3, seresnetaa50d anti-aliases.

Conv biases beside a norm show (``conv1.bias`` with ``bn1``): conv_bias=true, as in Keras's
ResNets, whose eps (1.001e-5) has no weights (1e-5 assumed). CLIP's layout (OpenAI's
ModifiedResNet without ``visual.``: top-level ``conv2``/``conv3``, ``attnpool``) is read by
renaming its stem and shortcuts to timm's deep stem and avg_down; what its weights cannot show
is assumed as every CLIP ResNet has it: the 2x2 average pools of the stem, the blocks (aa=avg)
and the shortcuts (avg_down, its pool ``downsample.-1``), and an output stride of 32 (the
positional embedding's grid gives img_size).

Legacy SENet's layout (timm's senet.py: ``layer0.conv1``, ``se_module``, ``last_linear``) is
read by renaming its keys to torchvision's and back in the evidence. What its weights cannot
show is assumed as legacy SENet builds it: the ceil-mode stem pool, the ReLU ending a basic
block's branch, the stride on the first 1x1 of an ungrouped bottleneck (SE-ResNet; the
grouped SE-ResNeXt and SENet-154 stride the 3x3), and, where both squeeze rules give the same
shapes, channels // reduction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ..spec import (
    BLOCK_TYPES,
    FIELD_NAMES,
    MAX_BLOCKS,
    PRESETS,
    Attn,
    Block,
    Layout,
    Norm,
    ResNetSpec,
    SERounding,
    Shortcut,
    Stem,
    StemPool,
    StrideIn,
    default_widths,
    differing_fields,
    format_value,
    make_divisible,
)  # fmt: skip
from ..units import shape_text
from .block_reading import (
    _SK_SPLIT_ASSUMED,
    _block,
    _block_widths,
    _check_attention_width,
    _grouping,
    _radix,
    _reduce_first,
    _scale,
    _selective_kernel,
    _sk_split_reading,
    _widths,
)  # fmt: skip
from .evidence import Evidence, Identified, IdentifyError, Shape, _Reader, _without_unseen
from .resnetv2_reading import _identify_resnetv2, _is_resnetv2

if TYPE_CHECKING:
    from ..checkpoint.read import Checkpoint

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
LEGACY_UNSEEN = (
    "stem pool: a pool has no weights; assumed legacy SENet's 3x3/2 max-pool in ceil mode",
    "stride_in: a stride has no weights; assumed legacy SENet's: the first 1x1 in an ungrouped "
    "bottleneck (SE-ResNet), the 3x3 in a grouped one (SE-ResNeXt, SENet-154)",
    "branch_relu: a ReLU has no weights; assumed legacy SENet's ReLU ending a basic block's branch",
)
# ASCII digits only (``\d`` would take other scripts' digits, which int() reads too), and few
# of them: a stage or block index no ResNet reaches is an extra key, not a number to parse
_BLOCK_KEY = re.compile(r"^layer([0-9]{1,6})\.([0-9]{1,6})\.")
_PROJECTION_KEY = re.compile(r"^layer([0-9]{1,6})\.([0-9]{1,6})\.downsample\.")


def identify_shapes(shapes: Mapping[str, Shape]) -> Identified:
    """The variant whose state_dict has exactly these names and shapes (see the module doc)."""
    if _is_resnetv2(shapes):
        return _as_published(_identify_resnetv2(shapes))
    if "layer0.conv1.weight" in shapes:
        return _as_published(_identify_legacy(shapes))
    if "conv2.weight" in shapes and "conv3.weight" in shapes:
        return _as_published(_identify_clip(shapes))
    return _as_published(_identify(shapes, Layout.TORCHVISION))


def _as_published(found: Identified) -> Identified:
    """Where the weights fit exactly one preset in everything they can show, and the default
    assumptions name no preset, what they cannot show is assumed as that preset has it: the
    only published ResNeSts with resnest50d_4s2x40d's shapes pool before the 3x3, so its file
    is that preset, not an avd_first=false variant no one trained. The assumption line says so,
    and names what the weights would load into as well."""
    if found.preset is not None:
        return found
    classes = found.spec.num_classes  # a fine-tuned head changes nothing else
    plain = _without_unseen(found.spec)
    fits = [name for name, p in PRESETS.items()
            if _without_unseen(p.replace(num_classes=classes)) == plain]  # fmt: skip
    if len(fits) != 1:
        return found
    changed = differing_fields(found.spec, PRESETS[fits[0]].replace(num_classes=classes))
    if not changed:
        return found
    names = {f for f, _, _ in changed}
    kept = tuple(a for a in found.assumptions if a.split(":", 1)[0] not in names)
    said = tuple(
        f"{f}: has no weights; assumed {format_value(b)}, as the only published model with these "
        f"shapes ({fits[0]}) has it ({f}={format_value(a)} would load as well, and computes "
        "something else)"
        for f, a, b in changed
    )
    spec = found.spec.replace(**{f: b for f, _, b in changed})
    return replace(found, spec=spec, assumptions=(*kept, *said))


def _identify(
    shapes: Mapping[str, Shape], layout: Layout, extra: Mapping[str, Any] | None = None,
    extra_assumptions: tuple[str, ...] = (),
) -> Identified:  # fmt: skip
    """``extra``: fields a layout's reading found outside these shapes (CLIP's head)."""
    _require_resnet(shapes)
    r = _Reader(shapes)
    stem, stem_width, in_chans = _stem(r)
    norm = _norm(r, stem)
    conv_bias = _conv_bias(r, stem, norm)
    layers = _layers(r)
    block = _block(r)
    block_widths = _block_widths(r, block, layers)
    pruned_assumption = []
    stem_out = 2 * stem_width if stem in (Stem.DEEP, Stem.TIERED) else stem_width
    sk = _selective_kernel(r, block, layers, stem_out)
    if block_widths is None:
        widths = _widths(r, block, len(layers))
        reduce_first = _reduce_first(r, block)
        if block is Block.SK_BOTTLENECK:  # read together with its input split, below
            groups, width_per_group = 1, 64
        else:
            groups, width_per_group = _grouping(r, block, widths, reduce_first)
    else:
        widths, reduce_first, groups, width_per_group = default_widths(len(layers)), 1, 1, 64
        pruned_assumption.append(
            f"widths: a pruned net's convs do not show its unpruned widths; assumed "
            f"{format_value(widths)} (they set only ECA's kernel)"
        )
    radix = _radix(r, block, len(layers))
    scale = _scale(r, block, len(layers))
    avg_down = _avg_down(r)
    stem_pool = _stem_pool(r, stem, layout)
    attn, se_reduction, se_rounding = _attn(r, layers, layout)
    down_kernel = _down_kernel(r)
    expansion = BLOCK_TYPES[block].expansion
    outs = [w * expansion for w in widths]
    if block_widths is not None:  # each stage's blocks end at its one width
        convs = BLOCK_TYPES[block].convs
        outs = [block_widths[convs * sum(layers[: s + 1]) - 1] for s in range(len(layers))]
    shortcut, dilation = _shortcut(r, layers, stem_out, outs)
    num_classes = _classifier(r)
    assumptions = [a for a in UNSEEN if not (dilation and a.startswith("replace_stride"))]
    assumptions += pruned_assumption
    if block is Block.RES2NET:  # its split 3x3s take the stride, and it has no anti-aliasing
        assumptions = [a for a in assumptions if not a.startswith(("stride_in", "aa"))]
    legacy = _legacy_fields(block, groups, reduce_first, stem_pool, stem) if layout is Layout.SENET else {}
    if layout is Layout.SENET:
        shown = {"stem pool": "stem_pool" in legacy, "branch_relu": block is Block.BASIC,
                 "stride_in": block is Block.BOTTLENECK}  # fmt: skip
        assumptions = [a for a in assumptions if not (a.startswith("stride_in") and shown["stride_in"])]
        assumptions += [a for a in LEGACY_UNSEEN if shown[a.split(":", 1)[0]]]
    if stem is Stem.CIFAR:
        assumptions.append("max-pool: no weights; a single 3x3 stem conv is taken as the "
                           "CIFAR stem, which has none")  # fmt: skip
    if norm is Norm.GROUP:
        assumptions.append("GroupNorm groups: not in the weights; assumed 32")
    if block is Block.RESNEST:  # its avd pool, not its 3x3 or a filter, takes the stride
        assumptions = [a for a in assumptions if not a.startswith(("stride_in", "aa"))]
        assumptions += UNSEEN_SPLIT_ATTENTION
    if block is Block.SK_BOTTLENECK:
        assumptions.append(_SK_SPLIT_ASSUMED)
    if conv_bias:
        assumptions.append(KERAS_EPS_UNSEEN)
    assumptions += extra_assumptions
    try:
        spec = ResNetSpec(
            block=block, layers=layers, widths=widths, groups=groups,
            width_per_group=width_per_group, stem=stem, stem_width=stem_width, avg_down=avg_down,
            shortcut=shortcut, replace_stride_with_dilation=dilation, norm=norm, num_classes=num_classes, in_chans=in_chans,
            attn=attn, se_reduction=se_reduction, reduce_first=reduce_first, down_kernel=down_kernel,
            radix=radix, avd=block is Block.RESNEST, scale=scale, **sk,
            se_rounding=se_rounding, layout=layout, block_widths=block_widths, conv_bias=conv_bias,
            **{"stem_pool": stem_pool, **legacy, **(extra or {})},
        )  # fmt: skip
        if block is Block.SK_BOTTLENECK:
            spec = _sk_split_reading(r, spec)
    except SpecError as exc:
        raise IdentifyError(f"cannot identify: the shapes describe an impossible variant ({exc})") from None
    if block is Block.RESNEST:
        _check_attention_width(r, spec)
    evidence = sorted(r.evidence, key=lambda e: FIELD_NAMES.index(e.field))
    return Identified(spec, tuple(evidence), tuple(assumptions))


# legacy SENet's names -> torchvision's (the stem's deep or single conv), and back in the evidence
_LEGACY_DEEP = {"layer0.conv1.": "conv1.0.", "layer0.bn1.": "conv1.1.", "layer0.conv2.": "conv1.3.",
                "layer0.bn2.": "conv1.4.", "layer0.conv3.": "conv1.6.", "layer0.bn3.": "bn1."}  # fmt: skip
_LEGACY_SINGLE = {"layer0.conv1.": "conv1.", "layer0.bn1.": "bn1."}
_LEGACY_OTHER = {"pool0.": "maxpool.", "last_linear.": "fc."}


def _identify_legacy(shapes: Mapping[str, Shape]) -> Identified:
    stem = _LEGACY_DEEP if "layer0.conv2.weight" in shapes else _LEGACY_SINGLE
    prefixes = {**stem, **_LEGACY_OTHER}

    def rename(key: str) -> str:
        key = key.replace(".se_module.", ".se.")
        prefix = next((p for p in prefixes if key.startswith(p)), None)
        return key if prefix is None else prefixes[prefix] + key[len(prefix):]

    renamed: dict[str, Shape] = {}
    for key, shape in shapes.items():
        renamed.setdefault(rename(key), shape)  # a key named both ways is an extra key
    found = _identify(renamed, Layout.SENET)
    back = sorted(((v, k) for k, v in prefixes.items()), key=lambda p: -len(p[0]))
    if stem is _LEGACY_DEEP:
        back.insert(0, ("conv1.0/.3/.6", "layer0.conv1/conv2/conv3"))
    pattern = re.compile("|".join(r"(?<![\w.])" + re.escape(old) for old, _ in back) + r"|\.se\b")
    names = dict(back)

    def translate(text: str) -> str:
        return pattern.sub(lambda m: ".se_module" if m[0] == ".se" else names[m[0]], text)

    evidence = tuple(Evidence(e.field, e.value, translate(e.because)) for e in found.evidence)
    return Identified(found.spec, evidence, found.assumptions)


# CLIP's names -> timm's deep stem and avg_down shortcut (its pool, downsample.-1, has no weights)
_CLIP_STEM = {"conv1.": "conv1.0.", "bn1.": "conv1.1.", "conv2.": "conv1.3.", "bn2.": "conv1.4.",
              "conv3.": "conv1.6.", "bn3.": "bn1."}  # fmt: skip
_CLIP_SHORTCUT = re.compile(r"^(layer[0-9]{1,6}\.[0-9]{1,6}\.downsample\.)([01])\.")
# OpenAI's CLIP ResNets by their stem width (width / 2): the input side each was trained at
CLIP_SIDES = {32: 224, 40: 288, 48: 384, 64: 448}
CLIP_UNSEEN = (
    "aa, avg_down: average pools have no weights; assumed CLIP's 2x2 average pools in the stem, "
    "after each strided block's 3x3, and before each projection (downsample.-1)",
    "img_size: the positional embedding gives the grid; assumed an output stride of 32 (no dilation)",
    "heads: the attention pool's head count has no weights (its projections are whole); assumed "
    "64 channels per head, as in every CLIP ResNet",
)


def _identify_clip(shapes: Mapping[str, Shape]) -> Identified:
    """OpenAI CLIP's ModifiedResNet (layout=clip), read as timm's names; the attention pool's
    c_proj read as the classifier, its positional embedding for the grid."""
    renamed: dict[str, Shape] = {}
    extra: dict[str, Any] = {"aa": "avg"}
    for key, shape in shapes.items():
        prefix = next((p for p in _CLIP_STEM if key.startswith(p)), None)
        if prefix is not None:
            key = _CLIP_STEM[prefix] + key[len(prefix):]
        key = _CLIP_SHORTCUT.sub(lambda m: f"{m[1]}{int(m[2]) + 1}.", key)
        if key.startswith("attnpool."):
            if key.startswith("attnpool.c_proj."):
                renamed.setdefault("fc." + key.removeprefix("attnpool.c_proj."), shape)
            continue  # q, k, v: C x C, fixed by the features; a wrong one fails the strict load
        renamed.setdefault(key, shape)
    assumptions: tuple[str, ...] = CLIP_UNSEEN[:1]
    if "attnpool.positional_embedding" in shapes:
        tokens = _Reader(shapes).shape("attnpool.positional_embedding", 2)[0]
        grid = round((tokens - 1) ** 0.5)
        if grid < 1 or grid * grid + 1 != tokens:
            raise IdentifyError(f"cannot identify: attnpool.positional_embedding has {tokens} "
                                "tokens; expected a square grid plus one")  # fmt: skip
        extra.update(head="attn", img_size=32 * grid)
        assumptions = CLIP_UNSEEN
    elif shapes.get("conv1.weight", ())[:1] and shapes["conv1.weight"][0] in CLIP_SIDES:
        side = CLIP_SIDES[shapes["conv1.weight"][0]]
        extra["img_size"] = side
        assumptions += (f"img_size: a global average pool fixes no input size; assumed {side}, "
                        "the size of the CLIP ResNet of this stem width",)  # fmt: skip
    found = _identify(renamed, Layout.CLIP, extra, assumptions)
    found = Identified(found.spec, found.evidence, tuple(a for a in found.assumptions if not a.startswith("aa:")))
    if "attnpool.positional_embedding" in shapes:
        tokens = shapes["attnpool.positional_embedding"][0]
        found = Identified(found.spec, (*found.evidence, Evidence("head", "attn", (
            f"attnpool.positional_embedding of {tokens} tokens: a {grid}x{grid} grid and the mean "
            f"token; img_size {32 * grid} at output stride 32"))), found.assumptions)  # fmt: skip
    back = {v: k for k, v in _CLIP_STEM.items()}
    if "attnpool.positional_embedding" in shapes:
        back["fc."] = "attnpool.c_proj."
    pattern = re.compile("|".join(r"(?<![\w.])" + re.escape(old) for old in back))

    def translate(text: str) -> str:
        text = re.sub(r"downsample\.([12])\.", lambda m: f"downsample.{int(m[1]) - 1}.", text)
        text = text.replace("conv1.0/.3/.6", "conv1/conv2/conv3")
        return pattern.sub(lambda m: back[m[0]], text)

    evidence = tuple(Evidence(e.field, e.value, translate(e.because)) for e in found.evidence)
    return Identified(found.spec, evidence, found.assumptions)


KERAS_EPS_UNSEEN = "bn_eps: an eps has no weights; assumed 1e-5 (Keras's ResNets use 1.001e-5)"


def _conv_bias(r: _Reader, stem: Stem, norm: Norm) -> bool:
    """Whether the convs carry a bias though a norm follows (Keras's ResNets)."""
    conv = "conv1.0" if stem in (Stem.DEEP, Stem.TIERED) else "conv1"
    biased = norm is not Norm.NONE and f"{conv}.bias" in r.shapes
    if biased:
        r.note("conv_bias", True, f"{conv}.bias beside the norm bn1: every conv has a bias")
    return biased


def _legacy_fields(
    block: Block, groups: int, reduce_first: int, stem_pool: StemPool, stem: Stem
) -> dict[str, Any]:
    """What legacy SENet's weights cannot show, as legacy SENet builds it (LEGACY_UNSEEN)."""
    fields: dict[str, Any] = {}
    if stem is not Stem.CIFAR and stem_pool is StemPool.MAX:
        fields["stem_pool"] = StemPool.MAX_CEIL
    if block is Block.BASIC:
        fields["branch_relu"] = True
    elif groups == 1 and reduce_first == 1:
        fields["stride_in"] = StrideIn.CONV1X1
    return fields


def _require_resnet(shapes: Mapping[str, Shape]) -> None:
    has_stem = "conv1.weight" in shapes or "conv1.0.weight" in shapes  # (legacy layer0: renamed)
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


def _stem_pool(r: _Reader, stem: Stem, layout: Layout) -> StemPool:
    w = r.shapes.get("maxpool.0.weight")
    if w is not None and len(w) == 4:
        r.note("stem_pool", StemPool.CONV, f"maxpool.0.weight {shape_text(w)}: a conv in place of the pool")
        return StemPool.CONV
    # (legacy SENet's pool is assumed, and listed as such: see LEGACY_UNSEEN)
    if stem is not Stem.CIFAR and layout is Layout.TORCHVISION:  # cifar has no pool at all
        r.note("stem_pool", StemPool.MAX, "no maxpool weights: a pool (max, or an anti-aliasing filter)")
    return StemPool.MAX


_SE_REDUCTIONS = (16, 4, 8, 2, 32, 1)  # timm's 1/16, ResNet-RS's 1/4 first


def _attn(r: _Reader, layers: tuple[int, ...], layout: Layout) -> tuple[Attn, int, SERounding]:
    default = SERounding.NEAREST8
    if "layer1.0.se.conv.weight" in r.shapes:
        w = r.shape("layer1.0.se.conv.weight")
        r.note("attn", Attn.ECA, f"layer1.0.se.conv.weight {shape_text(w)}: a 1-D conv across channels")
        return Attn.ECA, 16, default
    if "layer1.0.se.fc1.weight" not in r.shapes:
        r.note("attn", Attn.NONE, "no layerN.M.se weights")
        return Attn.NONE, 16, default
    fc1 = [r.shape(f"layer{s + 1}.{i}.se.fc1.weight") for s, n in enumerate(layers) for i in range(n)]
    w = fc1[0]
    r.note("attn", Attn.SE, f"layer1.0.se.fc1.weight {shape_text(w)}: squeeze-excitation")
    # where both rules give these shapes, the layout's own rule (legacy SENet's is the floor)
    rules = [SERounding.NEAREST8, SERounding.FLOOR]
    if layout is Layout.SENET:
        rules.reverse()
    for reduction in _SE_REDUCTIONS:
        for rule in rules:
            if all(f[0] == _squeezed(f[1], reduction, rule) for f in fc1):
                r.note("se_reduction", reduction, f"{w[1]} channels squeezed to {w[0]}")
                other = rules[1] if rule is rules[0] else rules[0]
                both = all(f[0] == _squeezed(f[1], reduction, other) for f in fc1)
                if layout is Layout.SENET or rule is SERounding.FLOOR:
                    r.note("se_rounding", rule, f"every gate's width is {_RULE_TEXT[rule]}" + (
                        f"; {other.value} gives the same widths: the layout's rule" if both else ""))
                return Attn.SE, reduction, rule
    raise IdentifyError(f"cannot identify: the SE gates squeeze {w[1]} channels to {w[0]}, "
                        "which no se_reduction of this tool's rounding gives")  # fmt: skip


_RULE_TEXT = {SERounding.FLOOR: "channels // reduction",
              SERounding.NEAREST8: "channels / reduction to a multiple of 8"}  # fmt: skip


def _squeezed(channels: int, reduction: int, rule: SERounding) -> int:
    if rule is SERounding.FLOOR:
        return channels // reduction
    return make_divisible(channels / reduction, 8, round_limit=0.0)  # as ResNetSpec.se_channels


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


HEADLESS = ("no classifier keys: a headless net (num_classes=0), its output the pooled "
            "features, as timm's num_classes=0")


def _classifier(r: _Reader) -> int:
    """The classifier's outputs; none of its keys: 0 (detectron2's and Hugging Face's
    backbones, timm's ``num_classes=0``). A lone bias is a broken classifier, not none."""
    if "fc.weight" not in r.shapes and "fc.bias" not in r.shapes:
        r.note("num_classes", 0, HEADLESS)
        return 0
    w = r.shape("fc.weight", 2)
    r.note("num_classes", w[0], f"fc.weight {shape_text(w)}")
    return w[0]


def looks_like(checkpoint: Checkpoint) -> str | None:
    """The identified spec string, or None when the checkpoint cannot be identified."""
    try:
        return identify_shapes(checkpoint.shapes).spec_string
    except IdentifyError:
        return None

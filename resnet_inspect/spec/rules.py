"""The rules a spec must keep: ``validate`` raises SpecError naming the field and value of the
first rule an impossible spec breaks. tests/test_spec_rules.py has one invalid and one valid
example per rule.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..errors import SpecError
from .fields import MAX_BLOCKS, MAX_INT
from .fields import format_value as _fmt
from .options import (
    BLOCK_FIELDS,
    BLOCK_TYPES,
    GROUP_NORM_GROUPS,
    HEAD_DIM,
    MAX_SCALE,
    SK_PATHS,
    AntiAlias,
    Attn,
    Block,
    Conv,
    Head,
    Layout,
    Norm,
    SERounding,
    Shortcut,
    Stem,
    StemPool,
    StrideIn,
)  # fmt: skip

if TYPE_CHECKING:
    from .resnet_spec import ResNetSpec


_DEFAULTS: dict[str, object] = {}  # filled from ResNetSpec's fields on the first check


def _defaults(spec: ResNetSpec) -> dict[str, object]:
    """Each field's default, read once from the spec's own dataclass (this module sits below it)."""
    if not _DEFAULTS:
        _DEFAULTS.update({f.name: f.default for f in dataclasses.fields(spec)})
    return _DEFAULTS


def validate(spec: ResNetSpec) -> None:
    """Raise SpecError where ``spec`` cannot be built (the first rule it breaks)."""
    n = spec.num_stages
    if n < 1:
        raise SpecError("layers: needs at least one stage")
    if sum(spec.layers) > MAX_BLOCKS:
        raise SpecError(f"layers: {_fmt(spec.layers)[:60]} is {sum(spec.layers):,} blocks in all; at most "
                        f"{MAX_BLOCKS:,} (ResNet-1202, the deepest published, has 600)")  # fmt: skip
    if any(w > MAX_INT for w in spec.stage_widths):
        raise SpecError(f"widths: a stage is wider than {MAX_INT} channels ({n} stages doubling "
                        "from the first width)")  # fmt: skip
    if len(spec.stage_widths) != n:
        raise SpecError(
            f"widths: {_fmt(spec.widths)} has {len(spec.stage_widths)} values "
            f"but layers {_fmt(spec.layers)} has {n} stages"
        )
    if len(spec.dilations) != n - 1:
        raise SpecError(
            f"replace_stride_with_dilation: {_fmt(spec.replace_stride_with_dilation)} has "
            f"{len(spec.dilations)} values; {n} stages need {n - 1} (one per stage after the first)"
        )
    _check_block_fields(spec)
    if spec.block_widths is not None:
        _check_block_widths(spec)
    for stage in range(n):
        if spec.inner_width(stage) < 1:
            raise SpecError(
                f"width_per_group={spec.width_per_group}: stage {stage + 1} of width "
                f"{spec.stage_widths[stage]} would have no channels"
            )
    if spec.avg_down and spec.shortcut is Shortcut.A:
        raise SpecError(
            "avg_down=true needs projection shortcuts (shortcut B or C); shortcut A has none"
        )
    if spec.shortcut is Shortcut.A:
        _check_zero_padding(spec)
    _check_block_parts(spec)
    if spec.block is Block.RESNEST:
        _check_split_attention(spec)
    if spec.block is Block.RES2NET:
        _check_res2net(spec)
    _check_preact(spec)
    if spec.layout is Layout.SENET and spec.block not in (Block.BASIC, Block.BOTTLENECK):
        raise SpecError(f"block={spec.block.value}: not with layout=senet (legacy SENet's blocks "
                        "are basic and bottleneck)")  # fmt: skip
    if spec.norm in (Norm.GROUP, Norm.EVONORM):
        _check_group_norm(spec)
    _check_bias_and_eps(spec)
    _check_head(spec)


def _check_bias_and_eps(spec: ResNetSpec) -> None:
    """conv_bias and bn_eps (Keras's ResNets): a bias where a norm follows, and the batch
    norm's eps; neither means anything without a batch norm."""
    if spec.conv_bias and spec.norm is Norm.NONE:
        raise SpecError("conv_bias=true: with norm=none every conv has a bias already")
    if spec.bn_eps != _defaults(spec)["bn_eps"] and spec.norm is not Norm.BATCH:
        raise SpecError(f"bn_eps={_fmt(spec.bn_eps)}: applies to norm=batch only (norm is {spec.norm.value})")


_HEADLESS_LAYOUTS = {
    Layout.SENET: "legacy SENet's head is last_linear",
    Layout.RESNETV2: "timm's resnetv2 head is a 1x1 conv",
}


def _check_head(spec: ResNetSpec) -> None:
    """The attention pool (head=attn, CLIP's): heads of HEAD_DIM channels over the last
    stage's features, and a positional embedding for a whole grid of the input side."""
    if spec.layout is Layout.CLIP and spec.stem not in (Stem.DEEP, Stem.TIERED):
        raise SpecError(f"layout=clip: names a three-conv stem (conv1..conv3, OpenAI's); "
                        f"needs stem=deep or tiered (stem is {spec.stem.value})")  # fmt: skip
    if spec.head is not Head.ATTN:
        return
    if spec.layout in _HEADLESS_LAYOUTS:
        raise SpecError(f"head=attn: not with layout={spec.layout.value} ({_HEADLESS_LAYOUTS[spec.layout]})")
    if spec.feature_channels % HEAD_DIM:
        raise SpecError(f"head=attn: the last stage's {spec.feature_channels} channels do not split "
                        f"into attention heads of {HEAD_DIM}")  # fmt: skip
    side, stride = spec.input_side, spec.output_stride
    if side % stride:
        raise SpecError(f"img_size={side}: head=attn needs a multiple of the output stride {stride} "
                        "(its positional embedding covers a whole grid)")  # fmt: skip
    embedding = (spec.attn_grid**2 + 1) * spec.feature_channels
    if embedding > MAX_INT:
        raise SpecError(f"img_size={side}: the positional embedding would hold {embedding:,} values "
                        f"({spec.attn_grid}x{spec.attn_grid} + 1 tokens of {spec.feature_channels}); "
                        f"at most {MAX_INT:,}")  # fmt: skip


_UNUSED_FIELD_HINT = {
    "groups": "it has no grouped conv; use block=bottleneck for ResNeXt or wide variants",
    "width_per_group": "it has no grouped conv; use block=bottleneck for ResNeXt or wide variants",
    "stride_in": "it has no 1x1 conv to stride",
    "radix": "it has no split attention; use block=resnest",
    "avd": "it has no split attention; use block=resnest",
    "avd_first": "it has no split attention; use block=resnest",
    "scale": "it has no split 3x3 stage; use block=res2net",
    "stride_in on res2net": "its split 3x3s take the stride, as in timm's Bottle2neck",
    "stride_in on resnest": "its split-attention 3x3, or its avd pool, takes the stride",
    "sk_reduction": "it has no selective-kernel conv; use block=sk_basic or sk_bottleneck",
    "sk_divisor": "it has no selective-kernel conv; use block=sk_basic or sk_bottleneck",
    "sk_split": "it has no selective-kernel conv; use block=sk_basic or sk_bottleneck",
    "branch_relu": "its branch ends in the third norm, as every bottleneck's does",
    "conv_bias": "its attention or split convs have no bias option",
    "bn_eps": "its attention or split norms keep eps 1e-5",
}
_SK_STRIDE_HINT = "its selective-kernel conv takes the stride"


def _check_block_fields(spec: ResNetSpec) -> None:
    """A block-specific field set on a block type that does not read it is a mistake, not a
    no-op: ``resnet18:groups=32`` would silently build resnet18."""
    changed = [f for f in sorted(BLOCK_FIELDS) if not spec.uses(f) and getattr(spec, f) != _defaults(spec)[f]]
    if changed:
        users = ", ".join(b.value for b, t in BLOCK_TYPES.items() if changed[0] in t.fields)
        given = ", ".join(f"{f}={_fmt(getattr(spec, f))}" for f in changed)
        hint = _UNUSED_FIELD_HINT.get(f"{changed[0]} on {spec.block.value}") or _UNUSED_FIELD_HINT.get(
            changed[0], "not read by this block type")
        if changed[0] == "stride_in" and spec.block is Block.SK_BOTTLENECK:
            hint = _SK_STRIDE_HINT
        raise SpecError(
            f"{given}: applies to {users} blocks only; a {spec.block.value} block ignores it "
            f"({hint})"
        )
    if spec.block in (Block.SK_BASIC, Block.SK_BOTTLENECK):
        _check_selective_kernel(spec)


def _check_selective_kernel(spec: ResNetSpec) -> None:
    """The selective-kernel conv's input splits into its paths (sk_split) and then into the
    conv's groups: both must divide it, in every block (a stage's first block takes the
    previous stage's channels)."""
    block_in = spec.stem_channels[-1]
    for stage in range(spec.num_stages):
        inputs = [block_in] + [spec.out_channels(stage)] * (spec.layers[stage] > 1)
        for channels in dict.fromkeys(spec.sk_in_channels(stage, c) for c in inputs):
            if spec.sk_split and channels % SK_PATHS:
                raise SpecError(
                    f"sk_split=true: stage {stage + 1}'s selective-kernel conv takes {channels} "
                    f"channels, which do not split into its {SK_PATHS} paths (use sk_split=false)"
                )
            per_path = channels // SK_PATHS if spec.sk_split else channels
            if per_path % spec.groups:
                raise SpecError(
                    f"groups={spec.groups}: stage {stage + 1}'s selective-kernel paths take "
                    f"{per_path} channels each, not a multiple of the groups"
                )
        block_in = spec.out_channels(stage)


def _check_block_parts(spec: ResNetSpec) -> None:
    if spec.down_kernel not in (1, 3):
        raise SpecError(f"down_kernel: {spec.down_kernel} is not one of 1, 3")
    if spec.down_kernel == 3 and (spec.avg_down or spec.shortcut is Shortcut.A):
        raise SpecError(
            "down_kernel=3 needs a strided projection shortcut; avg_down=true projects with a "
            "1x1 after its pool, and shortcut A has no projection"
        )
    if spec.aa is not AntiAlias.NONE and spec.uses("stride_in") and spec.stride_in is StrideIn.CONV1X1:
        raise SpecError(
            f"aa={spec.aa.value}: anti-aliasing takes the stride of the 3x3 conv; "
            "stride_in=1x1 strides the 1x1"
        )
    if spec.stem_pool is not StemPool.MAX and spec.stem is Stem.CIFAR:
        raise SpecError(f"stem_pool={spec.stem_pool.value}: the cifar stem has no pool to replace")
    if spec.stem_pool is StemPool.MAX_CEIL and spec.aa is not AntiAlias.NONE:
        raise SpecError(
            f"stem_pool=max_ceil: aa={spec.aa.value} replaces the stem's max-pool with its own "
            "filter; use stem_pool=max"
        )
    _check_se(spec)
    for stage in range(spec.num_stages):
        first = spec.first_width(stage)
        if first < 1:
            raise SpecError(
                f"reduce_first={spec.reduce_first}: stage {stage + 1} would have no channels"
            )


def _check_split_attention(spec: ResNetSpec) -> None:
    """What a ResNeSt block cannot be: timm's has no anti-aliasing and no halved first conv,
    and its grouped convs must split their channels evenly."""
    if spec.avd_first and not spec.avd:
        raise SpecError("avd_first=true: places the avd pool, but avd is false")
    if spec.aa is not AntiAlias.NONE:
        raise SpecError(f"aa={spec.aa.value}: a resnest block has no anti-aliasing filter "
                        "(avd=true pools where it strides)")  # fmt: skip
    if spec.reduce_first != 1:
        raise SpecError(f"reduce_first={spec.reduce_first}: a resnest block's first conv has its "
                        "full width (1 only)")  # fmt: skip
    for stage in range(spec.num_stages):
        inner, splits = spec.inner_width(stage), spec.groups * spec.radix
        if inner * spec.radix > MAX_INT:
            raise SpecError(f"radix={spec.radix}: stage {stage + 1}'s branches would have more than "
                            f"{MAX_INT} channels")  # fmt: skip
        if inner % splits:
            raise SpecError(
                f"radix={spec.radix}: stage {stage + 1}'s {inner} channels cannot be split into "
                f"groups x radix = {splits} groups of the 3x3"
            )
        if spec.attn_channels(stage) % spec.groups:
            raise SpecError(
                f"groups={spec.groups}: stage {stage + 1}'s split attention has "
                f"{spec.attn_channels(stage)} channels, not a multiple of the groups"
            )
def _check_res2net(spec: ResNetSpec) -> None:
    """What a Res2Net block cannot take (timm's Bottle2neck has neither)."""
    if spec.scale > MAX_SCALE:
        raise SpecError(f"scale: {spec.scale} splits is too many (at most {MAX_SCALE}; the paper's "
                        "largest is 8)")  # fmt: skip
    if spec.reduce_first != 1:
        raise SpecError(f"reduce_first={spec.reduce_first}: a res2net block's first conv feeds "
                        "all its splits and is not reduced")  # fmt: skip
    if spec.aa is not AntiAlias.NONE:
        raise SpecError(f"aa={spec.aa.value}: a res2net block strides its split 3x3s and pools "
                        "its last split; it has no anti-aliased variant")  # fmt: skip
    if any(spec.first_width(stage) > MAX_INT for stage in range(spec.num_stages)):
        raise SpecError(f"scale: {spec.scale} splits of {spec.inner_width(spec.num_stages - 1)} "
                        f"channels is more than {MAX_INT} channels")  # fmt: skip


def _check_se(spec: ResNetSpec) -> None:
    for name in ("se_reduction", "se_rounding"):
        if getattr(spec, name) != _defaults(spec)[name] and spec.attn is not Attn.SE:
            raise SpecError(
                f"{name}={_fmt(getattr(spec, name))}: applies to attn=se only (attn is {spec.attn.value})"
            )
    if spec.attn is Attn.SE and spec.se_rounding is SERounding.FLOOR:
        narrowest = min(spec.out_channels(stage) for stage in range(spec.num_stages))
        if spec.se_channels(narrowest) < 1:
            raise SpecError(
                f"se_rounding=floor: {narrowest} channels // se_reduction={spec.se_reduction} "
                "squeezes to no channels"
            )


def _check_block_widths(spec: ResNetSpec) -> None:
    if spec.block not in (Block.BASIC, Block.BOTTLENECK):
        raise SpecError(f"block_widths: sets the convs of basic and bottleneck blocks; a "
                        f"{spec.block.value} block has others")  # fmt: skip
    convs = BLOCK_TYPES[spec.block].convs
    assert spec.block_widths is not None
    count, need = len(spec.block_widths), convs * sum(spec.layers)
    if count != need:
        raise SpecError(
            f"block_widths: {count} values; layers {_fmt(spec.layers)} of {spec.block.value} "
            f"blocks need {need} ({convs} per block)"
        )
    for name in ("groups", "width_per_group", "reduce_first"):
        if getattr(spec, name) != _defaults(spec)[name]:
            raise SpecError(f"{name}={getattr(spec, name)}: block_widths sets every conv's width; "
                            f"{name} cannot apply (leave it at {_defaults(spec)[name]})")  # fmt: skip
    for stage, blocks in enumerate(spec.layers):
        outs = {spec.block_channels(stage, i)[-1] for i in range(blocks)}
        if len(outs) > 1:
            raise SpecError(
                f"block_widths: stage {stage + 1}'s blocks end at {_fmt(sorted(outs))} channels; "
                "the residual sums need one width per stage"
            )


# what timm's resnetv2.py has no option for: each field's default, and why it is refused
_NOT_IN_RESNETV2 = {
    "shortcut": "its blocks project where the shape changes (shortcut B) only",
    "groups": "its bottleneck has no grouped conv",
    "width_per_group": "its bottleneck has no grouped conv",
    "stride_in": "its bottleneck strides on the 3x3",
    "attn": "its blocks have no channel attention",
    "aa": "its blocks have no anti-aliasing",
    "reduce_first": "its blocks do not reduce their first conv",
    "down_kernel": "its projections are 1x1",
    "branch_relu": "its basic block ends in a conv",
    "block_widths": "it has no pruned variant",
    "conv_bias": "its convs have no bias",
    "bn_eps": "its norms keep eps 1e-5",
}


def _check_preact(spec: ResNetSpec) -> None:
    """Pre-activation blocks exist in timm's resnetv2 layout only, which builds nothing else;
    the norms that carry their own activation (evonorm, frn) need pre-activation."""
    v2 = spec.layout is Layout.RESNETV2
    if spec.preact != v2:
        raise SpecError(
            f"preact={_fmt(spec.preact)}: pre-activation blocks come with layout=resnetv2, "
            f"which builds pre-activation blocks only (layout is {spec.layout.value})"
        )
    if spec.norm in (Norm.EVONORM, Norm.FRN) and not spec.preact:
        raise SpecError(f"norm={spec.norm.value}: normalises and activates in one layer; it needs "
                        "preact=true (a post-activation block adds its own ReLU)")  # fmt: skip
    if not v2:
        if spec.conv is not Conv.PLAIN:
            raise SpecError(f"conv={spec.conv.value}: weight standardisation is timm's resnetv2 "
                            "only; needs layout=resnetv2 (BiT)")  # fmt: skip
        if spec.stem_pool is StemPool.FIXED:
            raise SpecError("stem_pool=fixed: BiT's zero-padded pool is timm's resnetv2 only; "
                            "needs layout=resnetv2")  # fmt: skip
        return
    if spec.block not in (Block.BASIC, Block.BOTTLENECK):
        raise SpecError(f"block={spec.block.value}: not with layout=resnetv2 (its pre-activation "
                        "blocks are basic and bottleneck)")  # fmt: skip
    for name, why in _NOT_IN_RESNETV2.items():
        if getattr(spec, name) != _defaults(spec)[name]:
            raise SpecError(f"{name}={_fmt(getattr(spec, name))}: not with layout=resnetv2 ({why})")
    if spec.stem is Stem.CIFAR or spec.stem_pool is StemPool.CONV:
        field = "stem" if spec.stem is Stem.CIFAR else "stem_pool"
        raise SpecError(f"{field}={_fmt(getattr(spec, field))}: not with layout=resnetv2 "
                        "(its stems end in a max-pool)")  # fmt: skip
    if spec.norm is Norm.NONE:
        raise SpecError("norm=none: not with preact=true (a pre-activation block normalises "
                        "before each conv)")  # fmt: skip


def _check_zero_padding(spec: ResNetSpec) -> None:
    channels = spec.stem_channels[-1]
    for stage in range(spec.num_stages):
        out = spec.out_channels(stage)
        if out < channels:
            raise SpecError(
                f"shortcut A: stage {stage + 1} goes from {channels} to {out} channels; "
                "zero-padding cannot remove channels (use shortcut B or C)"
            )
        channels = out


def normalized_channels(spec: ResNetSpec) -> list[int]:
    """Every channel count that passes through a normalisation layer."""
    counts = list(spec.stem_channels)
    for stage in range(spec.num_stages):
        for index in range(spec.layers[stage] if spec.block_widths is not None else 1):
            counts += spec.block_channels(stage, index)
        if spec.block is Block.RESNEST:  # the radix branches, the attention's hidden layer
            counts += [spec.inner_width(stage) * spec.radix, spec.attn_channels(stage)]
    return counts


def _check_group_norm(spec: ResNetSpec) -> None:
    for count in normalized_channels(spec):
        if count % GROUP_NORM_GROUPS:
            raise SpecError(
                f"norm={spec.norm.value}: {count} channels cannot be split into {GROUP_NORM_GROUPS} groups; "
                f"every width must be a multiple of {GROUP_NORM_GROUPS}"
            )
    if spec.block is Block.RESNEST:  # its attention normalises channel means: one pixel each
        for stage in range(spec.num_stages):
            hidden = spec.attn_channels(stage)
            if hidden < 2 * GROUP_NORM_GROUPS:
                raise SpecError(
                    f"norm=group: stage {stage + 1}'s split attention normalises {hidden} channel "
                    f"means, one value per group of {GROUP_NORM_GROUPS}; group norm needs two "
                    f"(at least {2 * GROUP_NORM_GROUPS} attention channels)"
                )

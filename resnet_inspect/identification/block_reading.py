"""Reading a block from a state_dict: its type, widths, grouping and the fields of the
multi-branch blocks (Res2Net's scale, ResNeSt's radix, the selective kernel's attention), and a
pruned net's per-block widths. Part of identify (see weights.py)."""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import SpecError
from ..spec import (
    BLOCK_TYPES,
    SK_PATHS,
    Block,
    ResNetSpec,
    preset_name,
)  # fmt: skip
from ..units import shape_text
from .evidence import IdentifyError, _Reader

# the most specific first: a ResNeSt or Res2Net block also has a bottleneck's conv3, a
# selective-kernel basic block a conv2.conv (but no attention there); basic blocks are the rest
_READING_ORDER = (Block.RESNEST, Block.RES2NET, Block.SK_BOTTLENECK, Block.SK_BASIC,
                  Block.BOTTLENECK, Block.BASIC)  # fmt: skip


def _block(r: _Reader) -> Block:
    """The block type whose marker convs layer1.0 has (BLOCK_TYPES' keys)."""
    for block in _READING_ORDER:
        keys = BLOCK_TYPES[block].keys
        if all(f"layer1.0.{m}.weight" in r.shapes for m in keys.markers):
            r.note("block", block, keys.evidence)
            return block
    raise AssertionError("basic blocks have no markers")  # unreachable: BASIC matches anything


def _block_widths(r: _Reader, block: Block, layers: tuple[int, ...]) -> tuple[int, ...] | None:
    """Every block's conv widths where they are not one set per stage (a pruned net), else None."""
    if block not in (Block.BASIC, Block.BOTTLENECK):
        return None  # the other blocks' convs are not conv1..conv3 (and are not pruned)
    names = ("conv1", "conv2", "conv3")[: BLOCK_TYPES[block].convs]
    expansion = BLOCK_TYPES[block].expansion
    stages = [[tuple(r.shape(f"layer{s + 1}.{i}.{c}.weight", 4)[0] for c in names) for i in range(n)]
              for s, n in enumerate(layers)]  # fmt: skip
    if all(len(set(blocks)) == 1 and blocks[0][-1] % expansion == 0 for blocks in stages):
        return None
    flat = tuple(w for blocks in stages for widths in blocks for w in widths)
    r.note("block_widths", flat, f"layerN.M.{'/'.join(names)} output channels, which differ from "
                                 "block to block: a pruned net")  # fmt: skip
    return flat


def _widths(r: _Reader, block: Block, stages: int) -> tuple[int, ...]:
    widths = []
    conv, expansion = BLOCK_TYPES[block].keys.width_conv, BLOCK_TYPES[block].expansion
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
    a, b = BLOCK_TYPES[block].keys.first_convs
    first = r.shape(f"layer1.0.{a}.weight")
    following = r.shape(f"layer1.0.{b}.weight")
    ratio = following[0] // first[0] if first[0] and following[0] % first[0] == 0 else 1
    if ratio > 1:
        r.note("reduce_first", ratio, f"layer1.0.{a}.weight {shape_text(first)} into "
                                      f"{b} of {following[0]} channels")  # fmt: skip
    return max(ratio, 1)


def _grouping(
    r: _Reader, block: Block, widths: tuple[int, ...], reduce_first: int, split: bool = False
) -> tuple[int, int]:
    """groups from the grouped conv2 (its input channels / weight.shape[1]; a split
    selective-kernel path takes half of them); width_per_group from inner width =
    int(planes * width_per_group / 64) * groups, for every stage."""
    if "groups" not in BLOCK_TYPES[block].fields:
        return 1, 64
    keys = BLOCK_TYPES[block].keys
    first_key, grouped_key = keys.first_convs[0], keys.grouped_conv
    assert grouped_key is not None, f"{block.value} reads groups but names no grouped conv"
    paths = SK_PATHS if split else 1
    lo, hi, groups_seen = 1, math.inf, set()
    inners = []
    for s, planes in enumerate(widths, start=1):
        grouped_out, per_group_in = r.shape(f"layer{s}.0.{grouped_key}.weight", 4)[:2]
        # a bottleneck's 3x3 takes the first conv's output (a split selective-kernel path, half
        # of it); a Res2Net split's, its own width; a ResNeSt block's attention, the block's width
        first_out = grouped_out if block is Block.RES2NET else r.shape(f"layer{s}.0.{first_key}.weight", 4)[0]
        inner = first_out if block is Block.RESNEST else grouped_out
        inners.append(inner)
        groups = first_out // paths // max(per_group_in, 1)
        groups_seen.add(groups)
        per_group = inner // max(groups, 1)
        # int(planes * wpg / 64) == per_group  <=>  64*per_group <= planes*wpg < 64*(per_group+1)
        lo = max(lo, -(-64 * per_group // planes))
        hi = min(hi, -(-64 * (per_group + 1) // planes) - 1)
    if len(groups_seen) != 1 or lo > hi or 0 in groups_seen:
        raise IdentifyError("cannot identify: the grouped 3x3 convs do not follow one "
                            "groups x width_per_group")  # fmt: skip
    groups = groups_seen.pop()
    # several values can give the same shapes at tiny widths: prefer the default, else the least
    wpg = 64 if lo <= 64 <= hi else lo
    w = r.shape(f"layer1.0.{grouped_key}.weight", 4)
    first = (w[0] if block is Block.RES2NET else r.shape(f"layer1.0.{first_key}.weight", 4)[0]) // paths
    r.note("groups", groups, f"layer1.0.{grouped_key}.weight {shape_text(w)}: {first} channels / {w[1]} per group")
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


# (sk_reduction, sk_divisor): timm's default first, then its skresnet18/34 and SKNet-50 pairs
_SK_ATTENTION = (
    (16, 8), (8, 16), (16, 32),
    *((r, d) for r in (16, 8, 4, 2, 32, 1) for d in (8, 16, 32, 4, 2, 1)),
)  # fmt: skip
_SK_SPLIT_ASSUMED = (
    "sk_split: a split input has the shapes of twice the groups without one; a preset's reading "
    "is taken, else the split (timm's default)"
)


def _selective_kernel(r: _Reader, block: Block, layers: tuple[int, ...], stem_out: int) -> dict[str, Any]:
    """sk_reduction and sk_divisor from every attention's fc_reduce; sk_split of an sk_basic
    from its first path's input channels (an sk_bottleneck's is read with its groups)."""
    if block not in (Block.SK_BASIC, Block.SK_BOTTLENECK):
        return {}
    sk_conv = "conv1" if block is Block.SK_BASIC else "conv2"
    reduce = [r.shape(f"layer{s + 1}.{i}.{sk_conv}.attn.fc_reduce.weight", 4)
              for s, n in enumerate(layers) for i in range(n)]  # fmt: skip
    fields: dict[str, Any] = {}
    for reduction, divisor in _SK_ATTENTION:
        probe = ResNetSpec(block=block, sk_reduction=reduction, sk_divisor=divisor)
        if all(w[0] == probe.sk_channels(w[1]) for w in reduce):
            r.note("sk_reduction", reduction, f"{reduce[0][1]} channels attended through {reduce[0][0]}")
            r.note("sk_divisor", divisor, f"every fc_reduce a multiple of {divisor}")
            fields.update(sk_reduction=reduction, sk_divisor=divisor)
            break
    else:
        w = reduce[0]
        raise IdentifyError(f"cannot identify: the selective-kernel attention reduces {w[1]} channels "
                            f"to {w[0]}, which no sk_reduction and sk_divisor give")  # fmt: skip
    if block is Block.SK_BASIC:
        w = r.shape("layer1.0.conv1.paths.0.conv.weight", 4)
        fields["sk_split"] = w[1] != stem_out
        r.note("sk_split", fields["sk_split"], f"layer1.0.conv1.paths.0.conv.weight {shape_text(w)} "
                                               f"on {stem_out} input channels")  # fmt: skip
    else:
        fields["sk_split"] = False  # until read with the groups (_sk_split_reading)
    return fields


def _sk_split_reading(r: _Reader, spec: ResNetSpec) -> ResNetSpec:
    """An sk_bottleneck's split input or not, with the groups each reading implies: both give
    the same shapes where the groups can double. A preset's reading wins, then the split."""
    readings = []
    for split in (True, False):
        try:
            groups, wpg = _grouping(_Reader(r.shapes), spec.block, spec.stage_widths, spec.reduce_first, split)
            readings.append(spec.replace(sk_split=split, groups=groups, width_per_group=wpg))
        except (IdentifyError, SpecError):
            continue
    if not readings:
        raise IdentifyError("cannot identify: the selective-kernel convs' groups fit no input split")
    chosen = next((s for s in readings if preset_name(s)), readings[0])
    r.evidence = [e for e in r.evidence if e.field not in ("groups", "width_per_group")]
    _grouping(r, chosen.block, chosen.stage_widths, chosen.reduce_first, chosen.sk_split)
    r.note("sk_split", chosen.sk_split, "the path convs' input channels, read with the groups")
    return chosen

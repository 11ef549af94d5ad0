"""ResNetSpec: one frozen description of a ResNet variant; the presets built from it, and the
shortest string that names a spec.

The field names of :class:`ResNetSpec` are a contract: they are the spec-string keys
(``resnet50:groups=32``), the keywords of :func:`resnet_inspect.build` and the JSON keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SpecError
from ..presets import PRESET_FIELDS
from .channels import make_divisible
from .fields import default_widths, did_you_mean, format_value, jsonable, normalize_key, parse_value
from .options import (
    BLOCK_FIELDS,
    BLOCK_TYPES,
    HEAD_DIM,
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
from .rules import validate


def _field(default: Any, flag: str, metavar: str, help: str) -> Any:
    """A spec field with what the command line needs to offer it as a flag: the flag's name
    (``--x/--no-x`` for a bool), the metavar and the help. The CLI generates its options from
    these; nothing else names flags."""
    return dataclasses.field(default=default, metadata={"flag": flag, "metavar": metavar, "help": help})


@dataclass(frozen=True)
class ResNetSpec:
    """A ResNet variant. Constructing one validates it; an impossible spec raises SpecError.

    ``widths`` and ``replace_stride_with_dilation`` may be left as None: they are then
    derived from the number of stages (64, 128, 256, ... and no dilation).
    """

    block: Block = _field(
        Block.BOTTLENECK, "--block", "NAME",
        "basic, bottleneck, res2net, resnest, sk_basic or sk_bottleneck",
    )  # fmt: skip
    layers: tuple[int, ...] = _field(
        (3, 4, 6, 3), "--layers", "N,N,..", "blocks per stage, e.g. 3,4,6,3 (any number of stages)"
    )
    widths: tuple[int, ...] | None = _field(
        None, "--widths", "N,N,..", "base channels per stage, e.g. 64,128,256,512"
    )
    groups: int = _field(1, "--groups", "N", "ResNeXt cardinality (bottleneck, resnest)")
    width_per_group: int = _field(
        64, "--width-per-group", "N", "channels per group: 4 for 32x4d, 128 for wide"
    )
    stem: Stem = _field(
        Stem.CLASSIC, "--stem", "NAME",
        "classic (7x7 + max-pool), deep (3 x 3x3, ResNet-C), cifar (one 3x3)",
    )  # fmt: skip
    stem_width: int = _field(64, "--stem-width", "N", "stem channels (the deep stem: w, w, 2w)")
    avg_down: bool = _field(
        False, "--avg-down/--no-avg-down", "", "ResNet-D: 2x2 avg-pool before the projection"
    )
    shortcut: Shortcut = _field(
        Shortcut.B, "--shortcut", "A|B|C",
        "A zero-pad, B project where the shape changes, C project always",
    )  # fmt: skip
    stride_in: StrideIn = _field(
        StrideIn.CONV3X3, "--stride-in", "3x3|1x1",
        "where a bottleneck downsamples: 3x3 (v1.5), 1x1 (paper v1)",
    )  # fmt: skip
    replace_stride_with_dilation: tuple[bool, ...] | None = _field(
        None, "--dilation", "B,B,..", "per stage after the first, e.g. 0,1,1"
    )
    norm: Norm = _field(
        Norm.BATCH, "--norm", "NAME",
        "batch, group (32 groups), none; with preact also evonorm (S0), frn (with TLU)",
    )  # fmt: skip
    bn_eps: float = _field(
        1e-5, "--bn-eps", "EPS", "batch norm: the eps added to the variance (Keras: 1.001e-5)"
    )
    conv_bias: bool = _field(
        False, "--conv-bias/--no-conv-bias", "",
        "every conv (stem, blocks, shortcuts) has a bias, though a norm follows (Keras)",
    )  # fmt: skip
    zero_init_residual: bool = _field(
        False, "--zero-init-residual", "", "zero the last norm of every residual branch"
    )
    attn: Attn = _field(
        Attn.NONE, "--attn", "NAME", "channel attention in every block: none, se, eca"
    )
    se_reduction: int = _field(
        16, "--se-reduction", "N", "SE squeeze: channels/N rounded to a multiple of 8 (at least 8)"
    )
    aa: AntiAlias = _field(
        AntiAlias.NONE, "--aa", "NAME", "anti-aliased downsampling: none, avg, blur"
    )
    stem_pool: StemPool = _field(
        StemPool.MAX, "--stem-pool", "NAME",
        "after the stem: max (pool), conv (ResNet-RS), fixed (BiT: zero-pad, then max-pool)",
    )  # fmt: skip
    reduce_first: int = _field(
        1, "--reduce-first", "N", "divide a block's first conv width by N (2 in SENet-154)"
    )
    down_kernel: int = _field(
        1, "--down-kernel", "N", "kernel of the strided projection shortcut: 1, or 3 (SENet-154)"
    )
    drop_path: float = _field(
        0.0, "--drop-path", "RATE", "stochastic depth, rising linearly to RATE (training only)"
    )
    # ResNeSt: split attention over radix branches, average-pool downsampling (block=resnest)
    radix: int = _field(
        2, "--radix", "N", "resnest: branches of the split-attention 3x3 (1: a sigmoid gate)"
    )
    avd: bool = _field(
        False, "--avd/--no-avd", "", "resnest: a 3x3/2 avg-pool takes a block's stride from its 3x3"
    )
    avd_first: bool = _field(
        False, "--avd-first/--no-avd-first", "", "resnest: the avd pool before the 3x3, not after it"
    )
    # Res2Net
    scale: int = _field(
        4, "--scale", "N", "Res2Net: splits of a block's 3x3 stage, each split width_per_group wide"
    )
    # selective kernel (sk_basic, sk_bottleneck blocks): timm's sk_kwargs
    sk_reduction: int = _field(
        16, "--sk-reduction", "N", "SK attention: channels/N rounded to a multiple of --sk-divisor"
    )
    sk_divisor: int = _field(8, "--sk-divisor", "N", "SK attention channels: a multiple of N, at least N")
    sk_split: bool = _field(
        True, "--sk-split/--no-sk-split", "", "SK paths each take half the input channels"
    )
    # legacy SENet (timm's senet.py)
    se_rounding: SERounding = _field(
        SERounding.NEAREST8, "--se-rounding", "NAME",
        "SE squeezed width: nearest8 (timm) or floor (channels // N, legacy SENet)",
    )  # fmt: skip
    branch_relu: bool = _field(
        False, "--branch-relu/--no-branch-relu", "",
        "a ReLU after a basic block's second norm, before SE and the sum (legacy SENet)",
    )  # fmt: skip
    # pruned nets (timm's ecaresnet*_pruned)
    block_widths: tuple[int, ...] | None = _field(
        None, "--block-widths", "N,N,..",
        "pruned: each block's conv widths in order (3 per bottleneck, 2 per basic block)",
    )  # fmt: skip
    # pre-activation ResNet v2 (He et al. 2016) and BiT: timm's resnetv2.py
    preact: bool = _field(
        False, "--preact/--no-preact", "", "pre-activation blocks: norm and ReLU before each conv"
    )
    conv: Conv = _field(
        Conv.PLAIN, "--conv", "NAME", "plain, or std (BiT's weight-standardised convs, eps 1e-8)"
    )
    layout: Layout = _field(
        Layout.TORCHVISION, "--layout", "NAME",
        "module names, hence checkpoint keys: torchvision, resnetv2 (timm's) or senet (legacy SENet)",
    )  # fmt: skip
    head: Head = _field(
        Head.AVG, "--head", "NAME",
        "avg (global average pool, fc) or attn (CLIP's attention pool, 64 channels per head); "
        "num_classes=0 drops the fc, or attn's c_proj",
    )  # fmt: skip
    img_size: int | None = _field(
        None, "--img-size", "N",
        "input side the variant is made for: the default --input; head=attn's positional embedding",
    )  # fmt: skip
    num_classes: int = _field(
        1000, "--num-classes", "N",
        "outputs of the classifier (head=attn: of its c_proj); 0: no classifier, the network "
        "ends with the global pool and outputs the pooled features (timm's num_classes=0)",
    )  # fmt: skip
    in_chans: int = _field(3, "--in-chans", "N", "input channels")

    def __post_init__(self) -> None:
        for f in FIELDS:
            object.__setattr__(self, f.name, parse_value(f.name, getattr(self, f.name)))
        if self.widths is None:
            object.__setattr__(self, "widths", default_widths(len(self.layers)))
        if self.replace_stride_with_dilation is None:
            object.__setattr__(
                self, "replace_stride_with_dilation", (False,) * (len(self.layers) - 1)
            )
        validate(self)

    # -- derived facts, used by the builder, the trace and the renderers ------------------
    @property
    def num_stages(self) -> int:
        return len(self.layers)

    @property
    def expansion(self) -> int:
        return BLOCK_TYPES[self.block].expansion

    def uses(self, field: str) -> bool:
        """Whether this variant's block type reads ``field`` (groups, stride_in, ...)."""
        return field not in BLOCK_FIELDS or field in BLOCK_TYPES[self.block].fields

    @property
    def stem_channels(self) -> tuple[int, ...]:
        """Output channels of each stem convolution."""
        if self.stem is Stem.DEEP:
            return (self.stem_width, self.stem_width, 2 * self.stem_width)
        if self.stem is Stem.TIERED:
            return (3 * (self.stem_width // 4), self.stem_width, 2 * self.stem_width)
        return (self.stem_width,)

    def inner_width(self, stage: int) -> int:
        """Channels inside a block of ``stage`` (the grouped 3x3 conv of a Bottleneck; each
        split's 3x3 of a Res2Net block)."""
        planes = self.stage_widths[stage]
        if not self.uses("width_per_group"):
            return planes
        return int(planes * (self.width_per_group / 64.0)) * self.groups

    @property
    def splits(self) -> int:
        """Splits of a block's 3x3 stage: ``scale`` for Res2Net, 1 for every other block."""
        return self.scale if self.uses("scale") else 1

    def first_width(self, stage: int) -> int:
        """Output channels of a block's first conv (the inner width, times the splits, divided
        by reduce_first)."""
        return self.inner_width(stage) * self.splits // self.reduce_first

    def attn_channels(self, stage: int) -> int:
        """Hidden channels of a ResNeSt block's split attention in ``stage``: timm's
        make_divisible(inner * radix / 4, divisor 8, at least 32), rounded to the nearest
        multiple of 8 and raised by 8 where that lost more than a tenth."""
        return make_divisible(self.inner_width(stage) * self.radix * 0.25, 8, minimum=32)

    def se_channels(self, channels: int) -> int:
        """Squeezed channels of the SE gate on ``channels``: timm's rule, channels /
        se_reduction rounded to the nearest multiple of 8 (halves up), at least 8; or legacy
        SENet's, channels // se_reduction (se_rounding=floor)."""
        if self.se_rounding is SERounding.FLOOR:
            return channels // self.se_reduction
        return make_divisible(channels / self.se_reduction, 8, round_limit=0.0)

    def sk_channels(self, channels: int) -> int:
        """Channels of the selective-kernel attention on ``channels``: timm's make_divisible,
        channels / sk_reduction rounded to the nearest multiple of sk_divisor (halves up), at
        least sk_divisor, and raised by one multiple where rounding lost more than 10%."""
        return make_divisible(channels / self.sk_reduction, self.sk_divisor)

    def sk_in_channels(self, stage: int, block_in: int) -> int:
        """Input channels of the selective-kernel conv in a block of ``stage`` whose input has
        ``block_in`` channels: the block's input (sk_basic) or its first conv's (sk_bottleneck)."""
        return block_in if self.block is Block.SK_BASIC else self.first_width(stage)

    def sk_out_channels(self, stage: int) -> int:
        """Output channels of the selective-kernel conv (each path's): the first conv's width
        in sk_basic, the inner (grouped) width in sk_bottleneck."""
        return self.first_width(stage) if self.block is Block.SK_BASIC else self.inner_width(stage)

    @property
    def stage_widths(self) -> tuple[int, ...]:
        assert self.widths is not None
        return self.widths

    @property
    def dilations(self) -> tuple[bool, ...]:
        assert self.replace_stride_with_dilation is not None
        return self.replace_stride_with_dilation

    def out_channels(self, stage: int) -> int:
        if self.block_widths is not None:  # every block of a stage ends at the same width
            return self.block_widths[BLOCK_TYPES[self.block].convs * sum(self.layers[: stage + 1]) - 1]
        return self.nominal_out_channels(stage)

    def nominal_out_channels(self, stage: int) -> int:
        """The stage's output channels before pruning (ECA's kernel follows them, as timm's
        pruned nets keep the unpruned gate)."""
        return self.stage_widths[stage] * self.expansion

    def block_channels(self, stage: int, index: int) -> tuple[int, ...]:
        """Output channels of each conv of block ``index`` of ``stage``: from block_widths
        (pruned), else the first width, (the inner width,) the stage's output."""
        convs = BLOCK_TYPES[self.block].convs
        if self.block_widths is not None:
            start = convs * (sum(self.layers[:stage]) + index)
            return self.block_widths[start : start + convs]
        middle = (self.inner_width(stage),) if convs == 3 else ()
        return (self.first_width(stage), *middle, self.out_channels(stage))

    @property
    def feature_channels(self) -> int:
        return self.out_channels(self.num_stages - 1)

    @property
    def output_stride(self) -> int:
        """Input pixels per pixel of the last stage's output: the stem's 4 (the cifar stem's
        1), times 2 for each later stage that is not dilated."""
        stem = 1 if self.stem is Stem.CIFAR else 4
        return stem * 2 ** sum(not d for d in self.dilations)

    @property
    def input_side(self) -> int:
        """The input's side the variant is made for: img_size, else 224 (the cifar stem's 32)."""
        if self.img_size is not None:
            return self.img_size
        return 32 if self.stem is Stem.CIFAR else 224

    @property
    def attn_grid(self) -> int:
        """Side of the grid the attention pool (head=attn) attends over: the input side over
        the output stride (a rule keeps it whole)."""
        return self.input_side // self.output_stride

    @property
    def biased_convs(self) -> bool:
        """Whether the convs carry a bias: conv_bias, or no norm to absorb one."""
        return self.conv_bias or self.norm is Norm.NONE

    @property
    def attn_heads(self) -> int:
        return self.feature_channels // HEAD_DIM

    def default_input_shape(self) -> tuple[int, int, int, int]:
        return (1, self.in_chans, self.input_side, self.input_side)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: enums as their values, tuples as lists."""
        return {f.name: jsonable(getattr(self, f.name)) for f in FIELDS}

    def replace(self, **overrides: Any) -> ResNetSpec:
        return with_overrides(self, overrides)

    def __str__(self) -> str:
        return spec_string(self)


FIELDS = dataclasses.fields(ResNetSpec)
FIELD_NAMES = tuple(f.name for f in FIELDS)
DEFAULTS = {f.name: f.default for f in FIELDS}


def parse_field(name: str, value: Any) -> Any:
    """Convert a user-supplied value (a string, or already typed) to the field's type."""
    if name not in FIELD_NAMES:
        raise SpecError(f"unknown spec key {name!r}{suggest_field(name)}")
    return parse_value(name, value)


def suggest_field(key: str) -> str:
    """'; did you mean X?' for a mistyped field, or for a field's flag name used as a key
    (``dilation`` is the flag of replace_stride_with_dilation)."""
    by_flag = {f.metadata["flag"].split("/")[0].removeprefix("--").replace("-", "_"): f.name for f in FIELDS}
    if key in by_flag:
        return f"; did you mean {by_flag[key]}?"
    return did_you_mean(key, FIELD_NAMES)


def with_overrides(base: ResNetSpec, overrides: Mapping[str, Any]) -> ResNetSpec:
    """Apply overrides to a spec. Changing the number of stages re-derives the per-stage
    fields (widths, dilation) unless they are overridden too."""
    values = {normalize_key(k): v for k, v in overrides.items() if v is not None}
    parsed = {k: parse_field(k, v) for k, v in values.items()}
    fields = {f: getattr(base, f) for f in FIELD_NAMES}
    if "layers" in parsed and len(parsed["layers"]) != base.num_stages:
        fields["widths"] = default_widths(len(parsed["layers"]), base.stage_widths[0])
        fields["replace_stride_with_dilation"] = None
    fields.update(parsed)
    return ResNetSpec(**fields)


# --- presets: one line of data per variant in presets.py, built here -----------------------
class _Presets(Mapping[str, ResNetSpec]):
    """The named variants, each built (and validated) the first time it is asked for: a
    command on one preset does not pay for building all of them at import (about 20 ms of a
    cold start)."""

    def __init__(self) -> None:
        self._built: dict[str, ResNetSpec] = {}

    def __getitem__(self, name: str) -> ResNetSpec:
        spec = self._built.get(name)
        if spec is None:
            spec = self._built[name] = ResNetSpec(**PRESET_FIELDS[name])
        return spec

    def __iter__(self) -> Iterator[str]:
        return iter(PRESET_FIELDS)

    def __len__(self) -> int:
        return len(PRESET_FIELDS)

    def __contains__(self, name: object) -> bool:
        return name in PRESET_FIELDS


PRESETS: Mapping[str, ResNetSpec] = _Presets()


def check_preset(name: str) -> None:
    if name not in PRESETS:
        raise SpecError(f"unknown architecture {name!r}{did_you_mean(name, PRESETS)}")


def differing_fields(a: ResNetSpec, b: ResNetSpec) -> list[tuple[str, Any, Any]]:
    return [(f, getattr(a, f), getattr(b, f)) for f in FIELD_NAMES if getattr(a, f) != getattr(b, f)]


def preset_name(spec: ResNetSpec) -> str | None:
    return next((name for name, p in PRESETS.items() if p == spec), None)


def preset_words(spec: ResNetSpec) -> str | None:
    """The preset ``spec`` is, in words: its name, or for a headless spec (num_classes=0) of a
    preset "resnet50 without its classifier (num_classes=0)"; None where neither."""
    named = preset_name(spec)
    if named is not None or spec.num_classes:
        return named
    whole = next((n for n, p in PRESETS.items() if p.replace(num_classes=0) == spec), None)
    return None if whole is None else f"{whole} without its classifier (num_classes=0)"


def spec_string(spec: ResNetSpec) -> str:
    """The shortest spec string for ``spec``: a preset name, or the nearest preset plus the
    fields that differ (``resnet50:groups=32,width_per_group=4``)."""
    named = preset_name(spec)  # the common case, without building every preset
    if named is not None:
        return named
    best = min(PRESETS, key=lambda name: len(differing_fields(PRESETS[name], spec)))
    diffs = differing_fields(PRESETS[best], spec)
    if not diffs:
        return best
    return best + ":" + ",".join(f"{name}={format_value(new)}" for name, _, new in diffs)

"""ResNetSpec: one frozen description of a ResNet variant, its presets, parsing and validation.

Pure Python: nothing here imports torch, so ``--help`` and argument errors stay instant.
The field names of :class:`ResNetSpec` are a contract: they are the spec-string keys
(``resnet50:groups=32``), the keywords of :func:`resnet_inspect.build` and the JSON keys.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .errors import SpecError, UsageError
from .presets import PRESET_FAMILIES, PRESET_FIELDS


class Block(str, Enum):
    BASIC = "basic"
    BOTTLENECK = "bottleneck"
    RESNEST = "resnest"  # split attention (Zhang et al. 2020): a bottleneck whose 3x3 is radix branches


class Stem(str, Enum):
    CLASSIC = "classic"  # 7x7/2 conv, BN, ReLU, 3x3/2 max-pool
    DEEP = "deep"  # ResNet-C: three 3x3 convs, then the max-pool
    TIERED = "tiered"  # timm's resnet*t: three 3x3 convs of 3*(w//4), w, 2w channels
    CIFAR = "cifar"  # one 3x3/1 conv, no max-pool (He et al. 2015, section 4.2)


class Shortcut(str, Enum):
    A = "A"  # identity; zero-padded channels and strided subsampling where the shape changes
    B = "B"  # projection only where the shape changes
    C = "C"  # projection in every block


class StrideIn(str, Enum):
    CONV3X3 = "3x3"  # torchvision's "v1.5": the 3x3 conv downsamples
    CONV1X1 = "1x1"  # the paper's original: the first 1x1 conv downsamples


class Attn(str, Enum):
    """Channel attention after a block's last norm, before the residual sum (timm's ``se``)."""

    NONE = "none"
    SE = "se"  # squeeze-excitation (Hu et al. 2018): mean, 1x1 reduce, ReLU, 1x1 expand, sigmoid
    ECA = "eca"  # efficient channel attention (Wang et al. 2020): mean, 1-D conv, sigmoid


class AntiAlias(str, Enum):
    """Anti-aliased downsampling (Zhang 2019; timm's ``aa_layer``): a strided conv becomes a
    stride-1 conv followed by a stride-2 filter, in the blocks and the stem's pool."""

    NONE = "none"
    AVG = "avg"  # a 2x2 average at stride 2
    BLUR = "blur"  # a 3x3 binomial blur at stride 2 (reflect padding)


class StemPool(str, Enum):
    MAX = "max"  # a 3x3/2 max-pool
    CONV = "conv"  # ResNet-RS: a 3x3/2 conv, norm and ReLU instead (timm's replace_stem_pool)


class Layout(str, Enum):
    """The network's module tree, hence its state-dict keys: which checkpoints load into it.
    Each layout is one network class (``model/build.py``'s NETWORKS)."""

    TORCHVISION = "torchvision"  # conv1, bn1, layer1..N.M, fc: torchvision and timm's resnet.py


class Norm(str, Enum):
    BATCH = "batch"
    GROUP = "group"  # GroupNorm with 32 groups
    NONE = "none"


@dataclass(frozen=True)
class BlockType:
    """What the spec needs to know of a block type, without torch: its channel expansion
    (output channels per unit of stage width) and the block-specific spec fields it reads.
    The module that builds it registers in ``model/registry.py``."""

    expansion: int
    fields: frozenset[str] = frozenset()


_GROUPED = frozenset({"groups", "width_per_group"})
_SPLIT_ATTENTION = frozenset({"radix", "avd", "avd_first"})
BLOCK_TYPES: dict[Block, BlockType] = {
    Block.BASIC: BlockType(expansion=1),
    Block.BOTTLENECK: BlockType(expansion=4, fields=_GROUPED | {"stride_in"}),
    Block.RESNEST: BlockType(expansion=4, fields=_GROUPED | _SPLIT_ATTENTION),
}
BLOCK_FIELDS: frozenset[str] = frozenset().union(*(t.fields for t in BLOCK_TYPES.values()))  # read by some blocks only
GROUP_NORM_GROUPS = 32


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

    block: Block = _field(Block.BOTTLENECK, "--block", "NAME", "basic, bottleneck or resnest")
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
    norm: Norm = _field(Norm.BATCH, "--norm", "NAME", "batch, group (32 groups) or none")
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
        StemPool.MAX, "--stem-pool", "NAME", "after the stem: max (pool) or conv (ResNet-RS)"
    )
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
    layout: Layout = _field(
        Layout.TORCHVISION, "--layout", "NAME", "module names, hence checkpoint keys: torchvision"
    )
    num_classes: int = _field(1000, "--num-classes", "N", "outputs of the classifier")
    in_chans: int = _field(3, "--in-chans", "N", "input channels")

    def __post_init__(self) -> None:
        for f in FIELDS:
            object.__setattr__(self, f.name, parse_field(f.name, getattr(self, f.name)))
        if self.widths is None:
            object.__setattr__(self, "widths", default_widths(len(self.layers)))
        if self.replace_stride_with_dilation is None:
            object.__setattr__(
                self, "replace_stride_with_dilation", (False,) * (len(self.layers) - 1)
            )
        _validate(self)

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
        """Channels inside a block of ``stage`` (the grouped 3x3 conv of a Bottleneck)."""
        planes = self.stage_widths[stage]
        if not self.uses("width_per_group"):
            return planes
        return int(planes * (self.width_per_group / 64.0)) * self.groups

    def first_width(self, stage: int) -> int:
        """Output channels of a block's first conv (the inner width, divided by reduce_first)."""
        return self.inner_width(stage) // self.reduce_first

    def attn_channels(self, stage: int) -> int:
        """Hidden channels of a ResNeSt block's split attention in ``stage``: timm's
        make_divisible(inner * radix / 4, divisor 8, at least 32), rounded to the nearest
        multiple of 8 and raised by 8 where that lost more than a tenth."""
        wanted = self.inner_width(stage) * self.radix * 0.25
        rounded = max(32, int(wanted + 4) // 8 * 8)
        return rounded + 8 if rounded < 0.9 * wanted else rounded

    def se_channels(self, channels: int) -> int:
        """Squeezed channels of the SE gate on ``channels``: timm's rule, channels /
        se_reduction rounded to the nearest multiple of 8 (halves up), at least 8."""
        return max(8, int(channels / self.se_reduction + 4) // 8 * 8)

    @property
    def stage_widths(self) -> tuple[int, ...]:
        assert self.widths is not None
        return self.widths

    @property
    def dilations(self) -> tuple[bool, ...]:
        assert self.replace_stride_with_dilation is not None
        return self.replace_stride_with_dilation

    def out_channels(self, stage: int) -> int:
        return self.stage_widths[stage] * self.expansion

    @property
    def feature_channels(self) -> int:
        return self.out_channels(self.num_stages - 1)

    def default_input_shape(self) -> tuple[int, int, int, int]:
        side = 32 if self.stem is Stem.CIFAR else 224
        return (1, self.in_chans, side, side)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: enums as their values, tuples as lists."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in FIELDS}

    def replace(self, **overrides: Any) -> ResNetSpec:
        return with_overrides(self, overrides)

    def __str__(self) -> str:
        return spec_string(self)


FIELDS = dataclasses.fields(ResNetSpec)
FIELD_NAMES = tuple(f.name for f in FIELDS)
_DEFAULTS = {f.name: f.default for f in FIELDS}

_CHOICES: dict[str, type[Enum]] = {
    "block": Block,
    "stem": Stem,
    "shortcut": Shortcut,
    "stride_in": StrideIn,
    "norm": Norm,
    "attn": Attn,
    "aa": AntiAlias,
    "stem_pool": StemPool,
    "layout": Layout,
}
_INTS = ("groups", "width_per_group", "stem_width", "num_classes", "in_chans", "se_reduction",
         "reduce_first", "down_kernel", "radix")  # fmt: skip
_FLOATS = ("drop_path",)
_BOOLS = ("avg_down", "zero_init_residual", "avd", "avd_first")
_INT_TUPLES = ("layers", "widths")
MAX_INT = 2**31 - 1  # any larger count overflows torch's tensor sizes
# Blocks in all stages together. The deepest published ResNet, ResNet-1202 (He et al. 2015,
# CIFAR-10), has 600; every block costs ~2 ms to build and trace, so 10,000 is a 20 s run and
# 10**6 never ends. 2,000 leaves room for experiments three times deeper than that.
MAX_BLOCKS = 2000
_TRUE = ("1", "true", "yes", "on", "y", "t")
_FALSE = ("0", "false", "no", "off", "n", "f")


def default_widths(num_stages: int, base: int = 64) -> tuple[int, ...]:
    return tuple(base * 2**i for i in range(num_stages))


# --- presets: one line of data per variant, in presets.py ---------------------------------
DEFAULT_ARCH = "resnet50"


# --- parsing ------------------------------------------------------------------------------
def normalize_key(key: str) -> str:
    return key.strip().replace("-", "_").lower()


def parse_field(name: str, value: Any) -> Any:
    """Convert a user-supplied value (a string, or already typed) to the field's type."""
    if name not in FIELD_NAMES:
        raise SpecError(f"unknown spec key {name!r}{_suggest_field(name)}")
    if value is None:
        return None
    if name in _CHOICES:
        return _parse_choice(name, value, _CHOICES[name])
    if name in _INTS:
        return _parse_int(name, value)
    if name in _BOOLS:
        return _parse_bool(name, value)
    if name in _FLOATS:
        return _parse_rate(name, value)
    if name in _INT_TUPLES:
        return _parse_tuple(name, value, _parse_int)
    return _parse_tuple(name, value, _parse_bool)


def _parse_choice(name: str, value: Any, enum: type[Enum]) -> Enum:
    if isinstance(value, enum):
        return value
    text = str(value.value if isinstance(value, Enum) else value).strip()
    for member in enum:
        if text.lower() == str(member.value).lower():
            return member
    allowed = ", ".join(str(m.value) for m in enum)
    raise SpecError(f"{name}: {text!r} is not one of {allowed}")


def _parse_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise SpecError(f"{name}: expected a whole number, got {value!r}")
    if isinstance(value, int):
        number = value
    else:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise SpecError(f"{name}: expected a whole number, got {value!r}") from None
    if number < 1:
        raise SpecError(f"{name}: must be at least 1, got {number}")
    if number > MAX_INT:
        raise SpecError(f"{name}: {number} is too large (at most {MAX_INT})")
    return number


def _parse_rate(name: str, value: Any) -> float:
    """A probability in [0, 1)."""
    if isinstance(value, bool):
        raise SpecError(f"{name}: expected a number from 0 to below 1, got {value!r}")
    try:
        number = float(value if isinstance(value, (int, float)) else str(value).strip())
    except ValueError:
        raise SpecError(f"{name}: expected a number from 0 to below 1, got {value!r}") from None
    if not 0.0 <= number < 1.0:  # also refuses nan
        raise SpecError(f"{name}: must be from 0 to below 1, got {value!r}")
    return number


def _parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SpecError(f"{name}: expected true or false, got {value!r}")


def _parse_tuple(name: str, value: Any, item: Any) -> tuple[Any, ...]:
    if isinstance(value, str) and not value.strip() and name == "replace_stride_with_dilation":
        parts: list[Any] = []  # a one-stage network has no stage to dilate
    elif isinstance(value, str):
        # commas or spaces separate ("3,4,6,3", "3 4 6 3", "3, 4"); removing the spaces
        # instead would join the digits ("3 4 6 3" was one stage of 3,463 blocks)
        parts = re.split(r"\s*,\s*|\s+", value.strip())
        if any(p == "" for p in parts):
            raise SpecError(f"{name}: expected values separated by commas or spaces, got {value!r}")
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        raise SpecError(f"{name}: expected comma-separated values, got {value!r}")
    if not parts and name != "replace_stride_with_dilation":
        raise SpecError(f"{name}: needs at least one value")
    return tuple(item(name, p) for p in parts)


def parse_spec_string(text: str) -> tuple[str | None, dict[str, str]]:
    """Split ``"resnet50:groups=32,width_per_group=4"`` into a preset and raw overrides.

    A comma-separated list value continues until the next ``key=``:
    ``"layers=2,2,2,2,block=basic"``. A string with ``=`` but no preset (``"block=basic"``)
    has no preset.
    """
    text = text.strip()
    if not text:
        raise SpecError("empty architecture: give a preset name or key=value overrides")
    head, sep, tail = text.partition(":")
    if not sep and "=" in head:
        head, tail = "", head
    preset = head.strip() or None
    if preset is not None:
        check_preset(preset)
    return preset, _parse_overrides(tail, text)


def _parse_overrides(tail: str, whole: str) -> dict[str, str]:
    overrides: dict[str, str] = {}
    key: str | None = None
    for token in (t.strip() for t in tail.split(",")):
        if "=" in token:
            raw_key, _, value = token.partition("=")
            key = normalize_key(raw_key)
            if key not in FIELD_NAMES:
                raise SpecError(f"unknown spec key {raw_key.strip()!r} in {whole!r}{_suggest_field(key)}")
            if key in overrides:
                raise SpecError(f"spec key {key!r} given twice in {whole!r}")
            overrides[key] = value.strip()
        elif key is not None and token:
            overrides[key] += "," + token
        elif token or tail.strip():
            raise SpecError(f"cannot parse {whole!r}: expected key=value after ':'")
    return overrides


def presets_of_family(family: str | None) -> tuple[str, ...]:
    """The preset names of ``family`` (all of them for None), in table order."""
    if family is None:
        return tuple(PRESET_FIELDS)
    key = normalize_key(family)
    if key not in PRESET_FAMILIES:
        allowed = ", ".join(PRESET_FAMILIES)
        raise UsageError(f"family: {family!r} is not one of {allowed}", subject="family")
    return tuple(PRESET_FAMILIES[key])


def check_preset(name: str) -> None:
    if name not in PRESETS:
        raise SpecError(f"unknown architecture {name!r}{_did_you_mean(name, PRESETS)}")


def _suggest_field(key: str) -> str:
    """'; did you mean X?' for a mistyped field, or for a field's flag name used as a key
    (``dilation`` is the flag of replace_stride_with_dilation)."""
    by_flag = {f.metadata["flag"].split("/")[0].removeprefix("--").replace("-", "_"): f.name for f in FIELDS}
    if key in by_flag:
        return f"; did you mean {by_flag[key]}?"
    return _did_you_mean(key, FIELD_NAMES)


def _did_you_mean(name: str, choices: Any) -> str:
    # Ties go to the earlier choice, so 'resnet5' suggests resnet50, not resnet56.
    # A choice that starts with what was typed is preferred: 'resnext50' -> resnext50_32x4d.
    scored = [
        (difflib.SequenceMatcher(None, name, c).ratio() + 0.5 * c.startswith(name), -i, c)
        for i, c in enumerate(choices)
    ]
    score, _, best = max(scored, default=(0.0, 0, ""))
    return f"; did you mean {best}?" if score >= 0.6 else ""


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


def resolve(arch: str | ResNetSpec | None = None, **overrides: Any) -> ResNetSpec:
    """A preset name or spec string (or a spec), plus keyword overrides, to a ResNetSpec.

    With neither an architecture nor overrides the variant is resnet50; with overrides
    only, they apply to the default spec (which is resnet50's).
    """
    if isinstance(arch, ResNetSpec):
        return with_overrides(arch, overrides)
    preset, from_string = parse_spec_string(arch) if arch is not None else (None, {})
    base = PRESETS[preset] if preset else PRESETS[DEFAULT_ARCH]
    merged: dict[str, Any] = dict(from_string)
    merged.update({normalize_key(k): v for k, v in overrides.items() if v is not None})
    return with_overrides(base, merged)


def parse_dims(text: str, flag: str, layout: str, example: str, hint: str = "") -> tuple[int, ...]:
    """``"1x3x224x224"`` to positive ints, as many as ``layout`` ("BxCxHxW") names."""
    parts = text.strip().lower().replace("*", "x").split("x")
    count = len(layout.split("x"))
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if len(dims) != count:
        raise UsageError(
            f"{flag} {text!r}: expected {layout}, {count} positive whole numbers like {example}{hint}"
        )
    if any(d < 1 for d in dims):
        raise UsageError(f"{flag} {text!r}: every dimension must be at least 1")
    if any(d > MAX_INT for d in dims):
        raise UsageError(f"{flag} {text!r}: a dimension is larger than {MAX_INT}")
    return dims


def parse_input_shape(text: str, flag: str = "--input") -> tuple[int, int, int, int]:
    """``"1x3x224x224"`` to a 4-tuple of positive ints."""
    b, c, h, w = parse_dims(text, flag, "BxCxHxW", "1x3x224x224")
    return b, c, h, w


# --- validation ---------------------------------------------------------------------------
def _validate(spec: ResNetSpec) -> None:
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
    if spec.norm is Norm.GROUP:
        _check_group_norm(spec)


_UNUSED_FIELD_HINT = {
    "groups": "it has no grouped conv; use block=bottleneck for ResNeXt or wide variants",
    "width_per_group": "it has no grouped conv; use block=bottleneck for ResNeXt or wide variants",
    "stride_in": "it has no 1x1 conv to stride",
    "radix": "it has no split attention; use block=resnest",
    "avd": "it has no split attention; use block=resnest",
    "avd_first": "it has no split attention; use block=resnest",
}


def _check_block_fields(spec: ResNetSpec) -> None:
    """A block-specific field set on a block type that does not read it is a mistake, not a
    no-op: ``resnet18:groups=32`` would silently build resnet18."""
    changed = [f for f in sorted(BLOCK_FIELDS) if not spec.uses(f) and getattr(spec, f) != _DEFAULTS[f]]
    if changed:
        users = ", ".join(b.value for b, t in BLOCK_TYPES.items() if changed[0] in t.fields)
        given = ", ".join(f"{f}={_fmt(getattr(spec, f))}" for f in changed)
        raise SpecError(
            f"{given}: applies to {users} blocks only; a {spec.block.value} block ignores it "
            f"({_UNUSED_FIELD_HINT.get(changed[0], 'not read by this block type')})"
        )


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
    if spec.stem_pool is StemPool.CONV and spec.stem is Stem.CIFAR:
        raise SpecError("stem_pool=conv: the cifar stem has no pool to replace")
    if spec.se_reduction != _DEFAULTS["se_reduction"] and spec.attn is not Attn.SE:
        raise SpecError(
            f"se_reduction={spec.se_reduction}: applies to attn=se only (attn is {spec.attn.value})"
        )
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
        counts += [spec.first_width(stage), spec.inner_width(stage), spec.out_channels(stage)]
        if spec.block is Block.RESNEST:  # the radix branches, the attention's hidden layer
            counts += [spec.inner_width(stage) * spec.radix, spec.attn_channels(stage)]
    return counts


def _check_group_norm(spec: ResNetSpec) -> None:
    for count in normalized_channels(spec):
        if count % GROUP_NORM_GROUPS:
            raise SpecError(
                f"norm=group: {count} channels cannot be split into {GROUP_NORM_GROUPS} groups; "
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


# --- formatting ---------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(_fmt(v) for v in value)
    return str(value)


format_value = _fmt


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def differing_fields(a: ResNetSpec, b: ResNetSpec) -> list[tuple[str, Any, Any]]:
    return [(f, getattr(a, f), getattr(b, f)) for f in FIELD_NAMES if getattr(a, f) != getattr(b, f)]


def preset_name(spec: ResNetSpec) -> str | None:
    return next((name for name, p in PRESETS.items() if p == spec), None)


def spec_string(spec: ResNetSpec) -> str:
    """The shortest spec string for ``spec``: a preset name, or the nearest preset plus the
    fields that differ (``resnet50:groups=32,width_per_group=4``)."""
    best = min(PRESETS, key=lambda name: len(differing_fields(PRESETS[name], spec)))
    diffs = differing_fields(PRESETS[best], spec)
    if not diffs:
        return best
    return best + ":" + ",".join(f"{name}={_fmt(new)}" for name, _, new in diffs)


PRESETS: dict[str, ResNetSpec] = {name: ResNetSpec(**f) for name, f in PRESET_FIELDS.items()}

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
    RES2NET = "res2net"  # a bottleneck whose 3x3 is hierarchical splits (Gao et al. 2019)
    # Selective kernel (Li et al. 2019; timm's sknet.py): the 3x3 conv becomes two paths, a 3x3
    # and a dilated 3x3 (timm's stand-in for a 5x5), mixed by a softmax attention over the paths
    SK_BASIC = "sk_basic"
    SK_BOTTLENECK = "sk_bottleneck"


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
    MAX_CEIL = "max_ceil"  # legacy SENet (Caffe's): a 3x3/2 max-pool, no padding, ceil mode
    FIXED = "fixed"  # BiT: zero padding, then a 3x3/2 max-pool without padding (timm's 'fixed')


class SERounding(str, Enum):
    """How the SE gate's squeezed width follows from channels / se_reduction."""

    NEAREST8 = "nearest8"  # timm's resnet.py: to the nearest multiple of 8 (halves up), at least 8
    FLOOR = "floor"  # legacy SENet (Hu et al.'s code): channels // se_reduction


class Conv(str, Enum):
    """The convolutions' weights as the forward uses them."""

    PLAIN = "plain"
    STD = "std"  # BiT's weight standardisation (Qiao et al. 2019): each filter to mean 0, variance 1


class Layout(str, Enum):
    """The network's module tree, hence its state-dict keys: which checkpoints load into it.
    Each layout is one network class (``model/build.py``'s NETWORKS)."""

    TORCHVISION = "torchvision"  # conv1, bn1, layer1..N.M, fc: torchvision and timm's resnet.py
    SENET = "senet"  # layer0.conv1/bn1, pool0, layer1..N.M (se_module), last_linear: timm's senet.py
    RESNETV2 = "resnetv2"  # stem.*, stages.N.blocks.M, norm, head.fc: timm's resnetv2.py


class Norm(str, Enum):
    BATCH = "batch"
    GROUP = "group"  # GroupNorm with 32 groups
    NONE = "none"
    EVONORM = "evonorm"  # EvoNorm-S0 (Liu et al. 2020), 32 groups: norm and activation in one
    FRN = "frn"  # Filter Response Normalisation with its TLU (Singh & Krishnan 2020)


@dataclass(frozen=True)
class BlockType:
    """What the spec needs to know of a block type, without torch: its channel expansion
    (output channels per unit of stage width) and the block-specific spec fields it reads.
    The module that builds it registers in ``model/registry.py``."""

    expansion: int
    convs: int  # convolutions on the residual branch, each with its width in block_widths
    fields: frozenset[str] = frozenset()


_GROUPED = frozenset({"groups", "width_per_group"})
_SPLIT_ATTENTION = frozenset({"radix", "avd", "avd_first"})
SK_FIELDS = frozenset({"sk_reduction", "sk_divisor", "sk_split"})
BLOCK_TYPES: dict[Block, BlockType] = {
    Block.BASIC: BlockType(expansion=1, convs=2, fields=frozenset({"branch_relu"})),
    Block.BOTTLENECK: BlockType(expansion=4, convs=3, fields=_GROUPED | {"stride_in"}),
    # width_per_group is timm's base_width: each split has int(planes * it / 64) * groups channels
    Block.RES2NET: BlockType(expansion=4, convs=3, fields=_GROUPED | {"scale"}),
    Block.RESNEST: BlockType(expansion=4, convs=3, fields=_GROUPED | _SPLIT_ATTENTION),
    Block.SK_BASIC: BlockType(expansion=1, convs=2, fields=SK_FIELDS),
    # the selective-kernel conv always takes the block's stride: no stride_in
    Block.SK_BOTTLENECK: BlockType(expansion=4, convs=3, fields=SK_FIELDS | _GROUPED),
}
BLOCK_FIELDS: frozenset[str] = frozenset().union(*(t.fields for t in BLOCK_TYPES.values()))  # read by some blocks only
# Res2Net splits per block: the paper goes to 8; each split is its own conv, so the build and
# the trace grow with it, and 64 leaves room for experiments well past the paper's.
MAX_SCALE = 64
SK_PATHS = 2  # timm's kernel sizes (3, 5), each path a 3x3 of dilation (k - 1) / 2: 1 and 2
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
        wanted = self.inner_width(stage) * self.radix * 0.25
        rounded = max(32, int(wanted + 4) // 8 * 8)
        return rounded + 8 if rounded < 0.9 * wanted else rounded

    def se_channels(self, channels: int) -> int:
        """Squeezed channels of the SE gate on ``channels``: timm's rule, channels /
        se_reduction rounded to the nearest multiple of 8 (halves up), at least 8; or legacy
        SENet's, channels // se_reduction (se_rounding=floor)."""
        if self.se_rounding is SERounding.FLOOR:
            return channels // self.se_reduction
        return max(8, int(channels / self.se_reduction + 4) // 8 * 8)

    def sk_channels(self, channels: int) -> int:
        """Channels of the selective-kernel attention on ``channels``: timm's make_divisible,
        channels / sk_reduction rounded to the nearest multiple of sk_divisor (halves up), at
        least sk_divisor, and raised by one multiple where rounding lost more than 10%."""
        exact = channels / self.sk_reduction
        rounded = max(self.sk_divisor, int(exact + self.sk_divisor / 2) // self.sk_divisor * self.sk_divisor)
        return rounded + self.sk_divisor if rounded < 0.9 * exact else rounded

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
    "se_rounding": SERounding,
    "layout": Layout,
    "conv": Conv,
}
_INTS = ("groups", "width_per_group", "stem_width", "num_classes", "in_chans", "se_reduction",
         "reduce_first", "down_kernel", "radix", "scale", "sk_reduction", "sk_divisor")  # fmt: skip
_FLOATS = ("drop_path",)
_BOOLS = ("avg_down", "zero_init_residual", "avd", "avd_first", "sk_split", "branch_relu", "preact")
_INT_TUPLES = ("layers", "widths", "block_widths")
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
    if sep and not head.strip() and not tail.strip():
        raise SpecError(f"{text!r}: no preset before ':' and no key=value after it")
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
}
_SK_STRIDE_HINT = "its selective-kernel conv takes the stride"


def _check_block_fields(spec: ResNetSpec) -> None:
    """A block-specific field set on a block type that does not read it is a mistake, not a
    no-op: ``resnet18:groups=32`` would silently build resnet18."""
    changed = [f for f in sorted(BLOCK_FIELDS) if not spec.uses(f) and getattr(spec, f) != _DEFAULTS[f]]
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
        if getattr(spec, name) != _DEFAULTS[name] and spec.attn is not Attn.SE:
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
        if getattr(spec, name) != _DEFAULTS[name]:
            raise SpecError(f"{name}={getattr(spec, name)}: block_widths sets every conv's width; "
                            f"{name} cannot apply (leave it at {_DEFAULTS[name]})")  # fmt: skip
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
        if getattr(spec, name) != _DEFAULTS[name]:
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

"""The options a spec chooses among: the enums of its fields and the table of block types.

Pure Python, no torch (as the whole spec package).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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
    # OpenAI CLIP's ModifiedResNet (and open_clip's), without "visual.": conv1..3/bn1..3 stem,
    # layer1..N.M as torchvision's, avg_down shortcuts as downsample.-1 (pool), .0, .1; attnpool
    CLIP = "clip"


class Head(str, Enum):
    """What turns the last stage's features into the outputs."""

    AVG = "avg"  # global average pooling, then a linear classifier (fc)
    # CLIP's attention pool (Radford et al. 2021): the mean token, with a learned positional
    # embedding, attends over the grid (q/k/v projections, heads of HEAD_DIM), then c_proj
    ATTN = "attn"


class Norm(str, Enum):
    BATCH = "batch"
    GROUP = "group"  # GroupNorm with 32 groups
    NONE = "none"
    EVONORM = "evonorm"  # EvoNorm-S0 (Liu et al. 2020), 32 groups: norm and activation in one
    FRN = "frn"  # Filter Response Normalisation with its TLU (Singh & Krishnan 2020)


@dataclass(frozen=True)
class BlockKeys:
    """Where a block type shows in a checkpoint of the torchvision and legacy SENet layouts
    (paths under ``layerN.M.``, without ``.weight``): what identify reads it by."""

    markers: tuple[str, ...]  # convs of layer1.0 that mark this type (all present)
    evidence: str  # identify's words for that finding
    width_conv: str  # the conv whose output channels are the stage width x expansion
    first_convs: tuple[str, str]  # the block's first conv and the one after it
    grouped_conv: str | None = None  # the conv whose shape gives groups and width_per_group


@dataclass(frozen=True)
class BlockType:
    """Everything known of a block type without torch, in one record: its channel expansion
    (output channels per unit of stage width), the convolutions on its branch, the
    block-specific spec fields it reads, its checkpoint keys, and how many 2-D convs a trace
    sees on its branch. The module that builds it registers in ``model/registry.py``; the
    block zeroes its own last layer (``ResidualBlock.zero_init_last``: the last norm, or a
    pre-activation block's last conv)."""

    expansion: int
    convs: int  # convolutions on the residual branch, each with its width in block_widths
    keys: BlockKeys
    traced_convs: int  # 2-D convs a trace sees on the branch (a selective-kernel conv: its paths' one and its attention's two)
    fields: frozenset[str] = frozenset()
    per_split_convs: bool = False  # Res2Net: one more 3x3 per split after the first two

    def branch_convs(self, scale: int) -> int:
        """2-D convs a trace sees on the branch of one block (``scale``: Res2Net's splits)."""
        return self.traced_convs + (max(1, scale - 1) if self.per_split_convs else 0)


_GROUPED = frozenset({"groups", "width_per_group"})
# the blocks whose every conv and norm comes from the spec (others build attention or split
# convs of their own, without biases and at eps 1e-5, as timm's do)
_PLAIN = frozenset({"conv_bias", "bn_eps"})
_SPLIT_ATTENTION = frozenset({"radix", "avd", "avd_first"})
SK_FIELDS = frozenset({"sk_reduction", "sk_divisor", "sk_split"})
BLOCK_TYPES: dict[Block, BlockType] = {
    Block.BASIC: BlockType(
        expansion=1, convs=2, traced_convs=2, fields=_PLAIN | {"branch_relu"},
        keys=BlockKeys((), "layer1.0.conv3.weight absent: two 3x3 convs per block",
                       width_conv="conv2", first_convs=("conv1", "conv2")),
    ),
    Block.BOTTLENECK: BlockType(
        expansion=4, convs=3, traced_convs=3, fields=_PLAIN | _GROUPED | {"stride_in"},
        keys=BlockKeys(("conv3",), "layer1.0.conv3.weight present", width_conv="conv3",
                       first_convs=("conv1", "conv2"), grouped_conv="conv2"),
    ),
    # width_per_group is timm's base_width: each split has int(planes * it / 64) * groups
    # channels; a trace sees conv1, the split 3x3s and conv3
    Block.RES2NET: BlockType(
        expansion=4, convs=3, traced_convs=2, per_split_convs=True, fields=_GROUPED | {"scale"},
        keys=BlockKeys(("convs.0",), "layer1.0.convs.0.weight present: a 3x3 conv per split (Res2Net)",
                       width_conv="conv3", first_convs=("conv1", "convs.0"), grouped_conv="convs.0"),
    ),
    # a trace sees conv1, the split-attention conv and its fc1 and fc2, conv3
    Block.RESNEST: BlockType(
        expansion=4, convs=3, traced_convs=5, fields=_GROUPED | _SPLIT_ATTENTION,
        keys=BlockKeys(("conv2.conv", "conv2.fc1"),
                       "layer1.0.conv2.conv and conv2.fc1 present: split attention (ResNeSt)",
                       width_conv="conv3", first_convs=("conv1", "conv2.conv"), grouped_conv="conv2.fc1"),
    ),
    Block.SK_BASIC: BlockType(
        expansion=1, convs=2, traced_convs=4, fields=SK_FIELDS,
        keys=BlockKeys(("conv1.paths.0.conv",), "layer1.0.conv1.paths: a selective-kernel conv, then a 3x3",
                       width_conv="conv2.conv", first_convs=("conv1.paths.0.conv", "conv2.conv")),
    ),
    # the selective-kernel conv always takes the block's stride: no stride_in
    Block.SK_BOTTLENECK: BlockType(
        expansion=4, convs=3, traced_convs=5, fields=SK_FIELDS | _GROUPED,
        keys=BlockKeys(("conv3.conv",), "layer1.0.conv2.paths: a selective-kernel conv between two 1x1",
                       width_conv="conv3.conv", first_convs=("conv1.conv", "conv2.paths.0.conv"),
                       grouped_conv="conv2.paths.0.conv"),
    ),
}  # fmt: skip
BLOCK_FIELDS: frozenset[str] = frozenset().union(*(t.fields for t in BLOCK_TYPES.values()))  # read by some blocks only
# Res2Net splits per block: the paper goes to 8; each split is its own conv, so the build and
# the trace grow with it, and 64 leaves room for experiments well past the paper's.
MAX_SCALE = 64
SK_PATHS = 2  # timm's kernel sizes (3, 5), each path a 3x3 of dilation (k - 1) / 2: 1 and 2
GROUP_NORM_GROUPS = 32
# channels per attention head of head=attn: OpenAI CLIP's heads = width * 32 // 64 over
# width * 32 features (clip/model.py), timm's AttentionPool2d head_dim=64: 64 in every model
HEAD_DIM = 64

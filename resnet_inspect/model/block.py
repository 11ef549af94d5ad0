"""The block protocol: what every residual block type declares, and its one generic forward.

A block type is a subclass of :class:`ResidualBlock` that builds its children from a
:class:`BlockContext` and declares, as class attributes, the shape of its graph:

- ``main``: the children of the residual branch, in the order they run; an optional part
  (anti-aliasing ``aa``, channel attention ``se``, ``drop_path``) is None where the spec
  has none, and is skipped;
- ``post``: the children applied after the merge (the last ReLU);
- ``pre``: the children applied before the branches part (a pre-activation block's first norm,
  empty elsewhere): the residual branch and a projection shortcut read their output, an
  identity shortcut the block's own input;
- ``zero_init_name``: the layer whose weight ``zero_init_residual`` zeroes (a dotted path in a
  child): the branch's last norm, or its last conv where the branch ends in one;
- the shortcut is the child ``downsample`` (None: identity).

A layout may name the attention child differently (``BlockContext.attn_name``: legacy SENet's
``se_module``); ``main`` still calls it ``se``, and ``attn_name`` says where it lives.

Everything else reads the protocol instead of testing block types: the network builder takes
the class from ``registry.BLOCKS``, the trace finds a block's shortcut for the memory estimate,
the receptive field follows the tensors through both branches, and the block's expansion and
the spec fields it reads come from ``spec.BLOCK_TYPES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ..spec import BLOCK_TYPES, AntiAlias, Attn, Block, ResNetSpec
from .layers import DropPath, EfficientChannelAttention, SqueezeExcite, eca_kernel, make_aa


@dataclass(frozen=True)
class BlockContext:
    """Where a block sits and what it must produce."""

    spec: ResNetSpec
    stage: int  # 0-based
    in_ch: int
    planes: int  # the stage's base width; the block outputs planes * expansion channels
    stride: int
    dilation: int  # of the block's later convs
    first_dilation: int  # of its first strided conv (the previous stage's dilation)
    drop_path: float = 0.0  # this block's stochastic-depth rate
    attn_name: str = "se"  # the layout's name for the attention child (legacy SENet: se_module)
    index: int = 0  # the block's place in its stage

    @property
    def bias(self) -> bool:
        """Convs carry a bias where there is no norm to absorb it, or conv_bias (Keras)."""
        return self.spec.biased_convs

    @property
    def channels(self) -> tuple[int, ...]:
        """Output channels of each of the block's convs (``spec.block_channels``)."""
        return self.spec.block_channels(self.stage, self.index)

    @property
    def out_ch(self) -> int:
        return self.channels[-1]


class ResidualBlock(nn.Module):
    """out = post(main(x) + shortcut(x)). Subclasses declare ``kind``, ``main``, ``post`` and
    ``zero_init_name`` and build those children; the forward is this one."""

    kind: ClassVar[Block]
    main: ClassVar[tuple[str, ...]]
    post: ClassVar[tuple[str, ...]]
    zero_init_name: ClassVar[str]
    pre: ClassVar[tuple[str, ...]] = ()
    shortcut_name: ClassVar[str] = "downsample"
    attn_name: str = "se"  # the child that ``main``'s "se" names, set from the context
    downsample: nn.Module | None
    aa: nn.Module | None
    se: nn.Module | None
    drop_path: nn.Module | None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.expansion = BLOCK_TYPES[cls.kind].expansion  # one source: the spec's block table

    expansion: ClassVar[int]

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.main:
            part = getattr(self, self.attn_name if name == "se" else name)
            if part is not None:
                x = part(x)
        return x

    def add_optional_parts(self, ctx: BlockContext, aa_channels: int) -> bool:
        """Sets ``aa``, ``se`` and ``drop_path`` (None where the spec has none); returns
        whether the block's strided conv hands its stride to the anti-aliasing filter (timm:
        where the block strides, or where a dilated stage's first block changes dilation)."""
        spec = ctx.spec
        use_aa = spec.aa is not AntiAlias.NONE and (ctx.stride == 2 or ctx.first_dilation != ctx.dilation)
        self.aa = make_aa(spec.aa, aa_channels, ctx.stride) if use_aa else None
        self.attn_name = ctx.attn_name
        setattr(self, ctx.attn_name, make_attn(spec, ctx.out_ch, spec.nominal_out_channels(ctx.stage)))
        self.drop_path = DropPath(ctx.drop_path) if ctx.drop_path > 0 else None
        return use_aa

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample is None:
            # no local name holds the pre-activated input: it is freed once the branch has read
            # it (as the inference-peak estimate assumes), not when the block returns
            out = self.residual(self._pre(x))
            shortcut = x
        else:
            shared = self._pre(x)
            out = self.residual(shared)
            shortcut = self.downsample(shared)
        out = out + shortcut
        for name in self.post:
            out = getattr(self, name)(out)
        return out

    def _pre(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.pre:
            x = getattr(self, name)(x)
        return x

    def zero_init_last(self) -> None:
        """``zero_init_residual`` (timm's ``zero_init_last``): zero the weight of the branch's
        last layer (``zero_init_name``), so that the block starts as its shortcut. A norm
        without a scale (``norm=none``) leaves nothing to zero."""
        weight = getattr(self.get_submodule(self.zero_init_name), "weight", None)
        if isinstance(weight, torch.Tensor):
            nn.init.zeros_(weight)


def zero_init_residuals(model: nn.Module) -> None:
    """``zero_init_residual``: every residual block of ``model`` starts as its shortcut."""
    for m in model.modules():
        if isinstance(m, ResidualBlock):
            m.zero_init_last()


def make_attn(spec: ResNetSpec, channels: int, nominal: int) -> nn.Module | None:
    """The block's gate on ``channels``; ECA's kernel follows the ``nominal`` (unpruned) width,
    as in timm's pruned nets, whose pruning resizes convs, norms and linears only."""
    if spec.attn is Attn.SE:
        return SqueezeExcite(channels, spec.se_channels(channels))
    if spec.attn is Attn.ECA:
        return EfficientChannelAttention(channels, eca_kernel(nominal))
    return None

"""The block protocol: what every residual block type declares, and its one generic forward.

A block type is a subclass of :class:`ResidualBlock` that builds its children from a
:class:`BlockContext` and declares, as class attributes, the shape of its graph:

- ``main``: the children of the residual branch, in the order they run;
- ``post``: the children applied after the merge (the last ReLU);
- ``last_norm_name``: the norm ``zero_init_residual`` zeroes;
- the shortcut is the child ``downsample`` (None: identity).

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

from ..spec import BLOCK_TYPES, Block, Norm, ResNetSpec


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

    @property
    def bias(self) -> bool:
        """Convs carry a bias only when there is no norm to absorb it."""
        return self.spec.norm is Norm.NONE

    @property
    def out_ch(self) -> int:
        return self.planes * self.spec.expansion


class ResidualBlock(nn.Module):
    """out = post(main(x) + shortcut(x)). Subclasses declare ``kind``, ``main``, ``post`` and
    ``last_norm_name`` and build those children; the forward is this one."""

    kind: ClassVar[Block]
    main: ClassVar[tuple[str, ...]]
    post: ClassVar[tuple[str, ...]]
    last_norm_name: ClassVar[str]
    shortcut_name: ClassVar[str] = "downsample"
    downsample: nn.Module | None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.expansion = BLOCK_TYPES[cls.kind].expansion  # one source: the spec's block table

    expansion: ClassVar[int]

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.main:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.residual(x)
        shortcut = x if self.downsample is None else self.downsample(x)
        out = out + shortcut
        for name in self.post:
            out = getattr(self, name)(out)
        return out

    @property
    def last_norm(self) -> nn.Module:
        return getattr(self, self.last_norm_name)

"""Res2Net (Gao et al. 2019): a bottleneck whose 3x3 stage is a hierarchy of narrow splits.

The first 1x1 conv's output is cut into ``scale`` splits of ``width`` channels. Split 1 goes
through its own 3x3 conv; split i > 1 adds the previous split's output to its own input
first, so the last convolved split has passed a chain of ``scale - 1`` 3x3s (a wider
receptive field at no extra width). The last split is passed on as it is, not convolved. The
splits are concatenated again for the closing 1x1.

A block that changes the shape (timm's ``is_first``: it strides, or has a projection
shortcut) has no hierarchy: each split is convolved from its own input at the block's
stride, and the last split, which has no conv, is average-pooled (3x3, padding 1, padded
zeros counted) to the same size. Names follow timm's Bottle2neck (conv1/bn1, convs.i/bns.i,
pool, conv3/bn3) so its checkpoints load strictly; the activations are separate modules
(relus.i, one per split) so each split's ReLU is its own traced row.
"""

from __future__ import annotations

import torch
from torch import nn

from ..spec import Block
from .block import BlockContext, ResidualBlock
from .layers import conv1x1, conv3x3, make_norm


class Res2NetBlock(ResidualBlock):
    kind = Block.RES2NET
    # residual() runs these in order, the split stage (convs, bns, relus, pool) in the middle
    main = ("conv1", "bn1", "relu1", "convs", "conv3", "bn3", "se", "drop_path")
    post = ("relu3",)
    zero_init_name = "bn3"

    def __init__(self, ctx: BlockContext, downsample: nn.Module | None) -> None:
        super().__init__()
        spec, bias = ctx.spec, ctx.bias
        self.width = width = spec.inner_width(ctx.stage)  # of one split
        self.scale = spec.scale
        self.is_first = ctx.stride > 1 or downsample is not None
        self.add_optional_parts(ctx, width)  # attention, drop path (the spec refuses aa)
        convolved = max(1, self.scale - 1)
        self.conv1 = conv1x1(ctx.in_ch, width * self.scale, bias=bias)
        self.bn1 = make_norm(spec.norm, width * self.scale)
        self.relu1 = nn.ReLU(inplace=True)
        self.convs = nn.ModuleList(
            conv3x3(width, width, ctx.stride, spec.groups, ctx.first_dilation, bias=bias)
            for _ in range(convolved)
        )
        self.bns = nn.ModuleList(make_norm(spec.norm, width) for _ in range(convolved))
        self.relus = nn.ModuleList(nn.ReLU(inplace=True) for _ in range(convolved))
        # the unconvolved last split must shrink with the others in a strided block
        self.pool = nn.AvgPool2d(3, ctx.stride, padding=1) if self.is_first and self.scale > 1 else None
        self.conv3 = conv1x1(width * self.scale, ctx.out_ch, bias=bias)
        self.bn3 = make_norm(spec.norm, ctx.out_ch)
        self.downsample = downsample
        self.relu3 = nn.ReLU(inplace=True)

    def split_stage(self, x: torch.Tensor) -> torch.Tensor:
        """Split, convolve the splits (each on the previous one's output too, unless the
        block changes the shape), concatenate."""
        splits = torch.split(x, self.width, 1)
        outs: list[torch.Tensor] = []
        for i, (conv, bn, relu) in enumerate(zip(self.convs, self.bns, self.relus, strict=True)):
            sp = splits[i] if i == 0 or self.is_first else outs[-1] + splits[i]
            outs.append(relu(bn(conv(sp))))
        if self.scale > 1:
            outs.append(self.pool(splits[-1]) if self.pool is not None else splits[-1])
        return torch.cat(outs, 1)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.main:
            if name == "convs":
                x = self.split_stage(x)
                continue
            part = getattr(self, name)
            if part is not None:
                x = part(x)
        return x

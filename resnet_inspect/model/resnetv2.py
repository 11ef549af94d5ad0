"""timm's resnetv2 layout: pre-activation ResNets and BiT (timm's resnetv2.py).

State-dict names follow timm (stem.conv or stem.conv1..3 with stem.norm1/2, stages.N.blocks.M,
downsample.conv, norm, head.fc) so its checkpoints load with strict=True. Pre-activation
leaves the stem without a norm (the first block normalises its input) and adds one norm,
with its activation, after the last stage; the classifier is a biased 1x1 conv on the pooled
features, as timm's ClassifierHead(use_conv=True).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..spec import Block, ResNetSpec, Stem, StemPool
from .base import Network
from .block import BlockContext, ResidualBlock, zero_init_residuals
from .layers import AvgPool2x2Same, make_conv, make_norm_act
from .registry import block_class


def make_stem(spec: ResNetSpec) -> nn.Sequential:
    """stem.conv (7x7/2), or the deep/tiered stem's conv1..3 with norm1, norm2 between them
    (none after conv3: the first block normalises), then the pool: padded max-pool, or BiT's
    zero padding and a max-pool without padding."""
    parts: OrderedDict[str, nn.Module] = OrderedDict()
    out = spec.stem_channels[-1]
    if spec.stem is Stem.CLASSIC:
        parts["conv"] = make_conv(spec.conv, spec.in_chans, out, 7, 2)
    else:  # deep or tiered
        a, b, _ = spec.stem_channels
        parts["conv1"] = make_conv(spec.conv, spec.in_chans, a, 3, 2)
        parts["norm1"] = make_norm_act(spec.norm, a)
        parts["conv2"] = make_conv(spec.conv, a, b, 3)
        parts["norm2"] = make_norm_act(spec.norm, b)
        parts["conv3"] = make_conv(spec.conv, b, out, 3)
    if spec.stem_pool is StemPool.FIXED:
        parts["pad"] = nn.ConstantPad2d(1, 0.0)
        parts["pool"] = nn.MaxPool2d(3, 2)
    else:
        parts["pool"] = nn.MaxPool2d(3, 2, padding=1)
    return nn.Sequential(parts)


def make_projection(
    spec: ResNetSpec, in_ch: int, out_ch: int, stride: int, dilation: int
) -> nn.Sequential:
    """timm's DownsampleConv (a strided 1x1) or, with avg_down, DownsampleAvg (a 2x2 average,
    or in a dilated stage its size-keeping form, then a 1x1). No norm: the block's input was
    normalised before it."""
    parts: OrderedDict[str, nn.Module] = OrderedDict()
    if spec.avg_down:
        if stride > 1:
            parts["pool"] = nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False)
        elif dilation > 1:
            parts["pool"] = AvgPool2x2Same()
        parts["conv"] = make_conv(spec.conv, in_ch, out_ch, 1)
    else:
        parts["conv"] = make_conv(spec.conv, in_ch, out_ch, 1, stride)
    return nn.Sequential(parts)


class Stage(nn.Module):
    """One stage: its blocks under ``blocks`` (timm's ResNetStage)."""

    def __init__(self, blocks: list[ResidualBlock]) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class ClassifierHead(nn.Module):
    """Global average, a biased 1x1 conv (timm's head.fc with use_conv=True), flatten.
    num_classes=0: no ``fc`` (timm's is an Identity then), the pooled features flattened."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc: nn.Conv2d | None = nn.Conv2d(channels, num_classes, 1) if num_classes else None
        self.flatten = nn.Flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.global_pool(x)
        return self.flatten(self.fc(x) if self.fc is not None else x)


class ResNetV2(Network):
    """stem, stages.0..N-1, norm, head: timm's ResNetV2 with pre-activation blocks."""

    def __init__(self, spec: ResNetSpec) -> None:
        super().__init__()
        self.spec = spec
        self.stem = make_stem(spec)
        in_ch, dilation = spec.stem_channels[-1], 1
        total, index = sum(spec.layers), 0
        stages = []
        for stage in range(spec.num_stages):
            stride, previous = (1 if stage == 0 else 2), dilation
            if stage > 0 and spec.dilations[stage - 1]:
                dilation, stride = dilation * stride, 1  # timm's output_stride
            blocks = []
            for i in range(spec.layers[stage]):
                rate = spec.drop_path * index / max(total - 1, 1)  # timm: linear over all blocks
                s, d0 = (stride, previous) if i == 0 else (1, dilation)
                ctx = BlockContext(spec, stage, in_ch, spec.stage_widths[stage], s, dilation, d0, rate)
                blocks.append(block_class(spec)(ctx, self._shortcut(ctx, i)))
                in_ch, index = ctx.out_ch, index + 1
            stages.append(Stage(blocks))
        # the child is named ``stages`` as timm's, like Network's property listing the stages:
        # registered directly (add_module refuses a name the class already has)
        self._modules["stages"] = nn.Sequential(*stages)
        self.norm = make_norm_act(spec.norm, in_ch)
        self.head = ClassifierHead(in_ch, spec.num_classes)
        _init_weights(self, spec)

    @staticmethod
    def _shortcut(ctx: BlockContext, index: int) -> nn.Module | None:
        """A projection in each stage's first block: always for a bottleneck (timm's), for a
        basic block where the stride, dilation or channels change."""
        if index > 0:
            return None
        changes = ctx.stride != 1 or ctx.first_dilation != ctx.dilation or ctx.in_ch != ctx.out_ch
        if ctx.spec.block is Block.BASIC and not changes:
            return None
        return make_projection(ctx.spec, ctx.in_ch, ctx.out_ch, ctx.stride, ctx.dilation)

    @property
    def stages(self) -> list[nn.Module]:
        return list(self._modules["stages"].children())  # type: ignore[union-attr]

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        # through the ``stages`` container itself, so that the trace sees it run
        return self._modules["stages"](self.forward_stem(x))  # type: ignore[misc]

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(x))


def _init_weights(model: ResNetV2, spec: ResNetSpec) -> None:
    """timm's resnetv2 initialisation: He-normal convs (fan_out), the classifier conv normal
    with std 0.01 and a zero bias; with zero_init_residual, each branch's last conv zeroed
    (timm's zero_init_last). Norms initialise themselves. Meta tensors hold no values."""
    if next(model.parameters()).is_meta:
        return
    fc = model.head.fc
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m is not fc:
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    if fc is not None:
        nn.init.normal_(fc.weight, std=0.01)
        if fc.bias is not None:
            nn.init.zeros_(fc.bias)
    if spec.zero_init_residual:
        zero_init_residuals(model)

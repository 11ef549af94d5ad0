"""The torchvision layout: stems, shortcuts, stages of blocks, the head.

State-dict names follow torchvision (conv1, bn1, layer1..layerN, downsample.0/.1, fc) so its
checkpoints load with strict=True; the deep stem and avg_down follow timm's layout
(conv1.0/.1/.3/.4/.6, downsample.0 pool, .1 conv, .2 norm). Activations are separate,
parameter-free modules (relu1, relu2, ...) so that every call site is its own traced row;
they add no state-dict keys.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..spec import AntiAlias, Head, Layout, ResNetSpec, Shortcut, Stem, StemPool
from .base import Network
from .block import BlockContext, zero_init_residuals
from .layers import (
    AttentionPool2d,
    AvgPool2x2Same,
    BlurPool,
    ZeroPadShortcut,
    conv1x1,
    conv3x3,
    make_aa,
    make_norm,
)
from .registry import block_class


def make_shortcut(
    spec: ResNetSpec, in_ch: int, out_ch: int, stride: int, dilation: int = 1, first_dilation: int = 1
) -> nn.Module | None:
    """The shortcut of one block, by the paper's option and ResNet-D's avg_down.

    ``dilation`` > 1 for the first block of a dilated stage: its stride became dilation, and
    avg_down's pool stays, at stride 1 (timm's downsample_avg). ``first_dilation`` is the
    previous stage's, which a 3x3 projection (down_kernel=3) takes, as timm's does."""
    changes_shape = stride != 1 or in_ch != out_ch
    if spec.shortcut is Shortcut.A or (spec.shortcut is Shortcut.B and not changes_shape):
        return ZeroPadShortcut(in_ch, out_ch, stride) if changes_shape else None
    bias = spec.biased_convs
    if not spec.avg_down:
        if spec.down_kernel == 1 or (stride == 1 and dilation == 1):
            conv = conv1x1(in_ch, out_ch, stride, bias)
        else:  # timm's downsample_conv: padding ((stride - 1) + dilation * (k - 1)) // 2
            pad = ((stride - 1) + first_dilation * (spec.down_kernel - 1)) // 2
            conv = nn.Conv2d(in_ch, out_ch, spec.down_kernel, stride, pad, first_dilation, bias=bias)
        return nn.Sequential(conv, make_norm(spec.norm, out_ch, spec.bn_eps))
    # ResNet-D: average the 2x2 neighbourhood instead of skipping 3 of 4 pixels in a strided 1x1.
    pool: nn.Module = nn.Identity()
    if stride > 1 and spec.layout is Layout.CLIP:
        pool = nn.AvgPool2d(stride)  # OpenAI's; timm's ceil-mode pool below agrees on even sizes
    elif stride > 1:
        pool = nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False)
    elif dilation > 1:
        pool = AvgPool2x2Same()
    parts = [pool, conv1x1(in_ch, out_ch, 1, bias), make_norm(spec.norm, out_ch, spec.bn_eps)]
    if spec.layout is Layout.CLIP:  # OpenAI names the pool "-1": the conv and norm keep 0 and 1
        return nn.Sequential(OrderedDict(zip(("-1", "0", "1"), parts, strict=True)))
    return nn.Sequential(*parts)


def make_stem(spec: ResNetSpec) -> tuple[nn.Module, nn.Module, nn.Module | None]:
    """conv1 (a conv, or timm's deep-stem Sequential), bn1, and the pool if any."""
    bias = spec.biased_convs
    out = spec.stem_channels[-1]
    conv1: nn.Module
    if spec.stem is Stem.CLASSIC:
        conv1 = nn.Conv2d(spec.in_chans, out, 7, 2, padding=3, bias=bias)
    elif spec.stem in (Stem.DEEP, Stem.TIERED):
        a, b, _ = spec.stem_channels
        conv1 = nn.Sequential(
            conv3x3(spec.in_chans, a, 2, bias=bias), make_norm(spec.norm, a, spec.bn_eps), nn.ReLU(inplace=True),
            conv3x3(a, b, bias=bias), make_norm(spec.norm, b, spec.bn_eps), nn.ReLU(inplace=True),
            conv3x3(b, out, bias=bias),
        )  # fmt: skip
    else:
        return conv3x3(spec.in_chans, out, 1, bias=bias), make_norm(spec.norm, out, spec.bn_eps), None
    return conv1, make_norm(spec.norm, out, spec.bn_eps), make_stem_pool(spec, out)


def make_stem_pool(spec: ResNetSpec, channels: int) -> nn.Module:
    """The stem's downsampling after conv1 (timm's ``maxpool``, whatever it holds): a 3x3/2
    max-pool; with anti-aliasing a 2x2 average instead, or a stride-1 max-pool then a blur;
    ResNet-RS's strided conv (its stride handed to the filter with anti-aliasing); legacy
    SENet's unpadded ceil-mode max-pool."""
    aa = spec.aa is not AntiAlias.NONE
    if spec.stem_pool is StemPool.CONV:
        parts: list[nn.Module] = [conv3x3(channels, channels, 1 if aa else 2, bias=spec.biased_convs)]
        parts += [make_aa(spec.aa, channels, 2)] if aa else []
        return nn.Sequential(*parts, make_norm(spec.norm, channels, spec.bn_eps), nn.ReLU(inplace=True))
    if spec.aa is AntiAlias.AVG:
        return nn.AvgPool2d(2)
    if spec.aa is AntiAlias.BLUR:
        return nn.Sequential(nn.MaxPool2d(3, 1, padding=1), BlurPool(channels, 2))
    if spec.stem_pool is StemPool.MAX_CEIL:  # Caffe's pool: the last window may hang over
        return nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
    return nn.MaxPool2d(kernel_size=3, stride=2, padding=1)


def make_stages(spec: ResNetSpec, in_ch: int, attn_name: str = "se") -> list[nn.Sequential]:
    """The residual stages (layer1..layerN) after a stem of ``in_ch`` channels, whatever the
    layout; ``attn_name`` is the layout's name for each block's attention child."""
    stages, dilation = [], 1
    rates = iter(_drop_rates(spec))
    for stage in range(spec.num_stages):
        stride = 1 if stage == 0 else 2
        previous_dilation = dilation
        if stage > 0 and spec.dilations[stage - 1]:
            # a dilated stage keeps its resolution: the stride becomes dilation
            dilation, stride = dilation * stride, 1
        block_cls = block_class(spec)
        planes, out_ch = spec.stage_widths[stage], spec.out_channels(stage)
        blocks = []
        for i in range(spec.layers[stage]):
            s, d0 = (stride, previous_dilation) if i == 0 else (1, dilation)
            ctx = BlockContext(spec, stage, in_ch, planes, s, dilation, d0, next(rates), attn_name, i)
            shortcut = make_shortcut(spec, in_ch, out_ch, s, dilation if i == 0 else 1, d0)
            blocks.append(block_cls(ctx, shortcut))
            in_ch = out_ch
        stages.append(nn.Sequential(*blocks))
    return stages


def _drop_rates(spec: ResNetSpec) -> list[float]:
    """timm's stochastic-depth rule: the rate rises linearly from 0 at the first block to
    drop_path at the last."""
    total = sum(spec.layers)
    return [spec.drop_path * index / max(total - 1, 1) for index in range(total)]


class ResNet(Network):
    """conv1, bn1, [maxpool], layer1..layerN, avgpool, fc: torchvision's layout."""

    def __init__(self, spec: ResNetSpec) -> None:
        super().__init__()
        self.spec = spec
        self.conv1, self.bn1, maxpool = make_stem(spec)
        self.relu = nn.ReLU(inplace=True)
        if maxpool is not None:
            self.maxpool = maxpool
        for stage, layer in enumerate(make_stages(spec, spec.stem_channels[-1])):
            self.add_module(f"layer{stage + 1}", layer)
        add_head(self, spec)
        init_weights(self, spec)

    @property
    def stages(self) -> list[nn.Module]:
        return [getattr(self, f"layer{i + 1}") for i in range(self.spec.num_stages)]

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        return self.maxpool(x) if hasattr(self, "maxpool") else x

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return forward_head(self, x)


def add_head(model: Network, spec: ResNetSpec, pool_name: str = "avgpool") -> None:
    """The head's children: a global average pool ``pool_name`` and ``fc`` (head=avg), or
    CLIP's attention pool ``attnpool`` (head=attn). num_classes=0: no ``fc`` (no module, no
    keys, no row), the pooled features are the output, as timm's ``num_classes=0``."""
    if spec.head is Head.ATTN:
        model.attnpool = AttentionPool2d(spec.feature_channels, spec.attn_grid, spec.attn_heads, spec.num_classes)
        return
    model.add_module(pool_name, nn.AdaptiveAvgPool2d((1, 1)))
    if spec.num_classes:
        model.fc = nn.Linear(spec.feature_channels, spec.num_classes)


def forward_head(model: Network, x: torch.Tensor, pool_name: str = "avgpool") -> torch.Tensor:
    if model.spec.head is Head.ATTN:
        out: torch.Tensor = model.get_submodule("attnpool")(x)
        return out
    pooled = torch.flatten(model.get_submodule(pool_name)(x), 1)
    if not model.spec.num_classes:
        return pooled
    logits: torch.Tensor = model.get_submodule("fc")(pooled)
    return logits


def init_weights(model: Network, spec: ResNetSpec) -> None:
    """torchvision's initialisation: He-normal convs (fan_out), unit norms, optional zeroed
    last norm of every residual branch (Goyal et al. 2017). Meta tensors hold no values."""
    if next(model.parameters()).is_meta:
        return
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if spec.zero_init_residual:
        zero_init_residuals(model)

"""Legacy SENet's layout (timm's senet.py, from Cadene's pretrained-models): layer0, pool0,
layer1..layerN, global_pool, last_linear.

Only the names differ from torchvision's layout: the stem's convs and norms sit in one
``layer0`` Sequential (conv1, bn1, relu1[, conv2, bn2, relu2, conv3, bn3, relu3] for the
deep stem), its pool is ``pool0``, each block's attention is ``se_module`` and the classifier
``last_linear``. What legacy SENet computes differently (the ceil-mode stem pool, the
squeeze rule, the stride on the first 1x1) is in the spec's fields, and the blocks and
shortcuts are the ones every layout builds.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..spec import ResNetSpec, Stem
from .base import Network
from .layers import make_norm
from .network import init_weights, make_stages, make_stem_pool


def make_layer0(spec: ResNetSpec) -> nn.Sequential:
    """The stem's convs, each with its norm and ReLU: one 7x7/2 (classic), one 3x3/1 (cifar)
    or three 3x3 convs, the first strided (deep, tiered)."""
    bias = spec.biased_convs
    if spec.stem is Stem.CLASSIC:
        kernels = [(7, 2)]
    elif spec.stem is Stem.CIFAR:
        kernels = [(3, 1)]
    else:
        kernels = [(3, 2), (3, 1), (3, 1)]
    parts: list[tuple[str, nn.Module]] = []
    in_ch = spec.in_chans
    for i, ((k, stride), out) in enumerate(zip(kernels, spec.stem_channels, strict=True), start=1):
        parts += [
            (f"conv{i}", nn.Conv2d(in_ch, out, k, stride, padding=k // 2, bias=bias)),
            (f"bn{i}", make_norm(spec.norm, out, spec.bn_eps)),
            (f"relu{i}", nn.ReLU(inplace=True)),
        ]
        in_ch = out
    return nn.Sequential(OrderedDict(parts))


class SENet(Network):
    """layer0, [pool0], layer1..layerN, global_pool, last_linear: timm's senet.py layout."""

    def __init__(self, spec: ResNetSpec) -> None:
        super().__init__()
        self.spec = spec
        self.layer0 = make_layer0(spec)
        stem_out = spec.stem_channels[-1]
        if spec.stem is not Stem.CIFAR:
            self.pool0 = make_stem_pool(spec, stem_out)
        for stage, layer in enumerate(make_stages(spec, stem_out, attn_name="se_module")):
            self.add_module(f"layer{stage + 1}", layer)
        self.global_pool = nn.AdaptiveAvgPool2d((1, 1))
        if spec.num_classes:  # 0: headless, the pooled features out (timm's num_classes=0)
            self.last_linear = nn.Linear(spec.feature_channels, spec.num_classes)
        init_weights(self, spec)

    @property
    def stages(self) -> list[nn.Module]:
        return [getattr(self, f"layer{i + 1}") for i in range(self.spec.num_stages)]

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer0(x)
        return self.pool0(x) if hasattr(self, "pool0") else x

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        # timm's head also has dropout (0.2), which acts in training only
        pooled = torch.flatten(self.global_pool(x), 1)
        return self.last_linear(pooled) if self.spec.num_classes else pooled

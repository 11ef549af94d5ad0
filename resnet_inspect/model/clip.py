"""The CLIP layout: OpenAI CLIP's ModifiedResNet (clip/model.py; open_clip's modified_resnet.py).

Its state-dict keys are OpenAI's without the ``visual.`` prefix, so a CLIP checkpoint's image
tower loads once the prefix is stripped: a stem of three 3x3 convs ``conv1``..``conv3`` with
``bn1``..``bn3`` and a 2x2 average pool, torchvision's ``layer1..N.M`` blocks, whose stride is a
2x2 average pool after the 3x3 (aa=avg) and whose shortcut pools first (avg_down, the pool
named ``downsample.-1``), and the attention pool ``attnpool`` (head=attn) or, as timm's
``*_clip_gap``, a global average pool and ``fc``. Everything else is the spec's, as in the
torchvision layout.
"""

from __future__ import annotations

import torch
from torch import nn

from ..spec import ResNetSpec
from .base import Network
from .layers import conv3x3, make_norm
from .network import add_head, forward_head, init_weights, make_stages, make_stem_pool


class ModifiedResNet(Network):
    """conv1, bn1, relu1, conv2, bn2, relu2, conv3, bn3, relu3, avgpool, layer1..layerN, then
    the head: attnpool, or global_pool (timm's name: avgpool is the stem's) and fc."""

    def __init__(self, spec: ResNetSpec) -> None:
        super().__init__()
        self.spec = spec
        (a, b, out), bias = spec.stem_channels, spec.biased_convs
        for i, (cin, cout, stride) in enumerate(((spec.in_chans, a, 2), (a, b, 1), (b, out, 1)), 1):
            self.add_module(f"conv{i}", conv3x3(cin, cout, stride, bias=bias))
            self.add_module(f"bn{i}", make_norm(spec.norm, cout, spec.bn_eps))
            self.add_module(f"relu{i}", nn.ReLU(inplace=True))
        self.avgpool = make_stem_pool(spec, out)  # aa=avg: OpenAI's AvgPool2d(2)
        for stage, layer in enumerate(make_stages(spec, out)):
            self.add_module(f"layer{stage + 1}", layer)
        add_head(self, spec, "global_pool")
        init_weights(self, spec)

    @property
    def stages(self) -> list[nn.Module]:
        return [getattr(self, f"layer{i + 1}") for i in range(self.spec.num_stages)]

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        for i in (1, 2, 3):
            x = getattr(self, f"relu{i}")(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x)))
        out: torch.Tensor = self.avgpool(x)
        return out

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return forward_head(self, x, "global_pool")

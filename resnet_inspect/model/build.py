"""spec -> nn.Module: the network class of each layout, and build_model."""

from __future__ import annotations

import torch

from ..errors import SpecError
from ..spec import Layout, ResNetSpec
from .base import Network
from .clip import ModifiedResNet
from .network import ResNet
from .resnetv2 import ResNetV2
from .senet import SENet

NETWORKS: dict[Layout, type[Network]] = {
    Layout.TORCHVISION: ResNet,
    Layout.RESNETV2: ResNetV2,
    Layout.SENET: SENet,
    Layout.CLIP: ModifiedResNet,
}


def build_model(spec: ResNetSpec, device: str | torch.device | None = None) -> Network:
    """Build ``spec``. ``device="meta"`` builds without allocating or initialising memory."""
    network = NETWORKS[spec.layout]
    try:
        if device is None:
            return network(spec)
        with torch.device(device):
            return network(spec)
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if "overflow" not in reason.lower():
            raise
        raise SpecError(f"{spec}: too large to build ({reason})") from None

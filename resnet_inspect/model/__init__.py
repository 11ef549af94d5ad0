"""spec -> nn.Module: layers, the block protocol and its block types, the network.

A new block type is its own module here (a :class:`ResidualBlock` subclass), one line in
``registry.py``, one line in ``spec.BLOCK_TYPES``, and cost rules for any new operator.
"""

from __future__ import annotations

from .base import Network
from .block import BlockContext, ResidualBlock
from .build import NETWORKS, build_model
from .layers import ZeroPadShortcut, conv1x1, conv3x3, make_norm
from .network import ResNet
from .registry import BLOCKS

__all__ = [
    "BLOCKS",
    "NETWORKS",
    "BlockContext",
    "Network",
    "ResNet",
    "ResidualBlock",
    "ZeroPadShortcut",
    "build_model",
    "conv1x1",
    "conv3x3",
    "make_norm",
]

"""resnet18 by hand under torchvision's names, with one mistake at a time (``mistakes``: a
block's name -> "relu before sum" or "subtracted"; "conv1" -> a bias on the stem conv), for
the functional proof's tests; ``extra_conv``: a 1x1 conv after the stem (does not align)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, mistake: str = "") -> None:
        super().__init__()
        self.mistake = mistake
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.mistake == "relu before sum":
            return F.relu(out) + identity
        if self.mistake == "subtracted":
            return F.relu(out - identity)
        return F.relu(out + identity)


class Hand18(nn.Module):
    """resnet18 by hand, torchvision's names; ``mistakes``: block name -> its mistake, or
    "conv1 bias" for a bias on the stem conv."""

    def __init__(self, mistakes: dict[str, str] | None = None, extra_conv: bool = False) -> None:
        super().__init__()
        wrong = mistakes or {}
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias="conv1" in wrong)
        self.bn1 = nn.BatchNorm2d(64)
        self.extra = nn.Conv2d(64, 64, 1, bias=False) if extra_conv else nn.Identity()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for s, (cout, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), start=1):
            blocks = [Block(cin, cout, stride, wrong.get(f"layer{s}.0", "")),
                      Block(cout, cout, 1, wrong.get(f"layer{s}.1", ""))]  # fmt: skip
            setattr(self, f"layer{s}", nn.Sequential(*blocks))
            cin = cout
        self.fc = nn.Linear(512, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.extra(F.relu(self.bn1(self.conv1(x)))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(x.mean((2, 3)))


class ZeroLast(Hand18):
    """Hand18 with a ReLU before the sum in layer2.1 and every last BN zero-initialised."""

    def __init__(self) -> None:
        super().__init__({"layer2.1": "relu before sum"})
        for m in self.modules():
            if isinstance(m, Block):
                nn.init.zeros_(m.bn2.weight)

"""resnet18, exactly, written with other names and another nesting: ``entry`` for the stem,
``body.<stage>.<block>`` for the blocks, ``classifier`` for the head; functional ``F.relu``
and ``torch.flatten`` where torchvision has modules and ``x.view``; the shortcut computed
before the main path. It computes what resnet18 computes."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.a = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.a_norm = nn.BatchNorm2d(cout)
        self.b = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b_norm = nn.BatchNorm2d(cout)
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.skip(x)  # first, where torchvision computes it last
        y = F.relu(self.a_norm(self.a(x)))
        return F.relu(shortcut + self.b_norm(self.b(y)))


class Entry(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.norm = nn.BatchNorm2d(64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.relu(self.norm(self.conv(x))), 3, 2, 1)


class Renamed(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.entry = Entry()
        stages, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages.append(nn.Sequential(Block(cin, cout, stride), Block(cout, cout, 1)))
            cin = cout
        self.body = nn.Sequential(*stages)
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.body(self.entry(x))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

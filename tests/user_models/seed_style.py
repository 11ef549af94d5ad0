"""Hand-written ResNets in the style of the seed posts (written from their descriptions, not
their code): what resnet-inspect's users bring. Loaded as user code by the tests
(``tests/user_models/seed_style.py:ResNet50V1``), so this file must import without the package.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


# --- 000: ResNet-50 with the stride on the first 1x1 (the paper's v1) and a fixed AvgPool2d(7) --
class V1Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, stride=stride, bias=False)  # stride here: v1
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + identity)


class ResNet50V1(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin, stages = 64, []
        for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            layer = []
            for i in range(blocks):
                layer.append(V1Bottleneck(cin, planes, stride if i == 0 else 1))
                cin = planes * 4
            stages.append(nn.Sequential(*layer))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AvgPool2d(7)  # only 7x7 maps: 224x224 inputs
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# --- 001: ResNet-34, a projection at every stage start (layer1 too), one sigmoid output --------
class Residual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, project: bool) -> None:
        super().__init__()
        self.left = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
        )
        self.right = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                      if project else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.left(x)
        out += x if self.right is None else self.right(x)
        return F.relu(out)


class ResNet34Sigmoid(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pre = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                 nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        self.layer1 = self._make(64, 64, 3, 1)
        self.layer2 = self._make(64, 128, 4, 2)
        self.layer3 = self._make(128, 256, 6, 2)
        self.layer4 = self._make(256, 512, 3, 2)
        self.fc = nn.Linear(512, 1)

    @staticmethod
    def _make(cin: int, cout: int, blocks: int, stride: int) -> nn.Sequential:
        layers = [Residual(cin, cout, stride, project=True)]  # a projection at every stage start
        layers += [Residual(cout, cout, 1, project=False) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.pre(x)))))
        x = F.adaptive_avg_pool2d(x, 1).view(x.size(0), -1)
        return torch.sigmoid(self.fc(x))


# --- a CIFAR ResNet-20 with option A written its own way (slicing and concatenating) -----------
class CifarBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.stride, self.extra = stride, cout - cin

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1 and self.extra == 0:
            return x
        x = x[:, :, :: self.stride, :: self.stride]
        half = self.extra // 2
        return F.pad(x, (0, 0, 0, 0, half, self.extra - half))  # zero channels: option A

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.b1(self.c1(x)))
        return F.relu(self.b2(self.c2(y)) + self.shortcut(x))


class CifarResNet20(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.head_conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.head_bn = nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                blocks.append(CifarBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.classifier = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(F.relu(self.head_bn(self.head_conv(x))))
        return self.classifier(x.mean((2, 3)))


# --- resnet18, exactly, under other names ---------------------------------------------------
class Unit(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.n1 = nn.BatchNorm2d(cout)
        self.act1 = nn.ReLU(inplace=True)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.n2 = nn.BatchNorm2d(cout)
        self.proj = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else None)
        self.act2 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.n2(self.c2(self.act1(self.n1(self.c1(x)))))
        return self.act2(y + (x if self.proj is None else self.proj(x)))


class Renamed18(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.entry = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.entry_norm = nn.BatchNorm2d(64)
        self.entry_act = nn.ReLU(inplace=True)
        self.entry_pool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for s, (cout, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), start=1):
            setattr(self, f"stage{s}", nn.Sequential(Unit(cin, cout, stride), Unit(cout, cout, 1)))
            cin = cout
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out = nn.Linear(512, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.entry_pool(self.entry_act(self.entry_norm(self.entry(x))))
        for s in range(1, 5):
            x = getattr(self, f"stage{s}")(x)
        return self.out(torch.flatten(self.pool(x), 1))


def build_renamed18() -> nn.Module:
    """A function that returns a module, as ARCH may name one."""
    return Renamed18()

"""Models that are valid, or nearly: what their forwards return, and forwards whose control
flow reads values (which the meta device cannot run). Loaded as user code by
tests/test_hostile_models.py; this file must import without the package."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _conv(cin: int, cout: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


class FPNDict(nn.Module):
    """Three feature maps, each half the size of the one before, returned as a dict."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2, self.c3 = _conv(3, 8, 2), _conv(8, 16, 2), _conv(16, 32, 2)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        a = self.c1(x)
        b = self.c2(a)
        return {"p1": a, "p2": b, "p3": self.c3(b)}


class FPNList(FPNDict):
    def forward(self, x: torch.Tensor) -> Any:  # type: ignore[override]
        maps = super().forward(x)
        return [maps["p1"], (maps["p2"], maps["p3"])]  # nested


class LastFirst(nn.Module):
    """Returns (small, big): the big map is made first and returned second, so it stays alive
    through the whole pass only because it is returned."""

    def __init__(self) -> None:
        super().__init__()
        self.big, self.mid, self.small = _conv(3, 16, 1), _conv(16, 4, 2), _conv(4, 4, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.big(x)
        return self.small(self.mid(a)), a


class ReturnsNone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = _conv(3, 8, 2)

    def forward(self, x: torch.Tensor) -> None:
        self.c1(x)


class ReturnsInt(ReturnsNone):
    def forward(self, x: torch.Tensor) -> int:  # type: ignore[override]
        return self.c1(x).dim()


class ScalarAndNone(ReturnsNone):
    """A loss-style 0-d tensor next to a None (an auxiliary output that is off)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return self.c1(x).mean(), None


class Plain(nn.Module):
    """Two blocks of two convs: the reference for the gated model below."""

    def __init__(self, block: type[nn.Module] | None = None) -> None:
        super().__init__()
        make = block or PlainBlock
        self.stem = _conv(3, 8, 2)
        self.layer1 = nn.Sequential(make(8), make(8))
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.layer1(self.stem(x)).mean((2, 3)))


class PlainBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv(c, c, 1), _conv(c, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(torch.relu(self.conv1(x)))


class GatedBlock(PlainBlock):
    """PlainBlock behind an `if` on a tensor's value; both branches do the same work."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.abs().sum() >= 0:  # always true; meta cannot say so
            return super().forward(x)
        return x + self.conv2(torch.relu(self.conv1(x)))


class ItemBlock(PlainBlock):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = int(x.abs().max().item() >= 0)  # 1: a loop count read from the data
        for _ in range(steps):
            x = super().forward(x)
        return x


def gated() -> nn.Module:
    return Plain(GatedBlock)


def item_read() -> nn.Module:
    return Plain(ItemBlock)

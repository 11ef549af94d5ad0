"""A hand-written resnet18, written as a user would (torchvision's names, plain torch), and the
same network with one mistake each: the fixtures for naming a departure in words.

``ResNet18`` is correct; every other network class below differs from it in the one way its
docstring says, and in nothing else. Sizes are parameters (``widths``, ``num_classes``) so
that the tests run at 32x32 with narrow layers. This file must import without the package.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

WIDTHS = (64, 128, 256, 512)


class BasicBlock(nn.Module):
    """The correct block: conv-BN-ReLU, conv-BN, add the shortcut, ReLU; the stride on conv1."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = self.conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = self.activation()
        self.conv2 = self.conv3x3(cout, cout, 1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def conv3x3(self, cin: int, cout: int, stride: int) -> nn.Conv2d:
        return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)

    def activation(self) -> nn.Module:
        return nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    """The correct network: a 7x7 stem, a 3x3 max-pool, four stages of two blocks, global
    average pooling, flatten, one linear layer."""

    block: type[BasicBlock] = BasicBlock

    def __init__(self, num_classes: int = 1000, widths: tuple[int, ...] = WIDTHS) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=self.stem_bias())
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = self.block.activation(self)  # type: ignore[arg-type]
        self.maxpool = self.stem_pool()
        cin = widths[0]
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2
            layer = nn.Sequential(
                self.make_block(cin, width, stride), self.make_block(width, width, 1)
            )
            self.add_module(f"layer{i + 1}", layer)
            cin = width
        self.avgpool = self.head_pool()
        self.fc = nn.Linear(cin, num_classes)

    def make_block(self, cin: int, cout: int, stride: int) -> nn.Module:
        return self.block(cin, cout, stride)

    def stem_bias(self) -> bool:
        return False

    def stem_pool(self) -> nn.Module:
        return nn.MaxPool2d(3, 2, 1)

    def head_pool(self) -> nn.Module:
        return nn.AdaptiveAvgPool2d(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.fc(torch.flatten(x, 1))


# --- on the branch and at the sum -------------------------------------------------------------
class ReluBeforeSumBlock(BasicBlock):
    """A ReLU after bn2, before the sum (and the ReLU after it kept), as seed 000 has it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out += identity
        return self.relu(out)


class NoReluAfterSumBlock(BasicBlock):
    """No ReLU after the sum: the block returns the sum itself."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out)) + identity


class SubtractBlock(BasicBlock):
    """The shortcut subtracted from the branch instead of added."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) - identity)


class MultiplyBlock(BasicBlock):
    """The branch multiplied by the shortcut instead of added to it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) * identity)


class LeakyBlock(BasicBlock):
    """LeakyReLU(0.1) where resnet18 has ReLU."""

    def activation(self) -> nn.Module:
        return nn.LeakyReLU(0.1, inplace=True)


class GeluBlock(BasicBlock):
    """GELU where resnet18 has ReLU."""

    def activation(self) -> nn.Module:
        return nn.GELU()


class BiasBlock(BasicBlock):
    """``bias=True`` on the block's 3x3 convs (torch's default, left in)."""

    def conv3x3(self, cin: int, cout: int, stride: int) -> nn.Conv2d:
        return nn.Conv2d(cin, cout, 3, stride, 1)


class MissingBnBlock(BasicBlock):
    """No BN after conv2: the branch's last conv goes straight into the sum."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out)
        out += identity
        return self.relu(out)


class FoldedBnBlock(MissingBnBlock):
    """No BN after conv2, but conv2 has a bias: a deployed model with bn2 folded into conv2
    (in eval mode the same function as conv-BN, for folded weights)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__(cin, cout, stride)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=True)
        del self.bn2


class BnAfterSumBlock(BasicBlock):
    """bn2 applied after the sum instead of on the branch before it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out) + identity
        return self.relu(self.bn2(out))


class StrideOnConv2Block(BasicBlock):
    """The stride on conv2 instead of conv1."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__(cin, cout, stride)
        self.conv1 = self.conv3x3(cin, cout, 1)
        self.conv2 = self.conv3x3(cout, cout, stride)


class InPlaceInputBlock(BasicBlock):
    """An in-place ReLU on the block's input before the branch: the shortcut reads the
    modified tensor (a no-op where the input is already a ReLU's output, as in resnet18)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(x)  # in place: x itself is changed
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(out)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


# --- the networks with one mistake each -----------------------------------------------------
class ReluBeforeSum(ResNet18):
    """A ReLU on the branch before the sum in every block."""

    block = ReluBeforeSumBlock


class NoReluAfterSum(ResNet18):
    """No ReLU after the sum in any block."""

    block = NoReluAfterSumBlock


class SubtractShortcut(ResNet18):
    """The shortcut subtracted instead of added, in every block."""

    block = SubtractBlock


class MultiplyShortcut(ResNet18):
    """The shortcut multiplied instead of added, in every block."""

    block = MultiplyBlock


class Leaky(ResNet18):
    """LeakyReLU(0.1) everywhere resnet18 has ReLU."""

    block = LeakyBlock


class Gelu(ResNet18):
    """GELU everywhere resnet18 has ReLU."""

    block = GeluBlock


class ConvBias(ResNet18):
    """``bias=True`` on the stem conv and the blocks' 3x3 convs."""

    block = BiasBlock

    def stem_bias(self) -> bool:
        return True


class MissingBn(ResNet18):
    """No BN after each block's conv2."""

    block = MissingBnBlock


class FoldedBn(ResNet18):
    """Each block's bn2 folded into conv2 (a bias, no BN)."""

    block = FoldedBnBlock


class BnAfterSum(ResNet18):
    """Each block's bn2 after the sum instead of before it."""

    block = BnAfterSumBlock


class StrideOnConv2(ResNet18):
    """The downsampling blocks' stride on conv2 instead of conv1."""

    block = StrideOnConv2Block


class InPlaceInput(ResNet18):
    """An in-place ReLU on each block's input before the branch."""

    block = InPlaceInputBlock


class AvgPoolStem(ResNet18):
    """An average pool in the stem where resnet18 has a 3x3 max-pool."""

    def stem_pool(self) -> nn.Module:
        return nn.AvgPool2d(3, 2, 1)


class MaxPoolHead(ResNet18):
    """Adaptive max-pooling in the head where resnet18 averages."""

    def head_pool(self) -> nn.Module:
        return nn.AdaptiveMaxPool2d(1)


class FixedPoolHead(ResNet18):
    """A fixed ``AvgPool2d(pool)`` in the head where resnet18 pools adaptively: the same only
    for the one input size whose last feature map is pool x pool."""

    def __init__(
        self, num_classes: int = 1000, widths: tuple[int, ...] = WIDTHS, pool: int = 7
    ) -> None:
        self.pool = pool
        super().__init__(num_classes, widths)

    def head_pool(self) -> nn.Module:
        return nn.AvgPool2d(self.pool)


class DropoutStem(ResNet18):
    """Dropout after the stem: no effect in eval mode, it changes training."""

    def __init__(self, num_classes: int = 1000, widths: tuple[int, ...] = WIDTHS) -> None:
        super().__init__(num_classes, widths)
        self.dropout = nn.Dropout(0.2)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.maxpool(self.relu(self.bn1(self.conv1(x)))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class SharedRelu(ResNet18):
    """One ReLU module, the stem's, shared by every block: the same function, but one module
    where hooks and quantisation see sixteen places."""

    def make_block(self, cin: int, cout: int, stride: int) -> nn.Module:
        block = self.block(cin, cout, stride)
        block.relu = self.relu
        return block


class ViewHead(ResNet18):
    """``x.view(x.size(0), -1)`` where resnet18 calls ``torch.flatten``: the same function."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.fc(x.view(x.size(0), -1))


class FunctionalRelu(ResNet18):
    """Not a mistake: ``F.relu`` called in the blocks' forward instead of a ReLU module. The
    same function and the same operations; no departure to name."""

    class Block(BasicBlock):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + identity)

    block = Block


class FunctionalLeaky(ResNet18):
    """``F.leaky_relu(x, 0.1)`` in the blocks' forward, the slope passed by position (the
    stem keeps its ReLU module): LeakyReLU(0.1) where resnet18 has ReLU, in every block."""

    class Block(BasicBlock):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = F.leaky_relu(self.bn1(self.conv1(x)), 0.1)
            out = self.bn2(self.conv2(out))
            return F.leaky_relu(out + identity, negative_slope=0.1)

    block = Block


class FunctionalElu(ResNet18):
    """``F.elu(x, 0.5)`` and ``F.hardtanh(x, 0.0, 6.0)`` (a ReLU6 written as a function) in
    the blocks, by position: ELU(0.5) and Hardtanh(0, 6) where resnet18 has ReLU."""

    class Block(BasicBlock):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = F.elu(self.bn1(self.conv1(x)), 0.5)
            out = self.bn2(self.conv2(out))
            return F.hardtanh(out + identity, 0.0, 6.0)

    block = Block


class ShortcutFirst(ResNet18):
    """Not a mistake: the blocks sum ``identity + out``, the shortcut first. The same function."""

    class Block(BasicBlock):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(identity + out)

    block = Block

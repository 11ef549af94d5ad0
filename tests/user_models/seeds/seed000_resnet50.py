"""A ResNet-50 written the way seed 000 (a blog post that debugs one step by step) writes it.

Written here from the post's description, not copied: a Bottleneck whose stride sits on the
first 1x1 conv (the paper's v1), a class attribute ``extention`` (sic) of 4, a ``make_layer``
that adds a projection where the shape changes, a fixed ``AvgPool2d(7)`` head, and the model
made at module level with the block class passed as an argument, run once at import and its
output shape printed, as the post does at the end.

The post's mistake is kept as it is: a ReLU on the residual branch after ``bn3``, *before*
``out += residual``, then a ReLU again after the sum. torchvision applies one ReLU, after the
sum; this network computes another function with the same layers.
"""

import torch
from torch import nn


class Bottleneck(nn.Module):
    extention = 4  # output channels = planes * 4

    def __init__(self, inplanes, planes, stride, downsample=None):
        super().__init__()
        # v1: the stride on the first 1x1
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.extention, kernel_size=1, stride=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.extention)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = self.relu(out)  # the seed's ReLU on the branch, before the sum
        if self.downsample is not None:
            residual = self.downsample(x)
        out += residual
        out = self.relu(out)
        return out


class ResNet(nn.Module):
    def __init__(self, block, layers, num_class):
        self.inplane = 64
        super().__init__()
        self.block = block
        self.layers = layers
        self.conv1 = nn.Conv2d(3, self.inplane, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplane)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.stage1 = self.make_layer(self.block, 64, layers[0], stride=1)
        self.stage2 = self.make_layer(self.block, 128, layers[1], stride=2)
        self.stage3 = self.make_layer(self.block, 256, layers[2], stride=2)
        self.stage4 = self.make_layer(self.block, 512, layers[3], stride=2)
        self.avgpool = nn.AvgPool2d(7)  # fixed: only a 224x224 input reaches it at 7x7
        self.fc = nn.Linear(512 * block.extention, num_class)

    def forward(self, x):
        out = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        out = self.stage4(self.stage3(self.stage2(self.stage1(out))))
        out = torch.flatten(self.avgpool(out), 1)
        return self.fc(out)

    def make_layer(self, block, plane, block_num, stride=1):
        downsample = None
        if stride != 1 or self.inplane != plane * block.extention:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplane, plane * block.extention, stride=stride, kernel_size=1, bias=False),
                nn.BatchNorm2d(plane * block.extention),
            )
        blocks = [block(self.inplane, plane, stride=stride, downsample=downsample)]
        self.inplane = plane * block.extention
        for _ in range(1, block_num):
            blocks.append(block(self.inplane, plane, stride=1))
        return nn.Sequential(*blocks)


print("building resnet50")  # the post prints as it goes
resnet = ResNet(Bottleneck, [3, 4, 6, 3], 1000)
x = torch.randn(1, 3, 224, 224)  # the post runs a batch of 64; one image makes the same point
X = resnet(x)
print(X.shape)

"""ResNet-18/50 backbones with the attribute names of the common torchvision layout, so that the released
embedders' keys (``net.layer1.0.conv1.weight`` ...) line up. ``norm="gn"`` builds them with GroupNorm(32)
in place of every BatchNorm, as EMOPortraits does for its identity and expression encoders."""

from __future__ import annotations

import torch
from torch import nn


def _norm(kind: str, c: int) -> nn.Module:
    return nn.GroupNorm(32, c) if kind == "gn" else nn.BatchNorm2d(c)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, c: int, stride: int, downsample: nn.Module | None, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = _norm(norm, c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = _norm(norm, c)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, c: int, stride: int, downsample: nn.Module | None, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 1, bias=False)
        self.bn1 = _norm(norm, c)
        self.conv2 = nn.Conv2d(c, c, 3, stride, 1, bias=False)
        self.bn2 = _norm(norm, c)
        self.conv3 = nn.Conv2d(c, c * 4, 1, bias=False)
        self.bn3 = _norm(norm, c * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    """Stem + four stages; ``fc`` is set by the owner (a 1x1 conv head or a linear layer)."""

    def __init__(self, depth: int, norm: str = "bn", num_classes: int | None = None) -> None:
        super().__init__()
        block, counts = {18: (BasicBlock, (2, 2, 2, 2)), 50: (Bottleneck, (3, 4, 6, 3))}[depth]
        self.expansion = block.expansion
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = _norm(norm, 64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (c, n) in enumerate(zip((64, 128, 256, 512), counts), 1):
            stride = 1 if i == 1 else 2
            layers = []
            for j in range(n):
                down = None
                if j == 0 and (stride != 1 or cin != c * block.expansion):
                    down = nn.Sequential(nn.Conv2d(cin, c * block.expansion, 1, stride, bias=False),
                                         _norm(norm, c * block.expansion))
                layers.append(block(cin, c, stride if j == 0 else 1, down, norm))
                cin = c * block.expansion
            setattr(self, f"layer{i}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        if num_classes is not None:
            self.fc = nn.Linear(512 * block.expansion, num_classes)

    def features(self, x: torch.Tensor, maxpool: bool = True) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        if maxpool:
            x = self.maxpool(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))

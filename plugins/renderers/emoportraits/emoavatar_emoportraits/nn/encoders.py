"""Encoders of the stage-1 model (paper §3, Fig. 4): E_app = local encoder (image -> volume features V_s)
+ identity embedder (global descriptor e_s); E_motion = expression embedder (z) + head-pose regressor (R, t)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ResBlock, norm_layer
from .resnet import ResNet
from .transforms import similarity_matrix

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class LocalEncoder(nn.Module):
    """Image [B,3,S,S] -> features [B, C*D, s, s] that are reshaped into the volume V_s [B, C, D, s, s]."""

    def __init__(self, image_size: int, volume_size: int, volume_channels: int, volume_depth: int,
                 num_channels: int, channel_mult: float, max_channels: int) -> None:
        super().__init__()
        self.image_size = image_size
        self.num_blocks = int(math.log2(image_size // volume_size))
        cout = int(num_channels * channel_mult)
        setattr(self, f"from_rgb_{image_size}px", nn.Conv2d(3, cout, 7, padding=3))
        size = image_size
        for i in range(self.num_blocks):
            cin, cout = cout, min(cout * 2, max_channels)
            setattr(self, f"enc_{i}_block={size}px", ResBlock(cin, cout, stride=2, resize="avgpool"))
            size //= 2
        self.finale_layers = nn.Sequential(norm_layer("gn", cout), nn.ReLU(inplace=True),
                                           nn.Conv2d(cout, volume_channels * volume_depth, 1))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        s = img.shape[2]
        x = getattr(self, f"from_rgb_{s}px")(img)
        for i in range(self.num_blocks):
            x = getattr(self, f"enc_{i}_block={s}px")(x)
            s //= 2
        return self.finale_layers(x)


class IdtEmbed(nn.Module):
    """Identity descriptor e_s [B, C, k, k]: a GroupNorm ResNet-50 with a 1x1 conv head and adaptive pooling."""

    def __init__(self, out_channels: int, out_size: int, image_size: int, depth: int = 50) -> None:
        super().__init__()
        self.image_size = image_size
        self.net = ResNet(depth, norm="gn")
        self.net.avgpool = nn.AdaptiveAvgPool2d(out_size)
        self.net.fc = nn.Conv2d(512 * self.net.expansion, out_channels, 1, bias=False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN)[None, :, None, None])
        self.register_buffer("std", torch.tensor(IMAGENET_STD)[None, :, None, None])

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(img, size=(self.image_size, self.image_size), mode="bilinear")
        x = self.net.features((x - self.mean) / self.std)
        return self.net.avgpool(self.net.fc(x))


class FaceNet(nn.Module):
    """Expression branch (``net_face``): GroupNorm ResNet-18 -> 1x1 conv -> pool k x k -> linear to z."""

    def __init__(self, out_channels: int, pool_size: int) -> None:
        super().__init__()
        self.net = ResNet(18, norm="gn")
        self.net.fc = nn.Conv2d(512, out_channels, 1, bias=False)
        self.drop = nn.Dropout(0.0)
        self.pose_avgpool = nn.AdaptiveAvgPool2d(pool_size)
        self.pose_head = nn.Linear(out_channels * pool_size ** 2, out_channels, bias=False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN)[None, :, None, None])
        self.register_buffer("std", torch.tensor(IMAGENET_STD)[None, :, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.net.fc(self.net.features((x - self.mean) / self.std)))
        return self.pose_head(torch.flatten(self.pose_avgpool(x), 1))


class ExpressionEmbed(nn.Module):
    """z = E_exp(align(img, theta)): the face is resampled into the pose-normalised frame given by the head
    pose theta (2x zoom on the canonical face), then encoded to the expression latent (128-d in the release)."""

    def __init__(self, latent_dim: int, pool_size: int, image_size: int) -> None:
        super().__init__()
        self.net_face = FaceNet(latent_dim, pool_size)
        self.grid_size = image_size // 2
        self.register_buffer("identity_grid", _grid2d(self.grid_size))
        self.register_buffer("identity_grid_512", _grid2d(512))
        self.register_buffer("aligned_keypoints", torch.zeros(1, 68, 3))  # canonical 3-D landmarks (training)

    def align(self, img: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Resample ``img`` into the face frame: the 2-D part of theta^-1, zoomed in 2x."""
        b = img.shape[0]
        th = torch.cat([theta[:, :3].float(), theta.new_tensor([0, 0, 0, 1.0]).expand(b, 1, 4)], dim=1)
        inv = th.inverse()[:, :, [0, 1, 3]][:, [0, 1, 3]]
        zoom = torch.diag(inv.new_tensor([0.5, 0.5, 1.0]))[None]
        grid = self.identity_grid.repeat_interleave(b, dim=0).bmm((inv @ zoom)[:, :2].transpose(1, 2))
        return F.grid_sample(img.float(), grid.view(b, self.grid_size, self.grid_size, 2).float(),
                             align_corners=False)

    def forward(self, img: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        return self.net_face(self.align(img, theta))


class HeadPoseRegressor(nn.Module):
    """ResNet-18 (BatchNorm, 9 outputs) on a 128x128 crop: scale (3), yaw/pitch/roll (3, radians), translation (3).
    The release ships it as its own file (``head_pose_regressor.pth``)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = ResNet(18, norm="bn", num_classes=9)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] in [0,1] -> srt parameters [B, 9]."""
        if img.shape[-1] != 128 or img.shape[-2] != 128:
            img = F.interpolate(img, size=(128, 128), mode="bilinear")
        return self.net(img)

    def theta(self, img: torch.Tensor) -> torch.Tensor:
        return similarity_matrix(self(img))


def _grid2d(n: int) -> torch.Tensor:
    s = torch.linspace(-1, 1, n)
    v, u = torch.meshgrid(s, s, indexing="ij")
    return torch.stack([u, v, torch.ones_like(u)], dim=2).view(1, -1, 3)

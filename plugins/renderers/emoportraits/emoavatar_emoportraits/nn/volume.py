"""3-D parts of the stage-1 generator (paper §3, Fig. 4): the warp generators W_{s->} (``xy``) and W_{->d}
(``uv``) that turn a motion embedding into a dense 3-D deformation, the residual net applied to the source
volume, and G_3D (a 3-D U-Net) that processes the canonical volume."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ProjectorNorm, ResBlock, norm_layer


class WarpGenerator(nn.Module):
    """Motion embedding ``[B, C, e*e]`` -> sampling grid ``[B, D, S, S, 3]`` = identity + tanh(deltas)."""

    def __init__(self, embed_size: int, in_channels: int, num_channels: int, max_channels: int,
                 depth: int, size: int, channel_mult: float = 1.0) -> None:
        super().__init__()
        self.input_size = embed_size
        self.output_depth = depth
        num_blocks = int(math.log2(size // embed_size))
        self.num_depth_resize_blocks = num_blocks

        def width(i: int) -> int:
            return min(int(num_channels * channel_mult * 2 ** i), max_channels) // 32 * 32

        cout = width(num_blocks)
        self.first_conv = nn.Conv2d(in_channels, cout * embed_size, 1, bias=False)
        self.blocks_3d = nn.ModuleList()
        for i in range(num_blocks - 1, -1, -1):
            cin, cout = cout, width(i)
            self.blocks_3d.append(ResBlock(cin, cout, norm="ada_gn", dims=3))
        self.pre_head = nn.Sequential(norm_layer("gn", cout), nn.ReLU(inplace=True))
        self.head = nn.ModuleList([nn.Sequential(nn.Conv3d(cout, 3, 3, padding=1), nn.Tanh())])
        self.projector = ProjectorNorm([self.blocks_3d], embed_size, max_channels)
        self.downsample = nn.AvgPool3d(kernel_size=(2, 1, 1), stride=(2, 1, 1))
        s = torch.linspace(-1, 1, size)
        z = torch.linspace(-1, 1, depth)
        w, v, u = torch.meshgrid(z, s, s, indexing="ij")
        self.register_buffer("identity_grid", torch.stack([u, v, w], 0)[None])

    def forward(self, embed: torch.Tensor) -> torch.Tensor:
        self.projector.assign([self.blocks_3d], embed)
        b = embed.shape[0]
        e = self.input_size
        x = self.first_conv(embed.view(b, -1, e, e)).view(b, -1, e, e, e)
        depth = e
        for i, block in enumerate(self.blocks_3d, 1):
            spatial = x.shape[-1] * 2
            new_depth = (min(self.output_depth * 2 ** (self.num_depth_resize_blocks - i), spatial)
                         if i < self.num_depth_resize_blocks else self.output_depth)
            x = F.interpolate(x, scale_factor=2 if new_depth > depth else (1, 2, 2), mode="trilinear")
            x = block(x)
            if new_depth < depth:
                x = self.downsample(x)
            depth = new_depth
        deltas = self.head[0](self.pre_head(x.float()))
        return (self.identity_grid + deltas).permute(0, 2, 3, 4, 1)


class ResBlocks3d(nn.Module):
    """Residual 3-D blocks at constant width (the net applied to V_s right after the encoder)."""

    def __init__(self, channels: int, num_blocks: int) -> None:
        super().__init__()
        self.net = nn.Sequential(*[ResBlock(channels, channels, norm="gn", dims=3) for _ in range(num_blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class VolumeSourceNet(nn.Module):
    def __init__(self, channels: int, num_blocks: int) -> None:
        super().__init__()
        self.net = ResBlocks3d(channels, num_blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Unet3D(nn.Module):
    """G_3D: encoder of 3-D residual blocks (depth grows while height/width halve), a learned input tensor
    decoded back up with skip blocks, and a 1x1x1 head. Output has the input's shape."""

    def __init__(self, channels: int, depth: int, size: int, dummy_size: int, max_channels: int,
                 embed_size: int = 4) -> None:
        super().__init__()
        n = int(math.log2(size // dummy_size))
        self.init_depth = depth
        self.output_depth = depth
        self.blocks_3d_down = nn.ModuleList()
        cout = channels
        for _ in range(n):
            cin, cout = cout, min(cout * 2, max_channels)
            self.blocks_3d_down.append(ResBlock(cin, cout, norm="gn", dims=3))
        self.downsample = nn.AvgPool3d(kernel_size=2, stride=2)
        self.downsample_no_depth = nn.AvgPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2))
        cout = min(int(channels * 2 ** n), max_channels)
        self.input_tensor = nn.Parameter(torch.zeros(1, cout, dummy_size, dummy_size, dummy_size))
        self.blocks_3d_up = nn.ModuleList()
        self.skip_blocks_3d_up = nn.ModuleList()
        for i in range(n - 1, -1, -1):
            cin, cout = cout, min(int(channels * 2 ** i), max_channels)
            self.blocks_3d_up.append(ResBlock(cin, cout, norm="gn", dims=3))
            self.skip_blocks_3d_up.append(ResBlock(cin, cin, norm="gn", dims=3))
        self.head = nn.Sequential(norm_layer("gn", cout), nn.ReLU(inplace=True), nn.Conv3d(cout, cout, 1))
        self.projector = ProjectorNorm([self.blocks_3d_up], embed_size, max_channels)
        self.downsample_up = nn.AvgPool3d(kernel_size=(2, 1, 1), stride=(2, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = []
        depth, spatial = self.init_depth, x.shape[-1]
        last = len(self.blocks_3d_down) - 1
        for i, block in enumerate(self.blocks_3d_down):
            if i < last:
                spatial //= 2
                new_depth = min(depth * 2, spatial)
                if new_depth > depth:
                    x = F.interpolate(x, scale_factor=(2, 1, 1), mode="trilinear")
            x = block(x)
            feats.append(x)
            if i < last:
                x = self.downsample(x) if new_depth < depth else self.downsample_no_depth(x)
                depth = new_depth
        out = self.input_tensor.repeat_interleave(x.shape[0], dim=0)
        depth = out.shape[2]
        n = len(self.blocks_3d_up)
        for i, (block, skip, feat) in enumerate(zip(self.blocks_3d_up, self.skip_blocks_3d_up, feats[::-1]), 1):
            spatial = out.shape[-1] * 2
            new_depth = min(self.output_depth * 2 ** (n - i), spatial)
            out = F.interpolate(out, scale_factor=2 if new_depth > depth else (1, 2, 2), mode="trilinear")
            out = block(out + skip(feat))
            if new_depth < depth:
                out = self.downsample_up(out)
            depth = new_depth
        return self.head(out)

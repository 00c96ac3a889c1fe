"""G_2D (paper §3, Fig. 4): the driver-posed volume, flattened to 2-D features [B, C*D, s, s], is decoded
to the RGB image by residual blocks at s x s and nearest-upsampling residual stages up to the image size."""

from __future__ import annotations

import math

import torch
from torch import nn

from .layers import ProjectorNorm, ResBlock, norm_layer


class ImageDecoder(nn.Module):
    def __init__(self, image_size: int, feat_size: int, in_channels: int, min_channels: int,
                 layers_per_resolution: int, channel_div: float) -> None:
        super().__init__()
        layers = []
        cout = in_channels
        for _ in range(int(math.log2(image_size // feat_size))):
            cin, cout = cout, max(int(cout / channel_div / 32) * 32, min_channels)
            for k in range(layers_per_resolution):
                layers.append(ResBlock(cin, cout, stride=2 if k == 0 else 1, resize="nearest" if k == 0 else "none"))
                cin = cout
        self.dec_img_blocks = nn.Sequential(*layers)
        self.dec_img_head = nn.Sequential(norm_layer("gn", cout), nn.ReLU(inplace=True), nn.Conv2d(cout, 3, 1),
                                          nn.Sigmoid())

    def forward(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        img_feat = self.dec_img_blocks(feat)
        return self.dec_img_head(img_feat.float()), img_feat


class Decoder(nn.Module):
    def __init__(self, image_size: int, feat_size: int, in_channels: int, num_channels: int, max_channels: int,
                 channel_mult: float, num_blocks: int, layers_per_resolution: int, channel_div: float,
                 embed_size: int = 4) -> None:
        super().__init__()
        num_up = int(math.log2(image_size // feat_size))
        width = min(int(num_channels * channel_mult * 2 ** num_up), max_channels)
        self.res_decoder = nn.Sequential(nn.Conv2d(in_channels, width, 1, bias=False),
                                         *[ResBlock(width, width) for _ in range(num_blocks)])
        self.img_decoder = ImageDecoder(image_size, feat_size, width, num_channels, layers_per_resolution, channel_div)
        self.projector = ProjectorNorm([self.res_decoder, self.img_decoder], embed_size, max_channels)

    def forward(self, feat_2d: torch.Tensor, return_features: bool = False):
        feat = self.res_decoder(feat_2d)
        img, img_feat = self.img_decoder(feat)
        return (img, feat, img_feat) if return_features else img

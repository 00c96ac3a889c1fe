"""Networks of the stage-2 refiner (the second training stage of the authors' release, ``logs_s2.zip``).

The refiner re-encodes a stage-1 frame into 2-D features (``E_ref``: stage 1's :class:`~.encoders.LocalEncoder`
design at the refiner's own size) and decodes them to a residual image ``r = tanh(G_ref(E_ref(x)))`` in
[-1, 1] that is added to the frame (see :class:`~emoavatar_emoportraits.refiner.Refiner`). ``G_ref`` is a
residual 2-D decoder: a 1x1 conv, residual blocks at the feature size, nearest-upsampling residual blocks to
the output size, then three residual blocks with 128/64/32 channels at full resolution and a 1x1 RGB head.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .layers import ResBlock, norm_layer

#: full-resolution feature widths of the refiner's image decoder (fixed in the released design)
FEATURE_CHANNELS = (128, 64, 32)


def batch_norm_instead(net: nn.Module) -> nn.Module:
    """Swap every 2-D GroupNorm inside ``net`` for a BatchNorm (momentum 0.01, as the authors' ``bn`` layers):
    the refiner built with ``norm: bn`` (their parser's default) instead of ``gn``."""
    for name, child in net.named_children():
        if type(child) is nn.GroupNorm:
            setattr(net, name, nn.BatchNorm2d(child.num_channels, momentum=0.01))
        else:
            batch_norm_instead(child)
    return net


class RefinerImageDecoder(nn.Module):
    """Upsampling half of G_ref: halve the channels per x2 nearest upsampling (not below ``num_channels``), the
    last x2 step to 128 channels, then 128 -> 64 -> 32 at full resolution and the tanh RGB head."""

    def __init__(self, image_size: int, feat_size: int, in_channels: int, num_channels: int) -> None:
        super().__init__()
        num_up = int(math.log2(image_size // feat_size))
        cout, layers = in_channels, []
        for _ in range(num_up - 1):
            cin, cout = cout, max(cout // 2, num_channels)
            layers.append(ResBlock(cin, cout, stride=2, resize="nearest"))
        self.dec_img_blocks = nn.Sequential(*layers)
        layers = [ResBlock(cout, FEATURE_CHANNELS[0], stride=2, resize="nearest")]
        cout = FEATURE_CHANNELS[0]
        for width in FEATURE_CHANNELS:
            layers.append(ResBlock(cout, width))
            cout = width
        self.dec_img_feat_blocks = nn.Sequential(*layers)
        self.dec_img_head = nn.Sequential(norm_layer("gn", cout), nn.ReLU(inplace=True), nn.Conv2d(cout, 3, 1), nn.Tanh())

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.dec_img_head(self.dec_img_feat_blocks(self.dec_img_blocks(feat)).float())


class RefinerDecoder(nn.Module):
    """G_ref: features [B, C*D, s, s] -> residual image [B, 3, S, S] in [-1, 1]."""

    def __init__(self, image_size: int, feat_size: int, in_channels: int, num_channels: int, channel_mult: float,
                 max_channels: int, num_blocks: int) -> None:
        super().__init__()
        num_up = int(math.log2(image_size // feat_size))
        width = min(int(num_channels * channel_mult * 2 ** num_up), max_channels)
        self.res_decoder = nn.Sequential(nn.Conv2d(in_channels, width, 1, bias=False),
                                         *[ResBlock(width, width) for _ in range(num_blocks)])
        self.img_decoder = RefinerImageDecoder(image_size, feat_size, width, num_channels)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.img_decoder(self.res_decoder(feat))

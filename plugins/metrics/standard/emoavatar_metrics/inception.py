"""Inception-v3 as used for FID (Heusel et al. 2017; EmoHead ref. [29]): the TensorFlow 2015-12-05
graph ported to PyTorch by pytorch-fid (``pt_inception-2015-12-05-6726825d.pth``). Module names
follow that state dict; the FID variant's pooling differences are kept (average pools exclude
padding in Mixed_5*/6*/7b, Mixed_7c pools by max). ``width`` scales every channel count, for tiny
test networks; 1.0 is the real one (2048-d pool features).
"""

from __future__ import annotations

from pathlib import Path

from emoavatar.errors import WeightsNotFoundError

from .common import load_weights, read_checkpoint

EXPECTED_FILE = "pt_inception-2015-12-05-6726825d.pth"


def build_inception(width: float = 1.0, num_classes: int = 1008):
    import torch
    from torch import nn
    from torch.nn import functional as F

    def ch(c: int) -> int:
        return max(1, round(c * width))

    class Conv(nn.Module):
        def __init__(self, i, o, k, s=1, p=0):
            super().__init__()
            self.conv = nn.Conv2d(i, o, k, s, p, bias=False)
            self.bn = nn.BatchNorm2d(o, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)))

    def avg(x):
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)

    class A(nn.Module):  # Mixed_5b/c/d
        def __init__(self, i, pool):
            super().__init__()
            self.branch1x1 = Conv(i, ch(64), 1)
            self.branch5x5_1, self.branch5x5_2 = Conv(i, ch(48), 1), Conv(ch(48), ch(64), 5, p=2)
            self.branch3x3dbl_1 = Conv(i, ch(64), 1)
            self.branch3x3dbl_2 = Conv(ch(64), ch(96), 3, p=1)
            self.branch3x3dbl_3 = Conv(ch(96), ch(96), 3, p=1)
            self.branch_pool = Conv(i, pool, 1)
            self.out = ch(64) * 2 + ch(96) + pool

        def forward(self, x):
            return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                              self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                              self.branch_pool(avg(x))], 1)

    class B(nn.Module):  # Mixed_6a
        def __init__(self, i):
            super().__init__()
            self.branch3x3 = Conv(i, ch(384), 3, s=2)
            self.branch3x3dbl_1 = Conv(i, ch(64), 1)
            self.branch3x3dbl_2 = Conv(ch(64), ch(96), 3, p=1)
            self.branch3x3dbl_3 = Conv(ch(96), ch(96), 3, s=2)
            self.out = ch(384) + ch(96) + i

        def forward(self, x):
            return torch.cat([self.branch3x3(x),
                              self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                              F.max_pool2d(x, 3, 2)], 1)

    class C(nn.Module):  # Mixed_6b-e
        def __init__(self, i, c7):
            super().__init__()
            self.branch1x1 = Conv(i, ch(192), 1)
            self.branch7x7_1, self.branch7x7_2 = Conv(i, c7, 1), Conv(c7, c7, (1, 7), p=(0, 3))
            self.branch7x7_3 = Conv(c7, ch(192), (7, 1), p=(3, 0))
            self.branch7x7dbl_1 = Conv(i, c7, 1)
            self.branch7x7dbl_2 = Conv(c7, c7, (7, 1), p=(3, 0))
            self.branch7x7dbl_3 = Conv(c7, c7, (1, 7), p=(0, 3))
            self.branch7x7dbl_4 = Conv(c7, c7, (7, 1), p=(3, 0))
            self.branch7x7dbl_5 = Conv(c7, ch(192), (1, 7), p=(0, 3))
            self.branch_pool = Conv(i, ch(192), 1)
            self.out = ch(192) * 4

        def forward(self, x):
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            d = self.branch7x7dbl_1(x)
            for m in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
                d = m(d)
            return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(avg(x))], 1)

    class D(nn.Module):  # Mixed_7a
        def __init__(self, i):
            super().__init__()
            self.branch3x3_1, self.branch3x3_2 = Conv(i, ch(192), 1), Conv(ch(192), ch(320), 3, s=2)
            self.branch7x7x3_1 = Conv(i, ch(192), 1)
            self.branch7x7x3_2 = Conv(ch(192), ch(192), (1, 7), p=(0, 3))
            self.branch7x7x3_3 = Conv(ch(192), ch(192), (7, 1), p=(3, 0))
            self.branch7x7x3_4 = Conv(ch(192), ch(192), 3, s=2)
            self.out = ch(320) + ch(192) + i

        def forward(self, x):
            b = self.branch7x7x3_1(x)
            for m in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
                b = m(b)
            return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b, F.max_pool2d(x, 3, 2)], 1)

    class E(nn.Module):  # Mixed_7b (average pool), Mixed_7c (max pool)
        def __init__(self, i, max_pool):
            super().__init__()
            self.max_pool = max_pool
            self.branch1x1 = Conv(i, ch(320), 1)
            self.branch3x3_1 = Conv(i, ch(384), 1)
            self.branch3x3_2a = Conv(ch(384), ch(384), (1, 3), p=(0, 1))
            self.branch3x3_2b = Conv(ch(384), ch(384), (3, 1), p=(1, 0))
            self.branch3x3dbl_1 = Conv(i, ch(448), 1)
            self.branch3x3dbl_2 = Conv(ch(448), ch(384), 3, p=1)
            self.branch3x3dbl_3a = Conv(ch(384), ch(384), (1, 3), p=(0, 1))
            self.branch3x3dbl_3b = Conv(ch(384), ch(384), (3, 1), p=(1, 0))
            self.branch_pool = Conv(i, ch(192), 1)
            self.out = ch(320) + ch(384) * 4 + ch(192)

        def forward(self, x):
            a = self.branch3x3_1(x)
            d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            pool = F.max_pool2d(x, 3, 1, 1) if self.max_pool else avg(x)
            return torch.cat([self.branch1x1(x), self.branch3x3_2a(a), self.branch3x3_2b(a),
                              self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d), self.branch_pool(pool)], 1)

    class InceptionFID(nn.Module):
        def __init__(self):
            super().__init__()
            self.Conv2d_1a_3x3 = Conv(3, ch(32), 3, s=2)
            self.Conv2d_2a_3x3 = Conv(ch(32), ch(32), 3)
            self.Conv2d_2b_3x3 = Conv(ch(32), ch(64), 3, p=1)
            self.Conv2d_3b_1x1 = Conv(ch(64), ch(80), 1)
            self.Conv2d_4a_3x3 = Conv(ch(80), ch(192), 3)
            self.Mixed_5b = A(ch(192), ch(32))
            self.Mixed_5c = A(self.Mixed_5b.out, ch(64))
            self.Mixed_5d = A(self.Mixed_5c.out, ch(64))
            self.Mixed_6a = B(self.Mixed_5d.out)
            c = self.Mixed_6a.out
            self.Mixed_6b, self.Mixed_6c = C(c, ch(128)), C(c, ch(160))
            self.Mixed_6d, self.Mixed_6e = C(c, ch(160)), C(c, ch(192))
            self.Mixed_7a = D(c)
            self.Mixed_7b = E(self.Mixed_7a.out, max_pool=False)
            self.Mixed_7c = E(self.Mixed_7b.out, max_pool=True)
            self.dim = self.Mixed_7c.out
            self.fc = nn.Linear(self.dim, num_classes)  # kept for the checkpoint; unused for FID

        def forward(self, x):
            """uint8-range RGB ``[N, 3, H, W]`` floats in [0, 255] -> ``[N, dim]`` pool features."""
            x = F.interpolate(x / 255.0, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
            x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
            x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, 2)))
            x = F.max_pool2d(x, 3, 2)
            for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
                x = getattr(self, "Mixed_" + name)(x)
            return F.adaptive_avg_pool2d(x, 1).flatten(1)

    return InceptionFID()


def load_inception(path: str | Path | None, width: float = 1.0, device: str = "cpu"):
    """Build the FID Inception and load ``pt_inception-2015-12-05-6726825d.pth`` (weights_only)."""

    fix = (f"download {EXPECTED_FILE} (the pytorch-fid release, Apache-2.0 port of TF Inception) "
           "and set fid.weights to its path")
    if not path:
        raise WeightsNotFoundError("fid needs `weights`", fix=fix)
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"FID Inception weights not found: {path}", fix=fix)
    state = read_checkpoint(path, "an FID Inception checkpoint", fix)
    model = build_inception(width, num_classes=state["fc.weight"].shape[0] if "fc.weight" in state else 1008)
    return load_weights(model, state, path, "an FID Inception checkpoint", fix).to(device).eval()

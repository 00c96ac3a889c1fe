"""Layers of the EMOPortraits stage-1 generator, named so that ``state_dict`` keys match the released file.

The released model was trained with two weight re-parametrisations that show in its checkpoint:

* spectral normalisation on every conv / linear of the generator networks: the file stores
  ``weight_orig`` with the power-iteration vectors ``weight_u`` and ``weight_v``; at inference the
  weight is ``W / sigma`` with ``sigma = u . (W v)`` (Miyato et al. 2018, eq. 3), no further iteration;
* weight standardisation on the convolutions that follow a group norm (a conv whose one or two
  previous siblings are a GroupNorm — adaptive GroupNorm for 3-D convs); those convs were re-created
  with a bias and without spectral norm, so they store ``weight`` and ``bias``.

:func:`spectral_norm_` and :func:`standardise_after_group_norm` apply the two in that order to a
freshly built network, which reproduces the layout of each module.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

GROUPS = 32


class SpectralNorm:
    """Forward pre-hook: ``module.weight = weight_orig / sigma(u, v)`` (inference form, no power step)."""

    def __init__(self, name: str = "weight") -> None:
        self.name = name

    def sigma(self, module: nn.Module) -> torch.Tensor:
        w = getattr(module, self.name + "_orig")
        mat = w.reshape(w.shape[0], -1)
        return torch.dot(getattr(module, self.name + "_u"), torch.mv(mat, getattr(module, self.name + "_v")))

    def __call__(self, module: nn.Module, inputs) -> None:
        setattr(module, self.name, getattr(module, self.name + "_orig") / self.sigma(module))


def spectral_norm_(module: nn.Module) -> nn.Module:
    """Re-parametrise ``module.weight`` as ``weight_orig`` + buffers ``weight_u``/``weight_v``."""
    w = module._parameters.pop("weight")
    h = w.shape[0]
    cols = w[0].numel()
    module.register_parameter("weight_orig", w)
    module.register_buffer("weight_u", F.normalize(torch.randn(h, device=w.device), dim=0))
    module.register_buffer("weight_v", F.normalize(torch.randn(cols, device=w.device), dim=0))
    module.weight = w.data
    module.register_forward_pre_hook(SpectralNorm())
    return module


def spectral_norm_all(net: nn.Module) -> nn.Module:
    """Spectral norm on every plain Conv2d / Conv3d / Linear inside ``net``."""
    for m in net.modules():
        if type(m) in (nn.Conv2d, nn.Conv3d, nn.Linear) and "weight" in m._parameters:
            spectral_norm_(m)
    return net


class StdConv2d(nn.Conv2d):
    """Weight-standardised conv (Qiao et al. 2019): zero-mean, unit-std (unbiased) filters, + 1e-5."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, standardise(self.weight), self.bias, self.stride, self.padding, self.dilation, self.groups)


class StdConv3d(nn.Conv3d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv3d(x, standardise(self.weight), self.bias, self.stride, self.padding, self.dilation, self.groups)


def standardise(w: torch.Tensor) -> torch.Tensor:
    w = w - w.mean(dim=tuple(range(1, w.dim())), keepdim=True)
    std = w.reshape(w.shape[0], -1).std(dim=1) + 1e-5
    return w / std.view(-1, *([1] * (w.dim() - 1)))


def standardise_after_group_norm(net: nn.Module) -> nn.Module:
    """Swap a Conv2d (Conv3d) whose previous or second-previous sibling is a GroupNorm (AdaptiveGroupNorm)
    for a weight-standardised conv with a bias, recursively. The first two children are never swapped."""
    children = list(net.named_children())
    for i in range(2, len(children)):
        name, m = children[i]
        before = (children[i - 1][1], children[i - 2][1])
        if type(m) is nn.Conv2d and any(type(b) is nn.GroupNorm for b in before):
            setattr(net, name, _std_conv(StdConv2d, m))
        elif type(m) is nn.Conv3d and any(type(b) is AdaptiveGroupNorm for b in before):
            setattr(net, name, _std_conv(StdConv3d, m))
    for _, child in net.named_children():
        standardise_after_group_norm(child)
    return net


def _std_conv(cls: type, m: nn.Module) -> nn.Module:
    return cls(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups, bias=True,
               device=m.weight.device)


class AdaptiveGroupNorm(nn.GroupNorm):
    """GroupNorm modulated per sample by (dw, db), predicted from the motion embedding by :class:`ProjectorNorm`
    and set before each forward. As trained in the release, the learned affine is applied twice:
    ``(GN(x) * w + b) * (w + dw) + (b + db)`` (the base GroupNorm keeps using ``weight``/``bias``)."""

    def __init__(self, num_features: int) -> None:
        super().__init__(GROUPS, num_features, 1e-5, affine=False)
        self.num_features = num_features
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.ada_weight: torch.Tensor | None = None
        self.ada_bias: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
        shape = (x.shape[0], -1) + (1,) * (x.dim() - 2)
        return out * self.ada_weight.reshape(shape) + self.ada_bias.reshape(shape)


class ProjectorNorm(nn.Module):
    """Low-rank map from the embedding ``E [B, C, s*s]`` to each adaptive norm's (dw, db) = ``U E V``."""

    def __init__(self, nets: list[nn.Module], embed_size: int, max_channels: int) -> None:
        super().__init__()
        norms = [m for net in nets for m in net.modules() if isinstance(m, AdaptiveGroupNorm)]
        self.u = nn.ParameterList([nn.Parameter(torch.zeros(m.num_features, max_channels)) for m in norms])
        self.v = nn.ParameterList([nn.Parameter(torch.zeros(embed_size ** 2, 2)) for _ in norms])

    def assign(self, nets: list[nn.Module], embed: torch.Tensor) -> None:
        norms = [m for net in nets for m in net.modules() if isinstance(m, AdaptiveGroupNorm)]
        for m, u, v in zip(norms, self.u, self.v):
            p = u[None].matmul(embed).matmul(v[None])
            m.ada_weight = m.weight[None] + p[..., 0]
            m.ada_bias = m.bias[None] + p[..., 1]


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "gn":
        return nn.GroupNorm(GROUPS, channels)
    if kind == "ada_gn":
        return AdaptiveGroupNorm(channels)
    raise ValueError(f"unsupported norm {kind!r}")


class ResBlock(nn.Module):
    """Pre-activation residual block: ``block(block_feats(x)) + skip(x)``, optional nearest x2 upsampling
    before it or average-pool downsampling after it (2-D or 3-D)."""

    def __init__(self, cin: int, cout: int, *, norm: str = "gn", dims: int = 2, stride: int = 1,
                 resize: str = "none") -> None:
        super().__init__()
        conv = nn.Conv3d if dims == 3 else nn.Conv2d
        pool = nn.AvgPool3d if dims == 3 else nn.AvgPool2d
        self.up = stride if resize == "nearest" else 1
        down = resize == "avgpool" and stride > 1
        self.block_feats = nn.Sequential(norm_layer(norm, cin), nn.ReLU(inplace=True),
                                         conv(cin, cout, 3, padding=1, bias=False),
                                         norm_layer(norm, cout), nn.ReLU(inplace=True))
        self.block = nn.Sequential(conv(cout, cout, 3, padding=1, bias=False), *([pool(stride)] if down else []))
        if cin != cout or down:
            layers = [conv(cin, cout, 1, bias=False)] if cin != cout else []
            self.skip = nn.Sequential(*layers, *([pool(stride)] if down else []))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up > 1:
            x = F.interpolate(x, scale_factor=self.up, mode="nearest")
        out = self.block(self.block_feats(x))
        return out + (self.skip(x) if hasattr(self, "skip") else x)

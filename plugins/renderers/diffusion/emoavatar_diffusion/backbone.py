"""The backbone ``Net``: ReferenceNet, denoising U-Net, face locator, identity and audio projections,
plus MoEE's emotion token; laid out as Hallo's ``net.pth`` (prefixes ``reference_unet.``,
``denoising_unet.``, ``face_locator.``, ``imageproj.``, ``audioproj.``) so it loads strictly.

The ReferenceNet is diffusers' ``UNet2DConditionModel``; every self-attention of it records its input
(the normed hidden states) in a bank that the denoising U-Net's self-attention reads as extra
keys/values (MoEE §3.1, Fig. 4).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import AttnProcessor2_0
from torch import nn

from .blocks import zero_module
from .unet3d import DenoisingUNet, UNetConfig

EXPERTS = ("happy", "sad", "angry", "fearful", "disgusted", "surprised")  # the six basic emotions (MoEE §3.3)
PREFIXES = ("reference_unet.", "denoising_unet.", "face_locator.", "imageproj.", "audioproj.")


@dataclass
class BackboneConfig:
    """Sizes of the whole Net. ``real()`` is Hallo's (SD-1.5, wav2vec2-base, 12 layers, 5-frame window)."""

    unet: UNetConfig = field(default_factory=UNetConfig)
    locator_channels: tuple[int, ...] = (16, 32, 64, 128)
    face_embedding_dim: int = 512
    identity_tokens: int = 4
    audio_window: int = 5
    audio_blocks: int = 12
    audio_channels: int = 768
    audio_intermediate: int = 512
    audio_tokens: int = 32
    latent_dim: int = 0  # emotion latent columns fed to the emotion token (0: gates + intensity only)
    vae_scale: float = 0.18215

    @classmethod
    def real(cls) -> "BackboneConfig":
        return cls()

    @classmethod
    def tiny(cls, audio_channels: int = 8, audio_blocks: int = 1) -> "BackboneConfig":
        unet = UNetConfig(block_out_channels=(32, 64), layers_per_block=1, heads=4, cross_attention_dim=32,
                          audio_attention_dim=32, norm_num_groups=8, motion_max_len=32, cross_blocks=(True, False))
        return cls(unet=unet, locator_channels=(8, 16, 16, 32)[:4], face_embedding_dim=16, identity_tokens=2,
                   audio_window=3, audio_blocks=audio_blocks, audio_channels=audio_channels, audio_intermediate=32,
                   audio_tokens=4)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["unet"] = self.unet.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "BackboneConfig":
        d = dict(d)
        d["unet"] = UNetConfig.from_dict(d.get("unet", {}))
        if "locator_channels" in d:
            d["locator_channels"] = tuple(d["locator_channels"])
        return cls(**d)


def reference_unet(cfg: UNetConfig) -> UNet2DConditionModel:
    """diffusers' 2-D U-Net at the denoising U-Net's sizes (SD-1.5 by default)."""
    n = len(cfg.block_out_channels)
    down = tuple("CrossAttnDownBlock2D" if c else "DownBlock2D" for c in cfg.cross_blocks[:n])
    up = tuple("CrossAttnUpBlock2D" if c else "UpBlock2D" for c in reversed(cfg.cross_blocks[:n]))
    unet = UNet2DConditionModel(
        sample_size=64, in_channels=cfg.in_channels, out_channels=cfg.in_channels, down_block_types=down,
        up_block_types=up, block_out_channels=cfg.block_out_channels, layers_per_block=cfg.layers_per_block,
        cross_attention_dim=cfg.cross_attention_dim, attention_head_dim=cfg.heads, norm_num_groups=cfg.norm_num_groups)
    # only its hidden states are used: no output head (as in Hallo's reference_unet)
    unet.conv_norm_out, unet.conv_act, unet.conv_out = None, None, nn.Identity()
    return unet


class _Recorder(AttnProcessor2_0):
    """Self-attention processor of the ReferenceNet that stores its input under the layer name."""

    def __init__(self, bank: dict, layer: str) -> None:
        super().__init__()
        self.bank, self.layer = bank, layer

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, *a, **kw):
        if self.bank.get("_on"):
            self.bank[self.layer] = hidden_states
        return super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, temb)


def install_recorders(unet: UNet2DConditionModel) -> dict:
    bank: dict = {}
    procs = {}
    for name in unet.attn_processors:
        layer = name.split(".transformer_blocks.")[0]
        procs[name] = _Recorder(bank, layer) if name.endswith("attn1.processor") else AttnProcessor2_0()
    unet.set_attn_processor(procs)
    return bank


class FaceLocator(nn.Module):
    """Face-region mask -> features added to the first U-Net layer (keys as Hallo's face_locator)."""

    def __init__(self, out_channels: int, channels: tuple[int, ...] = (16, 32, 64, 128)) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(3, channels[0], 3, padding=1)
        self.blocks = nn.ModuleList()
        for a, b in zip(channels[:-1], channels[1:]):
            self.blocks.append(nn.Conv2d(a, a, 3, padding=1))
            self.blocks.append(nn.Conv2d(a, b, 3, padding=1, stride=2))
        self.conv_out = zero_module(nn.Conv2d(channels[-1], out_channels, 3, padding=1))

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        # channels-last on CPU: its few channels at 8x the latent size run ~1.5x faster there (forward + backward, tiny
        # config, one thread); the output is handed back in the default layout
        if mask.device.type == "cpu":
            mask = mask.contiguous(memory_format=torch.channels_last)
        h = nn.functional.silu(self.conv_in(mask))
        for b in self.blocks:
            h = nn.functional.silu(b(h))
        return self.conv_out(h).contiguous()


class ImageProj(nn.Module):
    """Face identity embedding -> K identity tokens (keys proj / norm)."""

    def __init__(self, in_dim: int, dim: int, tokens: int) -> None:
        super().__init__()
        self.tokens, self.dim = tokens, dim
        self.proj, self.norm = nn.Linear(in_dim, tokens * dim), nn.LayerNorm(dim)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(e).reshape(-1, self.tokens, self.dim))


class AudioProj(nn.Module):
    """A window of wav2vec2 hidden states ``[N, window, blocks, channels]`` -> audio tokens ``[N, A, dim]``."""

    def __init__(self, in_dim: int, mid: int, dim: int, tokens: int) -> None:
        super().__init__()
        self.tokens, self.dim = tokens, dim
        self.proj1, self.proj2 = nn.Linear(in_dim, mid), nn.Linear(mid, mid)
        self.proj3, self.norm = nn.Linear(mid, tokens * dim), nn.LayerNorm(dim)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.proj2(torch.relu(self.proj1(a.flatten(1)))))
        return self.norm(self.proj3(h).reshape(-1, self.tokens, self.dim))


class Net(nn.Module):
    """Everything with weights except the VAE and the audio encoder."""

    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        self.config = cfg
        u = cfg.unet
        self.reference_unet = reference_unet(u)
        self.denoising_unet = DenoisingUNet(u)
        self.face_locator = FaceLocator(u.block_out_channels[0], cfg.locator_channels)
        self.imageproj = ImageProj(cfg.face_embedding_dim, u.cross_attention_dim, cfg.identity_tokens)
        self.audioproj = AudioProj(cfg.audio_window * cfg.audio_blocks * cfg.audio_channels, cfg.audio_intermediate,
                                   u.audio_attention_dim, cfg.audio_tokens)
        # MoEE: the emotion token the experts attend to, from global gates + intensity (+ latent)
        self.moee_emotion = nn.Sequential(nn.Linear(len(EXPERTS) + 1 + cfg.latent_dim, u.audio_attention_dim), nn.SiLU(),
                                          nn.Linear(u.audio_attention_dim, u.audio_attention_dim))
        self.bank = install_recorders(self.reference_unet)

    def expert_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if is_expert_key(n)]


def is_expert_key(name: str) -> bool:
    """The MoEE layers: the only keys Hallo's checkpoint lacks."""
    return name.startswith("moee_") or ".moee." in name


def load_hallo(net: Net, path: str | Path) -> list[str]:
    """Load Hallo's ``net.pth`` strictly for the backbone; return the expert keys it (rightly) lacks.

    Any other missing or unexpected key, or any shape mismatch, is an error naming the keys."""
    from emoavatar.errors import WeightsNotFoundError

    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(
            f"Hallo backbone weights not found: {path}",
            fix="download net.pth from the hub repo fudan-generative-vision/hallo (folder hallo/, MIT licence; it builds "
                "on SD-1.5 under CreativeML OpenRAIL-M) and set `backbone:` to its path")
    state = torch.load(path, map_location="cpu", weights_only=True)
    return load_backbone_state(net, state)


def load_backbone_state(net: Net, state: dict) -> list[str]:
    from emoavatar.errors import WeightsNotFoundError

    own = net.state_dict()
    missing = [k for k in own if k not in state and not is_expert_key(k)]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in state
              if k in own and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        raise WeightsNotFoundError(
            f"checkpoint does not fit the backbone: {len(missing)} missing (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}), {len(shapes)} shape mismatches (e.g. {shapes[:2]})",
            fix="use Hallo's net.pth with `size: real`, or a checkpoint written by `emoavatar train moee-stage1/2`")
    net.load_state_dict({k: v for k, v in state.items()}, strict=False)
    return sorted(k for k in own if k not in state)

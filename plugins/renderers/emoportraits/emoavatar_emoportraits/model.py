"""The EMOPortraits stage-1 model (paper §3, Fig. 4), assembled from :mod:`.nn` with the module names of the
released checkpoint.

Source (once per portrait):  V_s = G_src(E_loc(x_s)) [C, D, s, s];  e_s = E_idt(x_s);  z_s = E_exp(x_s, theta_s)
  canonical volume  V^C = G_3D( warp(warp(V_s, theta_s^-1), W_xy(e_s, z_s)) )
Driver (per frame, from z_d and the 9 pose numbers of theta_d):
  x_d = G_2D( warp(warp(V^C, W_uv(e_s, z_d)), theta_d) )
where each W is a warp generator fed with ``Conv1x1((P z + e_s) / 2)`` (P: ``pose_unsqueeze_nw``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .nn.decoder import Decoder
from .nn.encoders import ExpressionEmbed, HeadPoseRegressor, IdtEmbed, LocalEncoder
from .nn.layers import spectral_norm_all, standardise_after_group_norm
from .nn.transforms import identity_grid_3d, rotation_warp, similarity_matrix
from .nn.volume import Unet3D, VolumeSourceNet, WarpGenerator

#: networks that carry spectral norm and weight standardisation in the released model
GENERATOR_NETS = ("local_encoder_nw", "idt_embedder_nw", "expression_embedder_nw", "xy_generator_nw",
                  "uv_generator_nw", "warp_embed_head_orig_nw", "volume_process_nw", "volume_source_nw", "decoder_nw")


@dataclass(frozen=True)
class Stage1Config:
    """Hyper-parameters; the defaults are those of the released checkpoint
    (``Retrain_with_17_V1_New_rand_MM_SEC_4_drop_02_stm_10_CV_05_1_1``)."""

    image_size: int = 512
    volume_channels: int = 96       # C of V_s (latent_volume_channels)
    volume_size: int = 64           # s
    volume_depth: int = 16          # D
    num_channels: int = 32          # gen_num_channels
    enc_channel_mult: float = 4.0
    max_channels: int = 512         # gen_max_channels (= identity embedding channels)
    dec_max_channels: int = 512
    dec_channel_mult: float = 2.0
    dec_num_blocks: int = 6
    dec_layers_per_resolution: int = 2
    dec_channel_div: float = 1.5
    idt_depth: int = 50
    idt_image_size: int = 256
    embed_size: int = 4             # e: the identity / motion embeddings are [max_channels, e, e]
    exp_image_size: int = 256
    expression_dim: int = 128       # z
    unet_dummy_size: int = 8
    unet_max_channels: int = 512
    source_volume_blocks: int = 3

    def to_dict(self) -> dict:
        return asdict(self)


class Stage1(nn.Module):
    def __init__(self, cfg: Stage1Config = Stage1Config()) -> None:
        super().__init__()
        self.cfg = c = cfg
        self.bn = nn.BatchNorm1d(512, affine=False)  # statistics kept by the training model; unused here
        self.local_encoder_nw = LocalEncoder(c.image_size, c.volume_size, c.volume_channels, c.volume_depth,
                                             c.num_channels, c.enc_channel_mult, c.max_channels)
        self.idt_embedder_nw = IdtEmbed(c.max_channels, c.embed_size, c.idt_image_size, c.idt_depth)
        self.expression_embedder_nw = ExpressionEmbed(c.expression_dim, c.embed_size, c.exp_image_size)
        self.pose_unsqueeze_nw = nn.Linear(c.expression_dim, c.max_channels * c.embed_size ** 2, bias=False)
        self.warp_embed_head_orig_nw = nn.Conv2d(c.max_channels, c.max_channels, 1, bias=False)
        warp = dict(embed_size=c.embed_size, in_channels=c.max_channels, num_channels=c.num_channels,
                    max_channels=c.max_channels, depth=c.volume_depth, size=c.volume_size)
        self.xy_generator_nw = WarpGenerator(**warp)
        self.uv_generator_nw = WarpGenerator(**warp)
        if c.source_volume_blocks > 0:
            self.volume_source_nw = VolumeSourceNet(c.volume_channels, c.source_volume_blocks)
        self.volume_process_nw = Unet3D(c.volume_channels, c.volume_depth, c.volume_size, c.unet_dummy_size,
                                        c.unet_max_channels, c.embed_size)
        self.decoder_nw = Decoder(c.image_size, c.volume_size, c.volume_channels * c.volume_depth, c.num_channels,
                                  c.dec_max_channels, c.dec_channel_mult, c.dec_num_blocks,
                                  c.dec_layers_per_resolution, c.dec_channel_div, c.embed_size)
        for name in GENERATOR_NETS:
            if hasattr(self, name):
                spectral_norm_all(getattr(self, name))
        for name in GENERATOR_NETS:
            if hasattr(self, name):
                net = getattr(self, name)
                if isinstance(net, nn.Conv2d):
                    continue
                standardise_after_group_norm(net)
        self.register_buffer("identity_grid_3d", identity_grid_3d(c.volume_depth, c.volume_size), persistent=False)
        self.head_pose = HeadPoseRegressor()  # a separate file in the release; not part of state_dict()

    def state_dict(self, *args, **kwargs):  # the released model file has no head-pose regressor
        sd = super().state_dict(*args, **kwargs)
        for k in [k for k in sd if k.startswith("head_pose.")]:
            del sd[k]
        return sd

    # -- embeddings -------------------------------------------------------------------------------------
    def motion_embed(self, z: torch.Tensor, idt: torch.Tensor) -> torch.Tensor:
        """Warp-generator input [B, C, e*e] from the expression latent z and identity embedding e_s."""
        e = self.cfg.embed_size
        pose = self.pose_unsqueeze_nw(z).view(z.shape[0], -1, e, e)
        out = self.warp_embed_head_orig_nw((pose + idt.expand(z.shape[0], -1, -1, -1)) * 0.5)
        return out.view(z.shape[0], out.shape[1], e * e)

    def pose_theta(self, srt: torch.Tensor) -> torch.Tensor:
        return similarity_matrix(srt)

    @torch.no_grad()
    def encode_driver(self, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Driver frames [B,3,S,S] in [0,1] -> (z [B, 128], srt [B, 9]) with the model's own embedders."""
        srt = self.head_pose(img)
        return self.expression_embedder_nw(img, similarity_matrix(srt)), srt

    # -- the two halves of Fig. 4 ------------------------------------------------------------------------
    def prepare_source(self, img: torch.Tensor, mask: torch.Tensor | None = None) -> dict:
        """Source image [1,3,S,S] in [0,1] (optionally its foreground mask) -> what driving needs."""
        c = self.cfg
        masked = img if mask is None else img * mask
        idt = self.idt_embedder_nw(masked)
        latents = self.local_encoder_nw(masked)
        srt = self.head_pose(img)
        theta = similarity_matrix(srt)
        z = self.expression_embedder_nw(img, theta)
        xy_warp = self.xy_generator_nw(self.motion_embed(z, idt))
        volume = latents.view(img.shape[0], c.volume_channels, c.volume_depth, c.volume_size, c.volume_size)
        if hasattr(self, "volume_source_nw"):
            volume = self.volume_source_nw(volume)
        rot = rotation_warp(self.identity_grid_3d, theta, c.volume_depth, c.volume_size, inverse=True)
        canonical = self.volume_process_nw(_sample(_sample(volume, rot), xy_warp))  # V^C
        return {"idt": idt, "canonical": canonical, "z": z, "srt": srt}

    def drive(self, source: dict, z: torch.Tensor, srt: torch.Tensor, return_features: bool = False):
        """Render frames [B,3,S,S] in [0,1] for expression latents z [B,128] and poses srt [B,9]."""
        c = self.cfg
        b = z.shape[0]
        uv_warp = self.uv_generator_nw(self.motion_embed(z, source["idt"]))
        rot = rotation_warp(self.identity_grid_3d, similarity_matrix(srt), c.volume_depth, c.volume_size)
        canonical = source["canonical"].expand(b, -1, -1, -1, -1)
        volume = _sample(_sample(canonical, uv_warp), rot)
        feats = volume.reshape(b, c.volume_channels * c.volume_depth, c.volume_size, c.volume_size)
        return self.decoder_nw(feats, return_features=return_features)


def _sample(volume: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(volume.float(), grid.float(), padding_mode="zeros", align_corners=False)

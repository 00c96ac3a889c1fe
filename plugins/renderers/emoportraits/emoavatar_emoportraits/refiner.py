"""The stage-2 refiner of the authors' release (``logs_s2.zip``), applied to stage-1 frames as their inference
(``notebooks/infer_s2.py``) does:

    x   = resize(x_1, S)                        stage-1 frame, bilinear to the refiner size S (512)
    r   = tanh(G_ref(E_ref(x * m)))              residual image in [-1, 1]   (m: foreground matte)
    x_2 = clamp(x + r * m_face, 0, 1)            the residual only inside the face region m_face

The authors take m from MODNet matting and m_face = m x BiSeNet face-parsing labels (face, ears, neck,
hair, hat), or m_face = m in their ``cloth`` mode (what a matte without a face mask gives here); without
those networks both masks default to ones (the whole crop is refined).

The released file is the training model's ``state_dict``: ``local_encoder.*`` (E_ref), ``decoder.*`` (G_ref),
an unused ``pose_unsqueeze.weight`` and the discriminators, which are skipped and counted. The layers carry
spectral norm (``weight_orig``/``weight_u``/``weight_v``) and, with group norms, weight-standardised convs
after them, as in stage 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import LICENCE, CheckpointMismatch, check_agreement, read_state_dict
from .nn.encoders import LocalEncoder
from .nn.layers import spectral_norm_all, standardise_after_group_norm
from .nn.refiner import RefinerDecoder, batch_norm_instead

REFINER_FILE = "logs_s2/<experiment>/checkpoints/<epoch>_model.pth (logs_s2.zip of the release)"
REFINER_SOURCE = ("the authors' release: logs_s2.zip (stage-2 model weights) linked from "
                  "https://github.com/neeek2303/EMOPortraits (Google Drive / Yandex Disk)")
REFINER_NETS = ("local_encoder", "decoder")


@dataclass(frozen=True)
class RefinerConfig:
    """Hyper-parameters: the defaults are the stage-2 parser's sizes (``models/stage_2/base/volumetric_avatar_two.py``)
    with the norm options of the released experiment's command line (``gn`` + weight standardisation)."""

    image_size: int = 512           # output_size_s2
    feat_size: int = 64             # gen_latent_texture_size2
    feat_channels: int = 64         # gen_latent_texture_channels2
    feat_depth: int = 16            # gen_latent_texture_depth
    num_channels: int = 32          # gen_num_channels
    enc_channel_mult: float = 4.0   # enc_channel_mult_stage2
    max_channels: int = 512         # gen_max_channels
    dec_max_channels: int = 512     # dec_max_channels2
    dec_channel_mult: float = 4.0   # dec_channel_mult_stage2
    dec_num_blocks: int = 8         # dec_num_blocks_stage2
    expression_channels: int = 512  # lpe_output_channels (only the unused pose_unsqueeze layer)
    embed_size: int = 4             # gen_embed_size
    norm: str = "gn"                # norm_layer_type: gn (weight-standardised convs) or bn (no standardisation)

    def __post_init__(self) -> None:
        if self.norm not in ("gn", "bn"):
            raise ValueError(f"refiner norm must be gn or bn, got {self.norm!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class Refiner(nn.Module):
    def __init__(self, cfg: RefinerConfig = RefinerConfig()) -> None:
        super().__init__()
        self.cfg = c = cfg
        feats = c.feat_channels * c.feat_depth
        self.local_encoder = LocalEncoder(c.image_size, c.feat_size, c.feat_channels, c.feat_depth, c.num_channels,
                                          c.enc_channel_mult, c.max_channels)
        self.decoder = RefinerDecoder(c.image_size, c.feat_size, feats, c.num_channels, c.dec_channel_mult,
                                      c.dec_max_channels, c.dec_num_blocks)
        # trained with the stage-2 model but unused by its inference; kept so that the file loads strictly
        self.pose_unsqueeze = nn.Linear(c.expression_channels, c.max_channels * c.embed_size ** 2, bias=False)
        if c.norm == "bn":
            for name in REFINER_NETS:
                batch_norm_instead(getattr(self, name))
        for name in REFINER_NETS:
            spectral_norm_all(getattr(self, name))
        if c.norm == "gn":
            for name in REFINER_NETS:
                standardise_after_group_norm(getattr(self, name))

    def forward(self, frames: torch.Tensor, matte: torch.Tensor | None = None,
                face_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Stage-1 frames [B,3,H,W] in [0,1] (optional matte / face mask [B,1,S,S]) -> refined [B,3,S,S] in [0,1]."""
        s = self.cfg.image_size
        x = frames.float()
        if x.shape[-2:] != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False)
        residual = self.residual(x if matte is None else x * matte)
        if face_mask is not None:
            residual = residual * face_mask
        elif matte is not None:
            residual = residual * matte
        return (x + residual).clamp(0, 1)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """r = tanh(G_ref(E_ref(x))) in [-1, 1] for the (masked) frame at the refiner size."""
        return self.decoder(self.local_encoder(x))


def detect_norm(sd: dict[str, torch.Tensor]) -> str:
    """``bn`` when the file's encoder has batch-norm statistics, else ``gn``."""
    return "bn" if any(k.startswith("local_encoder.") and k.endswith(".running_mean") for k in sd) else "gn"


def load_refiner(path: Path, cfg: RefinerConfig | dict | None = None, device: str = "cpu") -> Refiner:
    """Build :class:`Refiner` and load the released stage-2 file (``weights_only=True``) with exact key and shape
    agreement under ``local_encoder``/``decoder``/``pose_unsqueeze``; other (training-only) keys are counted.
    ``cfg`` may be a dict of overrides of the released sizes; unless it names ``norm``, the norm (gn/bn) is read
    from the file's keys."""
    theirs = read_state_dict(path, "stage-2 refiner", REFINER_FILE, source=REFINER_SOURCE)
    if not isinstance(cfg, RefinerConfig):
        cfg = RefinerConfig(**{"norm": detect_norm(theirs), **(cfg or {})})
    model = Refiner(cfg)
    ours = model.state_dict()
    model.skipped_keys = check_agreement(ours, theirs, Path(path), what="EMOPortraits stage-2 refiner",
                                         fix="check that the file is the stage-2 *_model.pth of logs_s2.zip and "
                                             "the refiner_architecture options match its args.txt")
    missing, unexpected = model.load_state_dict({k: theirs[k] for k in ours}, strict=True)
    assert not missing and not unexpected
    return model.eval().to(device)


__all__ = ["LICENCE", "REFINER_FILE", "REFINER_SOURCE", "CheckpointMismatch", "Refiner", "RefinerConfig",
           "detect_norm", "load_refiner"]

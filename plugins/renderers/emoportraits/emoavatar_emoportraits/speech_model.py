"""The speech mode's learned parts and its file (the paper's speech-driving mode, E_audio of Fig. 4; ours: the authors never
released theirs).

- a mouth subspace of the expression latent: ``P`` [K, Z] (orthonormal rows) and the mean latent ``mu``, found
  by PCA over latents of talking frames (the paper's mouth-focused PCA components);
- per-emotion latent directions ``d_e`` [E, Z] with the mouth subspace projected out;
- an audio regressor: a window of per-frame audio features -> mouth coefficients ``c_t = P (z_t - mu)`` and
  the head pose relative to the speaker's own (``pose_t - mean pose``), both in normalised units.

The file is one safetensors: the tensors above, the feature / target normalisation, the regressor's weights
(``regressor.*``) and a JSON ``meta`` entry in its metadata (architecture, feature kinds and sizes, fps).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from emoavatar.emotions import EMOTIONS
from emoavatar.errors import ConfigError, WeightsNotFoundError
from torch import nn

FORMAT = "emoavatar-emoportraits-speech"
POSE_DIM = 9
STATS = ("mu", "mouth_basis", "mouth_std", "directions", "feature_mean", "feature_std", "pose_std")


class SpeechRegressor(nn.Module):
    """Audio features [B, T, D] -> (mouth coefficients [B, T, K], relative head pose [B, T, 9]).

    A per-frame projection, two temporal convolutions over a window of ``kernel`` frames each (receptive field
    2 x (kernel - 1) + 1 frames: coarticulation, look-ahead), then a bidirectional GRU for the slower head
    motion."""

    def __init__(self, in_dim: int, n_mouth: int, hidden: int = 64, kernel: int = 5, dropout: float = 0.1) -> None:
        super().__init__()
        self.arch = {"in_dim": in_dim, "n_mouth": n_mouth, "hidden": hidden, "kernel": kernel, "dropout": dropout}
        pad = kernel // 2
        self.inp = nn.Linear(in_dim, hidden)
        self.conv1 = nn.Conv1d(hidden, hidden, kernel, padding=pad)
        self.conv2 = nn.Conv1d(hidden, hidden, kernel, padding=pad)
        self.drop = nn.Dropout(dropout)
        self.gru = nn.GRU(hidden, hidden // 2, batch_first=True, bidirectional=True)
        self.mouth = nn.Linear(2 * hidden, n_mouth)
        self.pose = nn.Linear(hidden, POSE_DIM)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.inp(x)).transpose(1, 2)
        h = h + torch.relu(self.conv1(self.drop(h)))
        h = (h + torch.relu(self.conv2(self.drop(h)))).transpose(1, 2)
        g, _ = self.gru(h)
        return self.mouth(torch.cat([h, g], -1)), self.pose(g)


@dataclass
class SpeechMode:
    """Everything in a speech-mode file; tensors on ``device``."""

    regressor: SpeechRegressor
    stats: dict[str, torch.Tensor]
    features: list[tuple[str, int]]          # (kind, size) in the order they are concatenated
    fps: float = 25.0
    meta: dict = field(default_factory=dict)

    @property
    def z_dim(self) -> int:
        return int(self.stats["mu"].shape[0])

    def normalise(self, feats: torch.Tensor) -> torch.Tensor:
        return (feats - self.stats["feature_mean"]) / self.stats["feature_std"]

    def predict(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw features [B, T, D] -> (mouth coefficients c [B, T, K], relative pose [B, T, 9]) in latent / pose units."""
        m, p = self.regressor(self.normalise(feats))
        return m * self.stats["mouth_std"], p * self.stats["pose_std"]


def save_speech_mode(path: Path, mode: SpeechMode, extra_meta: dict | None = None) -> None:
    """Write atomically (a temporary file renamed), so an interrupted save never leaves half a checkpoint."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in mode.stats.items()}
    tensors.update({f"regressor.{k}": v.detach().cpu().contiguous() for k, v in mode.regressor.state_dict().items()})
    meta = {"format": FORMAT, "version": 1, "arch": mode.regressor.arch, "features": mode.features, "fps": mode.fps,
            "emotions": list(EMOTIONS), **mode.meta, **(extra_meta or {})}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"meta": json.dumps(meta)})
    tmp.replace(path)


def load_speech_mode(path: Path | None, device: str = "cpu") -> SpeechMode:
    from safetensors import safe_open
    from safetensors.torch import load_file

    how = "train one with `emoavatar train emoportraits-speech --dataset KIND ROOT --checkpoint STAGE1.pth " \
          "--head-pose-checkpoint head_pose_regressor.pth --out speech.safetensors` (see the plugin README) " \
          "and set motion.with.speech_checkpoint"
    if path is None:
        raise WeightsNotFoundError("emoportraits-speech needs its speech-mode file (speech_checkpoint, .safetensors)", fix=how)
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"emoportraits-speech: speech-mode file not found: {path}", fix=how)
    with safe_open(str(path), "pt") as f:
        meta = json.loads((f.metadata() or {}).get("meta", "{}"))
    if meta.get("format") != FORMAT:
        raise ConfigError(f"{path} is not an emoportraits-speech file (no '{FORMAT}' metadata)", fix=how)
    tensors = load_file(str(path), device=device)
    missing = [k for k in STATS if k not in tensors]
    if missing:
        raise ConfigError(f"{path}: speech-mode file lacks {missing}", fix=how)
    reg = SpeechRegressor(**meta["arch"]).to(device)
    reg.load_state_dict({k[len("regressor."):]: v for k, v in tensors.items() if k.startswith("regressor.")})
    reg.eval()
    return SpeechMode(reg, {k: tensors[k] for k in STATS}, [tuple(f) for f in meta["features"]],
                      float(meta.get("fps", 25.0)), meta)

"""Speech features from a transformers audio model (HuBERT, wav2vec2, data2vec-audio, …).

16 kHz mono in; hidden states of one layer, or of every transformer layer stacked layer-major
(``layers: all``: ``[T, L*D]``, Hallo's wav2vec2 audio layout), (``output_hidden_states``) at the model's frame
rate (16000 / Π conv strides = 50 Hz for the base models), linearly interpolated to the
pipeline fps -> ``AudioFeatures(kind, [T, D])``. Long audio runs in pieces of
``chunk_seconds`` with ``context_seconds`` of extra audio on each side, so memory stays bounded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from emoavatar.errors import WeightsNotFoundError
from emoavatar.interfaces import AudioEncoder, RunContext
from emoavatar.types import Audio, AudioFeatures

SAMPLE_RATE = 16000


UNSUPPORTED_FIX = ("give a transformers audio model folder (config.json + weights): HuBERT, wav2vec2, WavLM, "
                   "data2vec-audio or an emotion model fine-tuned from one, or a transformers port of emotion2vec")


def funasr_checkpoint(path: Path) -> bool:
    """A FunASR/fairseq checkpoint: a bare ``.pt`` file, or a folder with ``config.yaml`` + ``model.pt``
    and no ``config.json`` (the layout of the official emotion2vec releases)."""
    if path.is_file():
        return path.suffix in (".pt", ".pth", ".ckpt")
    return not (path / "config.json").is_file() and (path / "model.pt").is_file()


def load_pretrained(model: str | None, local_files_only: bool, what: str, auto_class: str = "AutoModel"):
    """``AutoModel.from_pretrained`` from a folder or a (cached) hub id; WeightsNotFoundError otherwise."""
    if not model:
        raise WeightsNotFoundError(f"{what}: no model configured",
                                   fix="set with: {model: PATH_OR_HUB_ID} (a transformers model folder)")
    import transformers

    path = Path(model).expanduser()
    if path.exists() and funasr_checkpoint(path):
        raise WeightsNotFoundError(f"{what}: {path} is a FunASR/fairseq checkpoint (emotion2vec's official format), "
                                   "which is not supported: only transformers models load", fix=UNSUPPORTED_FIX)
    if path.exists() and not (path / "config.json").is_file():
        raise WeightsNotFoundError(f"{what}: {path}/config.json not found",
                                   fix="point `model` at a folder written by save_pretrained()")
    if local_files_only:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        return getattr(transformers, auto_class).from_pretrained(str(path) if path.exists() else model,
                                                                 local_files_only=local_files_only)
    except (OSError, ValueError) as e:
        if "emotion2vec" in str(model).lower():
            raise WeightsNotFoundError(f"{what}: cannot load {model!r} with transformers; the official emotion2vec "
                                       "checkpoints are FunASR models, which are not supported", fix=UNSUPPORTED_FIX) from None
        raise WeightsNotFoundError(
            f"{what}: cannot load {model!r} ({str(e).splitlines()[0][:160]})",
            fix="download it once (e.g. `huggingface-cli download MODEL`) or give a local folder; "
                "nothing is fetched while local_files_only is true",
        ) from None


def model_hop(config: Any) -> int:
    """Samples per output frame: the product of the conv feature extractor's strides (320)."""
    strides = getattr(config, "conv_stride", None)
    return int(np.prod(strides)) if strides else 320


def resample_frames(values: np.ndarray, src_rate: float, n_out: int, fps: float) -> np.ndarray:
    """Linear interpolation of ``[N, D]`` rows at times (j + 0.5)/src_rate to (t + 0.5)/fps."""
    if len(values) == 0:
        return np.zeros((n_out, values.shape[1]), np.float32)
    src_t = (np.arange(len(values)) + 0.5) / src_rate
    dst_t = (np.arange(n_out) + 0.5) / fps
    pos = np.clip(np.interp(dst_t, src_t, np.arange(len(values), dtype=np.float64)), 0, len(values) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(values) - 1)
    w = (pos - lo)[:, None]
    return ((1 - w) * values[lo] + w * values[hi]).astype(np.float32)


class HFSpeechEncoder(AudioEncoder):
    """``features:<kind>`` from one hidden layer (or all layers, ``layers: all``) of a transformers speech model."""

    def __init__(self, config: Any = None) -> None:
        from .spec import SpeechConfig

        super().__init__(config or SpeechConfig())
        self._model = None
        self._normalize = False

    def _load(self):
        if self._model is None:
            cfg = self.config
            model = load_pretrained(cfg.model, cfg.local_files_only, f"{cfg.kind} encoder")
            self._model = model.to(cfg.device).eval()
            self._normalize = bool(cfg.normalize) if cfg.normalize is not None else self._preprocessor_normalize()
        return self._model

    def _preprocessor_normalize(self) -> bool:
        path = Path(str(self.config.model)) / "preprocessor_config.json"
        if path.is_file():
            return bool(json.loads(path.read_text()).get("do_normalize", False))
        return False

    @property
    def hop(self) -> int:
        return model_hop(self._load().config)

    @property
    def n_layers(self) -> int:
        """Transformer layers whose outputs ``layers: all`` stacks (12 for the base models)."""
        return int(self._load().config.num_hidden_layers)

    def _pick(self, hidden_states) -> np.ndarray:
        """``hidden_states`` (embedding output + one per layer, each ``[1, F, D]``) -> ``[F, D]`` of ``layer``, or
        ``[F, L*D]``: layers 1..L stacked layer-major (``layers: all``, as Hallo stacks ``hidden_states[1:]``)."""
        import torch

        if self.config.layers == "all":
            hs = torch.stack(hidden_states[1:], dim=2)[0]  # [F, L, D]
            return hs.reshape(hs.shape[0], -1).float().cpu().numpy()
        return hidden_states[self.config.layer][0].float().cpu().numpy()

    def hidden_states(self, samples: np.ndarray) -> np.ndarray:
        """``[N]`` 16 kHz samples -> ``[frames, D]`` of the chosen layer at the model's rate, in pieces."""
        import torch

        model = self._load()
        x = np.asarray(samples, np.float32).reshape(-1)
        if self._normalize:
            x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        hop = self.hop
        n_frames = max(1, len(x) // hop)
        chunk = max(hop, int(round(self.config.chunk_seconds * SAMPLE_RATE / hop)) * hop)
        ctx = int(round(self.config.context_seconds * SAMPLE_RATE / hop)) * hop
        min_len = 2 * hop  # the conv stack needs a few hundred samples
        out: list[np.ndarray] = []
        done = 0
        with torch.no_grad():
            for start in range(0, len(x), chunk):
                lo, hi = max(0, start - ctx), min(len(x), start + chunk + ctx)
                piece = x[lo:hi]
                if len(piece) < min_len:
                    piece = np.pad(piece, (0, min_len - len(piece)))
                res = model(torch.as_tensor(piece, device=self.config.device)[None], output_hidden_states=True)
                hs = self._pick(res.hidden_states)
                first = (start - lo) // hop
                want = chunk // hop if start + chunk < len(x) else n_frames - done
                part = hs[first:first + max(want, 0)]
                if 0 < len(part) < want:  # the conv stack drops a partial frame at a piece's end
                    part = np.concatenate([part, np.repeat(part[-1:], want - len(part), 0)])
                out.append(part)
                done += len(part)
        width = model.config.hidden_size * (self.n_layers if self.config.layers == "all" else 1)
        feats = np.concatenate(out) if out else np.zeros((0, width), np.float32)
        if len(feats) < n_frames:
            pad = feats[-1:] if len(feats) else np.zeros((1, width), np.float32)
            feats = np.concatenate([feats, np.repeat(pad, n_frames - len(feats), 0)])
        return feats[:n_frames]

    def encode(self, audio: Audio, ctx: RunContext) -> AudioFeatures:
        samples = audio.samples
        if audio.sample_rate != SAMPLE_RATE:  # linear resampling to 16 kHz
            n = int(round(len(samples) * SAMPLE_RATE / audio.sample_rate))
            samples = np.interp(np.arange(n) * audio.sample_rate / SAMPLE_RATE, np.arange(len(samples)), samples)
        hs = self.hidden_states(samples)
        values = resample_frames(hs, SAMPLE_RATE / self.hop, ctx.n_frames, ctx.fps)
        meta = {"model": self.config.model, "layer": self.config.layer, "source_rate": SAMPLE_RATE / self.hop}
        if self.config.layers == "all":  # the column layout, for consumers that split it (e.g. moee-diffusion)
            meta.update(layer="all", layers=self.n_layers, channels=int(self._load().config.hidden_size),
                        layout="layer-major")
        return AudioFeatures(values, self.config.kind, ctx.fps, meta=meta)

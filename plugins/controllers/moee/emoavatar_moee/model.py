"""The whole MoEE controller network (emotion-to-latents + experts), its deterministic start and
its checkpoint (``NAME.safetensors`` + ``NAME.json``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from emoavatar.emotions import EMOTIONS
from emoavatar.errors import WeightsNotFoundError
from torch import nn

from .facs import REGION_NAMES
from .gating import EmotionExperts
from .latents import EmotionToLatents
from .text import TextEncoder, anchor_table

FORMAT = "emoavatar-moee-latents/1"


@dataclass
class MoeeSettings:
    """What fixes the network's shapes and behaviour (stored in the checkpoint's JSON)."""

    latent_dim: int = 64
    experts: tuple[str, ...] = ("happy", "sad", "angry", "fearful", "disgusted", "surprised")
    vocabulary: tuple[str, ...] = EMOTIONS
    regions: tuple[str, ...] = REGION_NAMES
    seed: int = 0
    gate_temperature: float = 1.0
    local_weight: float = 0.75
    text_model: str | None = None
    text_temperature: float = 0.05
    audio_dims: dict[str, int] = field(default_factory=dict)
    audio_window: float = 1.5
    text_dim: int = 0
    n_text_anchors: int = 0

    @classmethod
    def from_dict(cls, d: dict) -> MoeeSettings:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for k in ("experts", "vocabulary", "regions"):
            if k in known:
                known[k] = tuple(known[k])
        return cls(**known)


class MoEE(nn.Module):
    """``latents`` (eq. A/E/T/U) + ``experts`` (eq. G/L/GL); text encoder held outside the state."""

    def __init__(self, settings: MoeeSettings, text_encoder: TextEncoder | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.latents = EmotionToLatents(settings.vocabulary, settings.latent_dim, settings.seed,
                                        settings.text_dim, settings.n_text_anchors, settings.audio_dims)
        self.latents.text_temperature = settings.text_temperature
        anchors = self.latents.label_anchors.detach()[[settings.vocabulary.index(e) for e in settings.experts]]
        self.experts = EmotionExperts(settings.experts, anchors, settings.regions, settings.gate_temperature,
                                      settings.local_weight)
        self.text_encoder = text_encoder or TextEncoder(settings.text_model)
        self.slot_index = [settings.vocabulary.index(s) for s in self.experts.slots]

    # -- text ----------------------------------------------------------------------------
    def ensure_text(self) -> None:
        """Build eq. T's keys from the anchor sentences (first use; cached on disk)."""
        if self.latents.has_text:
            return
        sentences, mix = anchor_table(self.settings.vocabulary)
        keys = torch.from_numpy(self.text_encoder.anchor_embeddings(sentences))
        self.latents.set_text_anchors(keys, torch.from_numpy(mix))
        self.settings.text_dim, self.settings.n_text_anchors = int(keys.shape[1]), int(keys.shape[0])

    def text_latent(self, texts: list[str]) -> torch.Tensor:
        self.ensure_text()
        emb = torch.from_numpy(self.text_encoder.embed(texts))
        return self.latents.text_latent(emb)

    # -- gates -> vocabulary ---------------------------------------------------------------
    def to_vocabulary(self, gates: torch.Tensor) -> torch.Tensor:
        """Slot weights ``[..., S]`` -> weights over the vocabulary ``[..., V]``."""
        out = gates.new_zeros(*gates.shape[:-1], len(self.settings.vocabulary))
        out[..., self.slot_index] = gates
        return out

    # -- checkpoint -------------------------------------------------------------------------
    def save(self, path: str | Path, extra: dict | None = None) -> Path:
        from safetensors.torch import save_file

        path = Path(path).with_suffix(".safetensors")
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        tmp = path.with_name(path.name + ".partial")
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
        tmp.replace(path)
        meta = {"format": FORMAT, "settings": {**asdict(self.settings)}, **(extra or {})}
        jtmp = path.with_suffix(".json.partial")
        jtmp.write_text(json.dumps(meta, indent=2))
        jtmp.replace(path.with_suffix(".json"))
        return path

    @classmethod
    def load(cls, path: str | Path, text_encoder: TextEncoder | None = None) -> tuple[MoEE, dict]:
        from safetensors.torch import load_file

        path = Path(path)
        if path.suffix != ".safetensors":
            path = path.with_suffix(".safetensors")
        meta_path = path.with_suffix(".json")
        if not path.is_file() or not meta_path.is_file():
            raise WeightsNotFoundError(
                f"moee checkpoint not found: {path} (and {meta_path.name} beside it)",
                fix="train one with `emoavatar train moee-latents --data CLIPS --out moee.safetensors`, "
                    "or leave moee's weights unset for the FACS/anchor initialisation",
            )
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT:
            raise WeightsNotFoundError(f"{meta_path} is not a moee-latents checkpoint (format {meta.get('format')!r})")
        model = cls(MoeeSettings.from_dict(meta["settings"]), text_encoder)
        model.load_state_dict(load_file(str(path)), strict=True)
        return model, meta


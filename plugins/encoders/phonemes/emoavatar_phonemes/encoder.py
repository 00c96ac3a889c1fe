"""The ``phonemes`` AudioEncoder: speech -> timed ARPAbet phones -> viseme weights [T, 15]."""

from __future__ import annotations

import logging

import numpy as np
from emoavatar.errors import ConfigError
from emoavatar.interfaces import AudioEncoder, RunContext
from emoavatar.types import Audio, AudioFeatures
from emoavatar.visemes import VISEMES

from .coarticulation import energy_gate, frame_energy_db, frame_weights
from .spec import PhonemesConfig
from .sphinx import SAMPLE_RATE, Segment, SphinxPhones, normalise_transcript

log = logging.getLogger(__name__)

MIN_DECODE_S = 0.05  # shorter audio (or no audible frame) is not worth decoding: all 'sil'


class PhonemeEncoder(AudioEncoder):
    """Port ``features:visemes``: ``values [T, 15]`` over :data:`~emoavatar.visemes.VISEMES`
    (rows sum to 1), ``meta['phones'] = [(phone, start_s, end_s), ...]``, ``meta['method']``
    (``'align'``, ``'recognise'`` or ``'silence'``) and, for alignment, ``meta['words']``.
    Port ``words`` (in ``AudioFeatures.ports``): the aligned word timings ``[(word, start_s, end_s)]``,
    empty when nothing was aligned.

    A transcript comes from the run (port ``input:transcript``) or the config.
    """

    def __init__(self, config: PhonemesConfig | None = None) -> None:
        super().__init__(config or PhonemesConfig())
        c = self.config
        self._sphinx = SphinxPhones(phone_lm=c.phone_lm, language_weight=c.language_weight,
                                    acoustic_model=c.acoustic_model, dictionary=c.dictionary)

    # -----------------------------------------------------------------------------------
    def phones(self, samples: np.ndarray, transcript: str | None, gate: np.ndarray) -> tuple[list[Segment], dict]:
        """Timed phones of 16 kHz ``samples`` and what produced them (meta entries)."""
        meta: dict = {}
        if len(samples) < MIN_DECODE_S * SAMPLE_RATE or not np.any(gate > 0.5):
            return [], {"method": "silence"}
        if transcript:
            words = normalise_transcript(transcript)
            problem = None
            unknown = self._sphinx.unknown_words(words) if words else []
            if not words:
                problem = "the transcript has no words"
            elif unknown:
                problem = f"words not in the pronunciation dictionary: {' '.join(unknown)}"
            else:
                al = self._sphinx.align(samples, words)
                if al.complete:
                    return al.phones, {"method": "align", "words": al.words}
                problem = "the transcript could not be aligned to the audio (does it match the speech?)"
            if self.config.on_alignment_failure == "error":
                raise ConfigError(f"phonemes: {problem}",
                                  fix="correct the transcript, add words via `dictionary:`, or drop `transcript`")
            log.warning("phonemes: %s; falling back to phone recognition", problem)
            meta["alignment_error"] = problem
        meta["method"] = "recognise"
        return self._sphinx.recognise(samples), meta

    def encode(self, audio: Audio, ctx: RunContext) -> AudioFeatures:
        c = self.config
        n_frames = ctx.n_frames if ctx.n_frames > 0 else audio.n_frames(ctx.fps)
        samples = audio.at_rate(SAMPLE_RATE)
        db = frame_energy_db(samples, SAMPLE_RATE)
        gate = energy_gate(db, c.energy_gate, c.silence_floor_dbfs)
        transcript = ctx.ports.get("input:transcript") or c.transcript
        phones, meta = self.phones(samples, transcript, gate)
        values = frame_weights(
            phones, gate, n_frames, ctx.fps, len(samples) / SAMPLE_RATE,
            anticipation=c.anticipation_ms / 1000.0, carryover=c.carryover_ms / 1000.0,
            min_phone=c.min_phone_ms / 1000.0, dominance=c.dominance,
        )
        meta["phones"] = [(p, round(s, 3), round(e, 3)) for p, s, e in phones]
        return AudioFeatures(values=values, kind="visemes", fps=ctx.fps, names=VISEMES, meta=meta,
                             ports={"words": [w for w in meta.get("words", []) if not w[0].startswith("<")]})

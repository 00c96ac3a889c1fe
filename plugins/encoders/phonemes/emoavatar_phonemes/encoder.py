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
SPLIT_MIN_S = 4.0  # parallel recognition cuts utterances at least this long ...
SPLIT_PAUSE_S = 0.2  # ... in a pause (gated silence) at least this long ...
SPLIT_MIDDLE = 0.5  # ... whose centre lies in this middle share of the utterance
HELPERS = 2  # helper processes that decode recognised spans while this process's GIL stays free


def utterances(db: np.ndarray, max_s: float, search_s: float = 5.0, smooth_s: float = 0.3) -> list[tuple[int, int]]:
    """Split ``len(db)`` 10 ms frames into ``[(start, stop)]`` of at most ``max_s`` seconds,
    each cut in the quietest ``smooth_s`` stretch (moving-average level) of its last ``search_s``.

    Pocketsphinx keeps a back-pointer table for the whole utterance, so one 10-minute
    utterance costs hundreds of MB; utterances of bounded length keep memory flat."""
    n, limit = len(db), int(max_s * 100)
    search = min(int(search_s * 100), limit // 2)
    k = max(1, int(smooth_s * 100))
    out, start = [], 0
    while n - start > limit:
        lo = start + limit - search
        level = np.convolve(db[lo:start + limit], np.ones(k) / k, mode="same")
        cut = lo + int(np.argmin(level))
        out.append((start, cut))
        start = cut
    out.append((start, n))
    return out


def span_samples(samples: np.ndarray, a: int, b: int) -> np.ndarray:
    """The 16 kHz samples of the 10 ms frames ``[a, b)``."""
    return samples[a * SAMPLE_RATE // 100:min(len(samples), b * SAMPLE_RATE // 100)]


def pause_split(gate: np.ndarray, start: int, stop: int) -> list[tuple[int, int]]:
    """``[(start, stop)]`` (10 ms frames) cut in two at the centre of the pause nearest its middle:
    a run of gated-silence frames (``gate < 0.5``) of at least :data:`SPLIT_PAUSE_S` whose centre
    lies in the middle :data:`SPLIT_MIDDLE` of an utterance of at least :data:`SPLIT_MIN_S`;
    unchanged when there is none. Cut in silence, the halves decode nearly as the whole does."""
    n = stop - start
    if n < SPLIT_MIN_S * 100:
        return [(start, stop)]
    quiet = np.concatenate([[False], gate[start:stop] < 0.5, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    runs = edges.reshape(-1, 2)  # [a, b) runs of quiet frames, relative to start
    runs = runs[runs[:, 1] - runs[:, 0] >= SPLIT_PAUSE_S * 100]
    centres = (runs[:, 0] + runs[:, 1]) // 2
    ok = np.abs(centres - n / 2) <= SPLIT_MIDDLE * n / 2
    if not ok.any():
        return [(start, stop)]
    cut = start + int(centres[ok][np.argmin(np.abs(centres[ok] - n / 2))])
    return [(start, cut), (cut, stop)]


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
                                    acoustic_model=c.acoustic_model, dictionary=c.dictionary, phone_beam=c.phone_beam)

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
        phones: list[Segment] = []
        db = frame_energy_db(samples, SAMPLE_RATE) if len(samples) > self.config.max_utterance_s * SAMPLE_RATE else gate
        spans = utterances(db, self.config.max_utterance_s)
        if self.config.parallel:
            spans = [piece for a, b in spans for piece in pause_split(gate, a, b)]
            return self._recognise_parallel(samples, spans), meta
        for a, b in spans:
            phones += [(p, s + a / 100, e + a / 100) for p, s, e in self._sphinx.recognise(span_samples(samples, a, b))]
        return phones, meta

    def _recognise_parallel(self, samples: np.ndarray, spans: list[tuple[int, int]]) -> list[Segment]:
        """Each span decoded fresh (``recognise(fresh=True)``) in the helper processes (:mod:`.worker`)
        that are ready: with :data:`HELPERS` of them, or one for a single span, this thread decodes
        nothing and waits with the GIL released, so the run's other threads (the face analysis) run
        meanwhile; with fewer it decodes the first span of each group itself (pocketsphinx holds the
        GIL), the helpers the rest. The phones are the same wherever a span is decoded."""
        from .worker import decoder_processes

        helpers = [h for h in decoder_processes(self._sphinx.options, HELPERS) if h.ready()]
        here = len(helpers) < min(HELPERS, len(spans))  # too few helpers: this thread decodes too
        width = len(helpers) + here
        phones: list[Segment] = []
        for i in range(0, len(spans), width):
            group = spans[i:i + width]
            unread = [h.submit(span_samples(samples, *span)) for h, span in zip(helpers, group[here:])]
            decoded: list = []
            try:
                if here:
                    decoded.append(self._sphinx.recognise(span_samples(samples, *group[0]), fresh=True))
                for j, (h, span) in enumerate(zip(helpers, group[here:])):
                    segs = None
                    if unread[j]:
                        unread[j] = False
                        try:
                            segs = h.result()
                        except RuntimeError as e:
                            log.debug("phonemes: %s; decoding here", e)
                    decoded.append(segs if segs is not None else self._sphinx.recognise(span_samples(samples, *span),
                                                                                        fresh=True))
            except BaseException:
                for h, waiting in zip(helpers, unread):
                    if waiting:  # its answer would stay unread in the pipe
                        h.discard()
                raise
            for (a, _), segs in zip(group, decoded):
                phones += [(p, s + a / 100, e + a / 100) for p, s, e in segs]
        return phones

    def encode(self, audio: Audio, ctx: RunContext) -> AudioFeatures:
        c = self.config
        n_frames = ctx.n_frames if ctx.n_frames > 0 else audio.n_frames(ctx.fps)
        samples = audio.at_rate(SAMPLE_RATE)
        db = frame_energy_db(samples, SAMPLE_RATE)
        gate = energy_gate(db, c.energy_gate, c.silence_floor_dbfs)
        transcript = ctx.ports.get("input:transcript") or c.transcript
        with self._sphinx.session():  # decodes as a freshly loaded decoder would (sphinx.py)
            phones, meta = self.phones(samples, transcript, gate)
        values = frame_weights(
            phones, gate, n_frames, ctx.fps, len(samples) / SAMPLE_RATE,
            anticipation=c.anticipation_ms / 1000.0, carryover=c.carryover_ms / 1000.0,
            min_phone=c.min_phone_ms / 1000.0, dominance=c.dominance,
        )
        meta["phones"] = [(p, round(s, 3), round(e, 3)) for p, s, e in phones]
        return AudioFeatures(values=values, kind="visemes", fps=ctx.fps, names=VISEMES, meta=meta,
                             ports={"words": [w for w in meta.get("words", []) if not w[0].startswith("<")]})

"""PocketSphinx phone recognition and forced alignment, returning timed phone segments.

Two decoders are built lazily and reused: an *allphone* decoder (phone loop weighted by a
phone n-gram) for free recognition, and a word-FSG decoder for forced alignment of a
transcript (first pass: word alignment; second pass: ``set_alignment`` for phone timings).

Quirks of pocketsphinx 5.1 handled here:

- digital silence (exact zeros, as TTS writes) upsets its noise tracking and the silence
  model, so a fixed, inaudible dither (σ = 2 LSB) is added before decoding;
- the lattice best path (``bestpath=yes``, the default) of an alignment FSG often drops the
  last words and returns a partial hypothesis that ends in a long ``<sil>``; the Viterbi
  back-trace (``bestpath=no``) reaches the final state, so both decoders use it.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from dataclasses import dataclass

import numpy as np
from emoavatar.errors import ConfigError

SAMPLE_RATE = 16000
FRAME_RATE = 100  # pocketsphinx frames per second (-frate)
DITHER_LSB = 2.0
PCM_PIECE = 1 << 16
#: Recognition's phone-transition beam (``-pbeam``; pocketsphinx's default 1e-48). 1e-10 cuts the
#: allphone search's CPU to ~0.77x with >= 99.4 % of 10 ms frames keeping their phone (README).
PHONE_BEAM = 1e-10

Segment = tuple[str, float, float]  # (phone, start_s, end_s)


@dataclass
class Alignment:
    """Result of forced alignment: phone and word segments, and whether all words were found."""

    phones: list[Segment]
    words: list[Segment]
    complete: bool


def _model_paths(acoustic_model: str | None, dictionary: str | None) -> tuple[str, str]:
    import pocketsphinx

    base = pocketsphinx.get_model_path()
    hmm = acoustic_model or os.path.join(base, "en-us", "en-us")
    dic = dictionary or os.path.join(base, "en-us", "cmudict-en-us.dict")
    for what, path in (("acoustic_model", hmm), ("dictionary", dic)):
        if not os.path.exists(path):
            raise ConfigError(f"phonemes.{what}: {path} does not exist", fix=f"give an existing {what} path")
    return hmm, dic


def _phone_lm_path(phone_lm: str) -> str | None:
    import pocketsphinx

    if phone_lm == "uniform":
        return None
    if phone_lm == "en-us-phone":
        return os.path.join(pocketsphinx.get_model_path(), "en-us", "en-us-phone.lm.bin")
    if not os.path.isfile(phone_lm):
        raise ConfigError(f"phonemes.phone_lm: {phone_lm} is not a file",
                          fix="use 'en-us-phone', 'uniform' or a path to a phone n-gram (.lm/.lm.bin)")
    return phone_lm


def to_pcm16(samples: np.ndarray) -> bytes:
    """float [-1, 1] -> 16-bit PCM bytes with a fixed dither (deterministic), converted in
    pieces (the dither stream is the same as drawn at once) so no float64 copy of it all exists."""
    rng = np.random.default_rng(0)
    out = np.empty(len(samples), dtype="<i2")
    for lo in range(0, len(samples), PCM_PIECE):
        x = np.asarray(samples[lo:lo + PCM_PIECE], dtype=np.float64) * 32767.0
        x += rng.normal(0.0, DITHER_LSB, len(x))
        out[lo:lo + len(x)] = np.clip(np.round(x), -32768, 32767)
    return out.tobytes()


def normalise_transcript(text: str) -> list[str]:
    """Lower-case words as CMUdict spells them: ``"Hello, World!"`` -> ``["hello", "world"]``."""
    text = text.lower().replace("’", "'")
    return [w.strip("'") for w in re.sub(r"[^a-z0-9']+", " ", text).split() if w.strip("'")]


def _base_word(word: str) -> str:
    return re.sub(r"\(\d+\)$", "", word)


def _is_filler(word: str) -> bool:
    return word.startswith(("<", "[", "+"))


#: Decoders built in this process, by kind and configuration.
#: Loading the acoustic model and the 134k-word dictionary takes ~0.15 s per decoder, so, like
#: dlib's models, a decoder is loaded once per process and shared by every encoder with the same
#: options (a second pipeline run in the same process, the web UI, batch workers). A decoder keeps
#: state between utterances (its live cepstral mean, CMN); each :meth:`SphinxPhones.session` resets
#: the feature state first (``reinit_feat``), so a run decodes exactly as with a freshly loaded decoder.
_DECODERS: dict[tuple, object] = {}
#: Guards every decoder (pocketsphinx holds the GIL while it decodes, so one lock costs no parallelism).
SPHINX_LOCK = threading.RLock()


def shared_decoder(key: tuple, build) -> object:
    """The process's decoder for ``key``, built by ``build()`` on first use."""
    with SPHINX_LOCK:
        if key not in _DECODERS:
            _DECODERS[key] = build()
        return _DECODERS[key]


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


class SphinxPhones:
    """Uses the decoders (lazily built, shared per process, guarded by :data:`SPHINX_LOCK`)."""

    def __init__(self, *, phone_lm: str = "en-us-phone", language_weight: float = 2.0,
                 acoustic_model: str | None = None, dictionary: str | None = None,
                 phone_beam: float = PHONE_BEAM) -> None:
        self.phone_lm = phone_lm
        self.language_weight = language_weight
        self.phone_beam = phone_beam
        self.acoustic_model = acoustic_model
        self.dictionary = dictionary
        self._recogniser = None
        self._aligner = None
        self._started: set[str] = set()  # decoders already used in the current session

    @property
    def options(self) -> dict:
        """The constructor's arguments (to build the same decoders in another process)."""
        return {"phone_lm": self.phone_lm, "language_weight": self.language_weight,
                "acoustic_model": self.acoustic_model, "dictionary": self.dictionary, "phone_beam": self.phone_beam}

    @contextlib.contextmanager
    def session(self):
        """One encode call: holds the decoders, each starting from its state when loaded and carrying
        its cepstral mean over between the call's utterances (as one freshly loaded decoder would)."""
        with SPHINX_LOCK:
            self._started = set()
            try:
                yield self
            finally:
                self._started = set()

    def _begin(self, kind: str, dec) -> None:
        if kind not in self._started:
            dec.reinit_feat()  # the cepstral mean (and all feature state) as when loaded
            self._started.add(kind)

    # -- decoders ---------------------------------------------------------------------
    def _decoder(self, **kw):
        from pocketsphinx import Decoder

        hmm, dic = _model_paths(self.acoustic_model, self.dictionary)
        return Decoder(hmm=hmm, dict=dic, samprate=SAMPLE_RATE, bestpath=False, loglevel="FATAL", **kw)

    def _paths(self) -> tuple:
        """The model files and their modification times: an edited dictionary loads anew."""
        return tuple((p, _mtime(p)) for p in _model_paths(self.acoustic_model, self.dictionary))

    @property
    def recogniser(self):
        if self._recogniser is None:
            lm = _phone_lm_path(self.phone_lm)

            def build():
                kw = {"allphone": lm} if lm else {"lm": None}
                dec = self._decoder(lw=self.language_weight, pbeam=self.phone_beam, **kw)
                if not lm:
                    dec.add_allphone_file("_phones", None)
                    dec.activate_search("_phones")
                return dec

            key = ("recognise", *self._paths(), lm, lm and _mtime(lm), float(self.language_weight), float(self.phone_beam))
            self._recogniser = shared_decoder(key, build)
        return self._recogniser

    @property
    def aligner(self):
        if self._aligner is None:
            key = ("align", *self._paths())
            self._aligner = shared_decoder(key, lambda: self._decoder(lm=None))
        return self._aligner

    # -- public -----------------------------------------------------------------------
    def unknown_words(self, words: list[str]) -> list[str]:
        dec = self.aligner
        with SPHINX_LOCK:
            return [w for w in words if dec.lookup_word(w) is None]

    def recognise(self, samples: np.ndarray, fresh: bool = False) -> list[Segment]:
        """Free phone recognition of 16 kHz float samples -> ``[(phone, start_s, end_s)]``; ``fresh``:
        from the feature state of a freshly loaded decoder (as another process decodes it), not
        carrying over the cepstral mean of the session's previous utterances."""
        pcm = to_pcm16(samples)
        with SPHINX_LOCK:
            dec = self.recogniser
            if fresh:
                self._started.discard("recognise")
            self._begin("recognise", dec)
            dec.start_utt()
            dec.process_raw(pcm, full_utt=True)
            dec.end_utt()
            segs = list(dec.seg() or [])
        return [(s.word, s.start_frame / FRAME_RATE, (s.end_frame + 1) / FRAME_RATE) for s in segs]

    def align(self, samples: np.ndarray, words: list[str]) -> Alignment:
        """Force-align ``words`` (all in the dictionary) to 16 kHz float samples."""
        pcm = to_pcm16(samples)
        with SPHINX_LOCK:
            dec = self.aligner
            self._begin("align", dec)
            dec.set_align_text(" ".join(words))
            dec.start_utt()
            dec.process_raw(pcm, full_utt=True)
            dec.end_utt()
            hyp = dec.hyp()
            found = [_base_word(s.word) for s in (dec.seg() or []) if not _is_filler(s.word)]
            complete = hyp is not None and found == words
            if not found:
                return Alignment([], [], False)
            dec.set_alignment()  # second pass: phone-level durations
            dec.start_utt()
            dec.process_raw(pcm, full_utt=True)
            dec.end_utt()
            al = dec.get_alignment()
            phones, word_segs = [], []
            for w in al:
                word_segs.append((_base_word(w.name), w.start / FRAME_RATE, (w.start + w.duration) / FRAME_RATE))
                for p in w:
                    phones.append((p.name, p.start / FRAME_RATE, (p.start + p.duration) / FRAME_RATE))
        return Alignment(phones, word_segs, complete)

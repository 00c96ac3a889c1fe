"""Parallel recognition (issue 11): speech cut in two at a pause, the second part decoded in a
helper process; the phones must not depend on whether that process is there."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from emoavatar.interfaces import RunContext
from emoavatar.types import Audio
from emoavatar_phonemes import encoder as encoder_module
from emoavatar_phonemes.encoder import PhonemeEncoder, pause_split
from emoavatar_phonemes.spec import PhonemesConfig
from emoavatar_phonemes.sphinx import SphinxPhones
from emoavatar_phonemes.worker import DecoderProcess

SPEECH = Path(__file__).parents[4] / "examples" / "speech.wav"  # pauses at 0-0.4, 1.45-1.6, 3.0-3.9, 6.4-7.1 s


def test_pause_split_cuts_in_the_pause_nearest_the_middle():
    gate = np.ones(1000)  # 10 s of speech, 10 ms frames
    gate[100:130] = 0.0  # 0.3 s pause, outside the middle half
    gate[300:330] = 0.0  # 0.3 s pause, inside it
    gate[560:570] = 0.0  # 0.1 s: too short to cut in
    assert pause_split(gate, 0, 1000) == [(0, 315), (315, 1000)]
    assert pause_split(gate, 0, 390) == [(0, 390)]  # under 4 s: one piece
    gate[300:330] = 1.0
    assert pause_split(gate, 0, 1000) == [(0, 1000)]  # no pause near the middle: one piece
    gate[600:700] = 0.0
    assert pause_split(gate, 200, 1000) == [(200, 650), (650, 1000)]  # frames of the whole clip


def test_helper_process_starts_when_asked_for_the_second_time(monkeypatch):
    from emoavatar_phonemes import worker

    class Started:
        failed = False

        def __init__(self, options) -> None:
            started.append(options)

        def close(self) -> None:
            pass

    started: list = []
    monkeypatch.setattr(worker, "_ASKED", set())
    monkeypatch.setattr(worker, "_PROCESSES", {})
    monkeypatch.setattr(worker, "DecoderProcess", Started)
    options = {"phone_lm": "en-us-phone", "language_weight": 2.0}
    assert worker.decoder_processes(options, 2) == [] and not started  # a one-off run never starts them
    helpers = worker.decoder_processes(options, 2)
    assert started == [options, options] and worker.decoder_processes(options, 2) == helpers  # then two, kept
    helpers[1].failed = True
    again = worker.decoder_processes(options, 2)
    assert again[0] is helpers[0] and again[1] is not helpers[1] and len(started) == 3  # a failed one is replaced


class _Absent:
    """A helper process that never becomes ready (or fails on every utterance)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def ready(self) -> bool:
        return self.fail

    def submit(self, samples) -> bool:
        return self.fail

    def result(self):
        raise RuntimeError("the decoder process failed: test")


class _InProcess:
    """A ready helper that decodes in this process, as the worker does (``recognise(fresh=True)``)."""

    def __init__(self) -> None:
        self.sphinx, self.samples, self.decoded = SphinxPhones(), None, 0

    def ready(self) -> bool:
        return True

    def submit(self, samples) -> bool:
        if self.samples is not None:
            return False
        self.samples = samples
        return True

    def result(self):
        with self.sphinx.session():
            segs = self.sphinx.recognise(self.samples, fresh=True)
        self.samples, self.decoded = None, self.decoded + 1
        return segs


@pytest.mark.slow
def test_helper_process_decodes_as_this_process_and_results_do_not_depend_on_it(monkeypatch):
    audio = Audio.load(SPEECH)
    ctx = RunContext(fps=25.0, n_frames=audio.n_frames(25.0), seed=0)
    x = audio.at_rate(16000)
    sphinx = SphinxPhones()
    helper = DecoderProcess(sphinx.options)
    try:
        t0 = time.monotonic()
        while not helper.ready():
            assert not helper.failed and time.monotonic() - t0 < 60, "the decoder process did not start"
            time.sleep(0.05)
        piece = x[345 * 160:]
        assert helper.submit(piece)
        assert not helper.submit(piece)  # one utterance at a time
        with sphinx.session():
            here = sphinx.recognise(piece, fresh=True)
        assert helper.result() == here and len(here) > 5

        monkeypatch.setattr("emoavatar_phonemes.worker.decoder_processes", lambda options, n: [helper])
        with_helper = PhonemeEncoder(PhonemesConfig()).encode(audio, ctx)
        assert helper.submit(piece)
        helper.discard()  # an answer that would stay unread (Ctrl-C in between): never used again
        assert helper.failed and not helper.ready() and not helper.submit(piece)
    finally:
        helper.close()
    monkeypatch.setattr("emoavatar_phonemes.worker.decoder_processes", lambda options, n: [_Absent()] * n)
    alone = PhonemeEncoder(PhonemesConfig()).encode(audio, ctx)
    monkeypatch.setattr("emoavatar_phonemes.worker.decoder_processes", lambda options, n: [_Absent(fail=True)] * n)
    failed = PhonemeEncoder(PhonemesConfig()).encode(audio, ctx)
    # two ready helpers decode both parts: this thread decodes nothing (the GIL stays free for the face analysis)
    pool = [_InProcess(), _InProcess()]
    monkeypatch.setattr("emoavatar_phonemes.worker.decoder_processes", lambda options, n: pool[:n])
    enc = PhonemeEncoder(PhonemesConfig())
    monkeypatch.setattr(enc._sphinx, "recognise", None)  # would raise TypeError if this thread decoded
    helpers_only = enc.encode(audio, ctx)
    assert [h.decoded for h in pool] == [1, 1]
    for out in (with_helper, failed, helpers_only):
        assert out.meta["phones"] == alone.meta["phones"] and np.array_equal(out.values, alone.values)
    # one piece (under 4 s) and one ready helper: the helper decodes it
    short = Audio(x[:int(2.5 * 16000)], 16000)
    short_ctx = RunContext(fps=25.0, n_frames=short.n_frames(25.0), seed=0)
    by_helper = enc.encode(short, short_ctx)
    assert [h.decoded for h in pool] == [2, 1] and len(by_helper.meta["phones"]) > 5
    # cut in the 3.0-3.9 s pause: the second part's phones are offset back to the clip
    cut = [s for p, s, e in alone.meta["phones"] if 3.0 <= s <= 3.9 and p == "SIL"]
    assert cut and alone.meta["phones"][-1][2] > 6.5
    serial = PhonemeEncoder(PhonemesConfig(parallel=False)).encode(audio, ctx)
    same = (serial.values.argmax(1) == alone.values.argmax(1)).mean()
    assert same > 0.9, same  # cut in a pause: the mouth shapes hardly change (measured 0.97)
    assert encoder_module.SPLIT_MIN_S <= audio.duration

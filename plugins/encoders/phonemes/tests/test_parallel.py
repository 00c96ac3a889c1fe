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
    assert worker.decoder_process(options) is None and not started  # a one-off run never starts it
    helper = worker.decoder_process(options)
    assert started == [options] and worker.decoder_process(options) is helper  # then one, kept
    helper.failed = True
    assert worker.decoder_process(options) is not helper and len(started) == 2  # a failed one is replaced


class _Absent:
    """A helper process that never becomes ready (or fails on every utterance)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def submit(self, samples) -> bool:
        return self.fail

    def result(self):
        raise RuntimeError("the decoder process failed: test")


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

        monkeypatch.setattr("emoavatar_phonemes.worker.decoder_process", lambda options: helper)
        with_helper = PhonemeEncoder(PhonemesConfig()).encode(audio, ctx)
        assert helper.submit(piece)
        helper.discard()  # an answer that would stay unread (Ctrl-C in between): never used again
        assert helper.failed and not helper.ready() and not helper.submit(piece)
    finally:
        helper.close()
    monkeypatch.setattr("emoavatar_phonemes.worker.decoder_process", lambda options: _Absent())
    alone = PhonemeEncoder(PhonemesConfig()).encode(audio, ctx)
    monkeypatch.setattr("emoavatar_phonemes.worker.decoder_process", lambda options: _Absent(fail=True))
    failed = PhonemeEncoder(PhonemesConfig()).encode(audio, ctx)
    assert with_helper.meta["phones"] == alone.meta["phones"] == failed.meta["phones"]
    assert np.array_equal(with_helper.values, alone.values) and np.array_equal(alone.values, failed.values)
    # cut in the 3.0-3.9 s pause: the second part's phones are offset back to the clip
    cut = [s for p, s, e in alone.meta["phones"] if 3.0 <= s <= 3.9 and p == "SIL"]
    assert cut and alone.meta["phones"][-1][2] > 6.5
    serial = PhonemeEncoder(PhonemesConfig(parallel=False)).encode(audio, ctx)
    same = (serial.values.argmax(1) == alone.values.argmax(1)).mean()
    assert same > 0.9, same  # cut in a pause: the mouth shapes hardly change (measured 0.97)
    assert encoder_module.SPLIT_MIN_S <= audio.duration

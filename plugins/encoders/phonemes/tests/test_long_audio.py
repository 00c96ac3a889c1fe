"""Long audio: recognition runs in bounded utterances cut in pauses (flat memory, issue 12)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from emoavatar.interfaces import RunContext
from emoavatar.media import decode_audio
from emoavatar.types import Audio
from emoavatar_phonemes.coarticulation import frame_energy_db
from emoavatar_phonemes.encoder import PhonemeEncoder, utterances
from emoavatar_phonemes.spec import PhonemesConfig

SPEECH = Path(__file__).parents[4] / "examples" / "speech.wav"  # pauses at 0-0.4, 1.45-1.6, 3.0-3.9, 6.4-7.1 s


def test_utterances_are_bounded_and_cut_in_the_quietest_stretch():
    db = np.full(10_000, -20.0)  # 100 s of "speech"
    for quiet in (2700, 5400, 8100):  # 0.5 s pauses, each inside the last 5 s before a 30 s limit
        db[quiet:quiet + 50] = -90.0
    cuts = utterances(db, max_s=30, search_s=5)
    assert cuts[0][0] == 0 and cuts[-1][1] == 10_000
    assert all(b - a <= 3000 for a, b in cuts) and all(cuts[i][1] == cuts[i + 1][0] for i in range(len(cuts) - 1))
    for a, b in cuts[:-1]:
        assert db[b] == -90.0, (a, b)  # inside a pause, not mid-word
    assert utterances(db[:2000], max_s=30) == [(0, 2000)]  # short audio: one utterance, as before


def test_long_recognition_in_utterances_matches_the_whole_decode():
    x = decode_audio(SPEECH, 16000)
    audio = Audio.from_array(x, 16000)  # 7.1 s, decoded whole and as utterances of <= 5 s
    ctx = RunContext(fps=25.0, n_frames=audio.n_frames(25.0), seed=0)
    whole = PhonemeEncoder(PhonemesConfig(max_utterance_s=60)).encode(audio, ctx)
    split = PhonemeEncoder(PhonemesConfig(max_utterance_s=5)).encode(audio, ctx)
    db = frame_energy_db(audio.samples, 16000)
    assert len(utterances(db, 5)) == 2
    assert whole.values.shape == split.values.shape
    same = (whole.values.argmax(1) == split.values.argmax(1)).mean()
    assert same > 0.8, same  # the cuts are in pauses: the decoded mouth shapes hardly change
    assert split.meta["phones"][-1][1] > 5.5  # phone times are offset back to the whole clip

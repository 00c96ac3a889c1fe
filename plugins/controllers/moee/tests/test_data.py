"""Preparing labelled clips for moee-latents: dataset file naming and the pipeline's encoders."""

from __future__ import annotations

import numpy as np
import pytest
from emoavatar.errors import MediaError
from emoavatar_moee.data import list_sources, load_clips, prepare


def test_mead_and_crema_d_naming(tmp_path):
    for rel in ("M003/audio/angry/level_3/001.m4a", "M003/audio/happy/level_1/002.m4a", "W009/audio/sad/x/003.m4a"):
        (tmp_path / "mead" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "mead" / rel).touch()
    got = [(p.name, e, lvl) for p, e, lvl, _ in list_sources("mead", tmp_path / "mead")]
    assert got == [("001.m4a", "angry", 3), ("002.m4a", "happy", 1)]
    (tmp_path / "crema" / "AudioWAV").mkdir(parents=True)
    for name in ("1001_DFA_ANG_XX.wav", "1002_IEO_FEA_HI.wav", "readme.wav"):
        (tmp_path / "crema" / "AudioWAV" / name).touch()
    got = [(p.name, e, lvl) for p, e, lvl, _ in list_sources("crema-d", tmp_path / "crema")]
    assert got == [("1001_DFA_ANG_XX.wav", "angry", 2), ("1002_IEO_FEA_HI.wav", "fearful", 3)]
    with pytest.raises(MediaError):
        list_sources("mead", tmp_path / "nothing")


def test_prepare_a_manifest_with_the_prosody_encoder(tmp_path, kit_speech_path):
    csv = tmp_path / "clips.csv"
    csv.write_text(f"audio,emotion,text\n{kit_speech_path},HAP,What a lovely day\n{kit_speech_path},sad,\n")
    assert prepare("manifest", csv, tmp_path / "out", ["prosody"]) == 2
    clips = load_clips(tmp_path / "out")
    assert [c.emotion for c in clips] == ["happy", "sad"] and clips[0].text == "What a lovely day"
    assert clips[1].text is None and clips[0].feats["prosody"].shape[0] == 50
    assert np.isfinite(clips[0].feats["prosody"]).all()

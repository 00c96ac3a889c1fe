"""`emoavatar train moee-latents` on tiny generated clips: the loss falls, text/label/audio latents of
one emotion end up nearer each other than to other emotions, resume continues, the checkpoint drives
the controller's from_audio."""

from __future__ import annotations

import json

import numpy as np
import pytest
from emoavatar.emotions import parse_emotion
from emoavatar.interfaces import RunContext
from emoavatar.types import AudioFeatures

pytestmark = pytest.mark.slow

EMOS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
TEXTS = {  # not the controller's anchors nor the trainer's paraphrases
    "neutral": "We will review the budget next week.", "happy": "Best birthday party ever, thank you all!",
    "sad": "My old dog passed away this morning.", "angry": "Stop lying to me, I've had enough!",
    "fearful": "Someone is following me in the dark.", "disgusted": "There are maggots in the bin.",
    "surprised": "No way, you got married?!",
}


def make_clips(folder, per_emotion: int = 4, seed: int = 0) -> np.ndarray:
    """Prosody-like features [50, 5]: an emotion-specific mean per column plus frame noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.0, (len(EMOS), 5))
    folder.mkdir(parents=True, exist_ok=True)
    for i, e in enumerate(EMOS):
        for k in range(per_emotion):
            feats = centres[i] + 0.4 * rng.standard_normal((50, 5))
            extra = {"text": np.array(TEXTS[e])} if k % 2 == 0 else {}
            np.savez(folder / f"{e}_{k}.npz", emotion=np.array(e), feat_prosody=feats.astype(np.float32),
                     fps=np.array(25.0), **extra)
    return centres


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from emoavatar_moee.train_latents import parse_args, train

    tmp = tmp_path_factory.mktemp("moee_train")
    centres = make_clips(tmp / "clips")
    out = tmp / "moee.safetensors"
    base = ["--data", str(tmp / "clips"), "--out", str(out), "--batch", "32", "--log-every", "50",
            "--save-every", "1000", "--latent-dim", "32"]
    fresh = train(parse_args([*base, "--steps", "100"]))
    saved = json.loads(out.with_suffix(".json").read_text())
    resumed = train(parse_args([*base, "--steps", "160", "--resume"]))
    print("fresh", fresh, "resumed", resumed)
    return out, centres, fresh, saved, resumed


def test_loss_falls_and_latents_of_one_emotion_align(trained):
    _, _, fresh, _, resumed = trained
    assert fresh["last_loss"] < 0.5 * fresh["first_loss"], fresh
    assert fresh["last_align"] < 0.5 * fresh["first_align"], fresh
    sep = resumed["separation"]  # measured over all clips: label, text and audio latents
    assert sep["same"] < 0.5 * sep["other"], sep
    assert sep["nearest"] >= 0.95, sep


def test_resume_continues_from_the_checkpoint(trained):
    out, _, fresh, saved, resumed = trained
    meta = json.loads(out.with_suffix(".json").read_text())
    assert saved["step"] == 100 and meta["step"] == resumed["step"] == 160
    assert out.with_name("moee.optim.safetensors").is_file()
    assert resumed["first_loss"] < 0.6 * fresh["first_loss"]  # started from the trained state, not afresh


def test_checkpoint_drives_from_audio(trained):
    from emoavatar_moee.spec import SPEC

    out, centres = trained[:2]
    c = SPEC.build({"weights": str(out)})
    rng = np.random.default_rng(5)
    for i, want in ((1, "happy"), (2, "sad"), (6, "surprised")):
        f = AudioFeatures(centres[i] + 0.4 * rng.standard_normal((40, 5)), "prosody", 25.0)
        st = c.control(parse_emotion("from_audio"), {"features:prosody": f}, RunContext(fps=25.0, n_frames=40))
        assert st.dominant()[20] == want, (want, st.weights[20].round(2))
    assert c.control(parse_emotion("happy"), {}, RunContext(fps=25.0, n_frames=5)).latent.shape == (5, 32)


def test_bad_data_is_a_one_line_error(tmp_path):
    from _support import cli

    r = cli("train", "moee-latents", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "x.safetensors"))
    assert r.returncode != 0 and "no prepared clips" in r.stderr and "Traceback" not in r.stderr


def _voice(emotion: str, seed: int, sr: int = 16000, seconds: float = 1.6) -> np.ndarray:
    """A harmonic 'voice' whose prosody carries the emotion: wide pitch swings (happy), a low,
    falling, softly modulated pitch (sad), flat pitch in hard loudness bursts (angry)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    if emotion == "happy":
        f0, rate, depth = 230 * 2 ** (4 * np.sin(2 * np.pi * (1.3 + 0.2 * rng.random()) * t + 6 * rng.random()) / 12), 4.0, 0.6
    elif emotion == "sad":
        f0, rate, depth = 150 * 2 ** (-1.5 * t / seconds / 12), 2.0, 0.3
    else:
        f0, rate, depth = 190 * 2 ** (0.3 * np.sin(2 * np.pi * 3 * t) / 12), 5.5, 0.95
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 8))
    env = 1 - depth * (0.5 + 0.5 * np.cos(2 * np.pi * rate * t + 6 * rng.random()))
    return (0.2 * x * env + 0.002 * rng.standard_normal(len(t))).astype(np.float32)


def test_audio_alone_after_training_on_prosody_of_real_waveforms(tmp_path):
    """--prepare (manifest, the prosody encoder through the registry) -> train -> from_audio picks the emotion."""
    from emoavatar.media.audio import write_wav
    from emoavatar.registry import get_registry
    from emoavatar.types import Audio
    from emoavatar_moee.spec import SPEC
    from emoavatar_moee.train_latents import parse_args, train

    rows = ["audio,emotion"]
    for e in ("happy", "sad", "angry"):
        for k in range(3):
            write_wav(tmp_path / f"{e}{k}.wav", _voice(e, k), 16000)
            rows.append(f"{e}{k}.wav,{e}")
    (tmp_path / "clips.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "m.safetensors"
    train(parse_args(["--prepare", "manifest", str(tmp_path / "clips.csv"), "--data", str(tmp_path / "clips"),
                      "--out", str(out), "--steps", "120", "--batch", "24", "--latent-dim", "32", "--log-every", "200"]))
    c = SPEC.build({"weights": str(out)})
    enc = get_registry().create("encoders", "prosody")
    for e in ("happy", "sad", "angry"):
        write_wav(tmp_path / f"test_{e}.wav", _voice(e, 99), 16000)
        audio = Audio.load(tmp_path / f"test_{e}.wav")
        ctx = RunContext(fps=25.0, n_frames=audio.n_frames(25.0))
        st = c.control(parse_emotion("from_audio"), {"features:prosody": enc.encode(audio, ctx)}, ctx)
        assert st.dominant()[len(st) // 2] == e, (e, st.weights.mean(0).round(2))

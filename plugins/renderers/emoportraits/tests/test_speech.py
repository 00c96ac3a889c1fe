"""The speech mode (``emoportraits-speech``) and its trainer, on talking clips the default pipeline renders
(facs-rig + warp2d: the mouth really moves with the speech), embedded by the tiny random-weight stage-1 model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from emoavatar.cli import main as cli
from training_rig import RIG_PINNED

ROOT = Path(__file__).resolve().parents[4]
#: the demo speech cut at its pauses into four sentences (seconds): all four spoken neutrally, the first two also
#: happy and sad; "feel" is held out (kept small: every frame goes through the stage-1 embedders)
CUTS = {"hello": (0.4, 1.5), "talking_head": (1.65, 2.95), "today": (4.05, 4.75), "feel": (4.75, 6.35)}
#: facs-rig without blinks and with little head motion: what varies within a clip is mostly the mouth; its mouth
#: and expression options pinned too (:data:`training_rig.RIG_PINNED`: the visemes alone move the mouth while
#: speaking), so retuning the rig's defaults does not change the data the assertions were measured on
RIG = ("--set", "motion.with.blink_rate_per_min=0", "--set", "motion.with.head_motion=0.3", *RIG_PINNED)
SPOKEN = {"neutral": tuple(CUTS), "happy": ("hello", "talking_head"), "sad": ("hello", "talking_head")}


def render_talking_clips(tmp: Path) -> Path:
    """Renders the demo speech once per emotion with the default pipeline (facs-rig + warp2d), then cuts each
    video into its sentences: ``<root>/kit/<emotion>/<sentence>.mp4`` with audio (the folder layout of
    :func:`emoavatar.datasets.read_folder`)."""
    from emoavatar.media.audio import decode_audio, write_wav
    from emoavatar.media.video import VideoWriter, read_video
    from emoavatar.testing.data import kit_portrait_path

    wav = decode_audio(ROOT / "examples" / "speech.wav", 16000)
    (tmp / "sentences").mkdir()
    for name, (a, b) in CUTS.items():
        write_wav(tmp / "sentences" / f"{name}.wav", wav[round(a * 16000):round(b * 16000)], 16000)
    yaml = tmp / "default.yaml"  # the default pipeline without its transcript (the audio is longer than it)
    yaml.write_text("\n".join(ln for ln in (ROOT / "examples" / "default.yaml").read_text().splitlines()
                              if "transcript:" not in ln))
    root = tmp / "clips"
    for emotion, spoken in SPOKEN.items():
        full, end = tmp / f"{emotion}.mp4", max(CUTS[s][1] for s in spoken)
        write_wav(tmp / f"{emotion}.wav", wav[:round(end * 16000)], 16000)
        rc = cli(["run", str(yaml), "-o", str(full), "-q", "--emotion", emotion, "--portrait",
                  str(kit_portrait_path()), "--audio", str(tmp / f"{emotion}.wav"), "--set", "output.chunk_size=64", *RIG])
        assert rc == 0
        frames = np.concatenate(list(read_video(full)))
        for name in spoken:
            a, b = CUTS[name]
            out = root / "kit" / emotion / f"{name}.mp4"
            out.parent.mkdir(parents=True, exist_ok=True)
            with VideoWriter(out, 25.0, audio=tmp / "sentences" / f"{name}.wav") as w:
                w.write(frames[round(a * 25):round(b * 25)])
    return root


@pytest.fixture(scope="module")
def talking_clips(tmp_path_factory):
    for module in ("emoavatar_dlib", "emoavatar_phonemes", "emoavatar_prosody", "emoavatar_mixture",
                   "emoavatar_facsrig", "emoavatar_warp2d"):
        pytest.importorskip(module)
    return render_talking_clips(tmp_path_factory.mktemp("speech"))


@pytest.fixture(scope="module")
def trained(talking_clips, tiny_checkpoint, tiny_architecture, tmp_path_factory):
    import torch
    from emoavatar_emoportraits.speech_train import parse_args, train

    out = tmp_path_factory.mktemp("speech_ckpt") / "speech.safetensors"
    args = ["--dataset", "folder", str(talking_clips), "--checkpoint", str(tiny_checkpoint[0]),
            "--head-pose-checkpoint", str(tiny_checkpoint[1]), "--architecture", json.dumps(tiny_architecture),
            "--out", str(out), "--components", "4", "--hidden", "32", "--iters", "150", "--val-every", "50",
            "--val-sentences", "feel", "--batch", "8", "--seq", "32", "--save-every", "1000", "--threads", "1",
            "--crop", "centre"]
    threads = torch.get_num_threads()
    result = train(parse_args(args), log=lambda s: None)
    assert torch.get_num_threads() == threads  # --threads 1 (reproducible numbers) holds for the run only
    result["args"] = args
    return result


@pytest.mark.slow
def test_training_lowers_val_loss_and_predicts_the_mouth(trained):
    h = trained["history"]
    first, last = h[0], h[-1]
    # measured (1 thread, rig pinned): val_loss 1.11 -> 0.65 (ratio 0.59), Pearson r 0.13 -> 0.53 (mean over the
    # 4 mouth components); on the rig before issue 11's readability change 1.12 -> 0.72, r -0.04 -> 0.51; on its
    # defaults since, unpinned, 0.96 -> 0.81 (0.84), and with warp2d's shading on 0.90 -> 1.09: the margin fails both.
    # The tiny setup depends on the seed (--seed 0..3 in a separate run: ratio 0.57, 0.66, 0.61, 0.98; the rig
    # before: 0.60-0.77); this runs seed 0
    assert last["val_loss"] < 0.8 * first["val_loss"], h
    assert last["val_r"] > 0.3 and last["val_r"] > first["val_r"] + 0.2, (first, last)
    val = trained["val"]
    assert val and {p.sentence for p in val} == {val[0].sentence}  # one held-out sentence, never trained on
    assert val[0].sentence not in {p.sentence for p in trained["train"]}
    assert trained["out"].is_file() and trained["out"].with_name("speech.optim.safetensors").is_file()


@pytest.mark.slow
def test_resume_continues_from_the_saved_step(trained):
    from emoavatar_emoportraits.speech_model import load_speech_mode

    before = load_speech_mode(trained["out"])
    args = [a if a != "150" else "170" for a in trained["args"]] + ["--resume"]
    assert cli(["train", "emoportraits-speech", *args]) == 0  # through the registered trainer
    after = load_speech_mode(trained["out"])
    assert after.meta["train"]["step"] == 170 and after.meta["train"]["history"][-1]["step"] == 170
    assert np.array_equal(before.stats["mouth_basis"].numpy(), after.stats["mouth_basis"].numpy())  # kept, not refitted
    w0, w1 = before.regressor.mouth.weight, after.regressor.mouth.weight
    assert not np.allclose(w0.detach().numpy(), w1.detach().numpy())


def _generate(trained, tiny_checkpoint, tiny_architecture, kit_portrait, emotion: str, intensity: float, pair=None):
    from emoavatar.emotions import EMOTIONS as VOCAB
    from emoavatar.interfaces import RunContext
    from emoavatar.registry import get_registry
    from emoavatar.types import AudioFeatures, EmotionState

    gen = get_registry().create("motion", "emoportraits-speech", {
        "speech_checkpoint": trained["out"], "checkpoint": tiny_checkpoint[0],
        "head_pose_checkpoint": tiny_checkpoint[1], "architecture": tiny_architecture})
    pair = pair or trained["val"][0]
    n = len(pair)
    feats = {f"features:{k}": AudioFeatures(v, k, 25.0) for k, v in pair.features.items()}
    w = np.zeros((n, len(VOCAB)), np.float32)
    w[:, VOCAB.index(emotion)] = 1
    state = EmotionState(w, np.full(n, intensity, np.float32))
    return gen.generate(feats, state, kit_portrait, RunContext(fps=25, n_frames=n))


@pytest.mark.slow
def test_emotion_moves_z_along_its_direction_and_mouth_changes_are_orthogonal(trained, tiny_checkpoint,
                                                                            tiny_architecture, kit_portrait):
    from emoavatar.emotions import EMOTIONS as VOCAB

    mode = trained["mode"]
    d = mode.stats["directions"].numpy()
    P = mode.stats["mouth_basis"].numpy()
    unit = {e: d[VOCAB.index(e)] / np.linalg.norm(d[VOCAB.index(e)]) for e in ("happy", "sad")}
    args = (trained, tiny_checkpoint, tiny_architecture, kit_portrait)
    sad = _generate(*args, "sad", 1.0).tracks["emoportraits"]
    calm = _generate(*args, "sad", 0.0).tracks["emoportraits"]
    shift = (sad - calm).mean(0)
    along_sad, along_happy = float(shift @ unit["sad"]), float(shift @ unit["happy"])  # measured 0.55 and -0.24
    assert along_sad > 0 and along_sad > abs(along_happy) + 0.1 * along_sad, (along_sad, along_happy)
    assert np.abs(shift @ P.T).max() < 1e-4 * np.linalg.norm(shift)  # emotion leaves the mouth coordinates alone
    # intensity 0: outside the mouth subspace z is the portrait's own latent (from the stage-1 embedders)
    from emoavatar_emoportraits.loading import get_model
    from emoavatar_emoportraits.speech import EmoPortraitsSpeech

    model = get_model(tiny_checkpoint[0], tiny_checkpoint[1], tiny_architecture)
    z_s = EmoPortraitsSpeech().portrait_latent(model, kit_portrait)[0].numpy()
    away = calm - z_s
    assert np.abs(away - (away @ P.T) @ P).max() < 1e-4
    # the same emotion on other audio: only the mouth coordinates change, orthogonal to every emotion direction
    other = _generate(*args, "sad", 1.0, pair=trained["train"][0])
    n = min(len(other.tracks["emoportraits"]), len(sad))
    mouth_only = other.tracks["emoportraits"][:n] - sad[:n]
    assert np.linalg.norm(mouth_only) > 1e-3
    cos = np.abs(mouth_only @ d.T) / (np.linalg.norm(mouth_only, axis=1, keepdims=True) * np.linalg.norm(d, axis=1) + 1e-12)
    assert cos.max() < 1e-3, cos.max()
    residual = mouth_only - (mouth_only @ P.T) @ P
    assert np.linalg.norm(residual) < 1e-4 * np.linalg.norm(mouth_only)


@pytest.mark.slow
def test_speech_example_runs_to_mp4_with_audio(trained, tiny_checkpoint, tiny_architecture, tmp_path):
    from emoavatar.media.video import read_video, video_info

    out = tmp_path / "speech.mp4"
    sets = ["--set", f"motion.with.speech_checkpoint={trained['out']}"]
    for stage in ("motion", "renderer"):
        sets += ["--set", f"{stage}.with.checkpoint={tiny_checkpoint[0]}", "--set",
                 f"{stage}.with.head_pose_checkpoint={tiny_checkpoint[1]}",
                 "--set", f"{stage}.with.architecture={json.dumps(tiny_architecture)}"]
    from emoavatar.testing.data import kit_portrait_path, kit_speech_path

    rc = cli(["run", str(ROOT / "examples" / "emoportraits-speech.yaml"), "-o", str(out), "-q", "--emotion", "sad",
              "--portrait", str(kit_portrait_path()), "--audio", str(kit_speech_path()), "--transcript", "", *sets])
    assert rc == 0
    info = video_info(out)
    assert info.has_audio and abs(info.duration - 2.0) < 0.2 and (info.width, info.height) == (64, 64)
    frames = np.concatenate(list(read_video(out)))
    assert frames.std(axis=0).mean() > 0.5  # the mouth and head move over time
    assert "emoportraits-speech" in (tmp_path / "speech.run.yaml").read_text()


def test_missing_speech_checkpoint_names_the_file_and_the_trainer(tmp_path):
    from emoavatar.errors import WeightsNotFoundError
    from emoavatar_emoportraits.speech_model import load_speech_mode

    with pytest.raises(WeightsNotFoundError) as e:
        load_speech_mode(tmp_path / "speech.safetensors")
    text = f"{e.value} {e.value.fix}"
    assert "speech.safetensors" in text and "emoavatar train emoportraits-speech" in text


def test_fit_recovers_the_mouth_subspace_and_orthogonal_emotion_directions():
    """Synthetic latents: within a clip only a known 2-d 'mouth' plane varies; emotions shift the clip mean."""
    from emoavatar.emotions import EMOTIONS as VOCAB
    from emoavatar_emoportraits.pairs import Pair
    from emoavatar_emoportraits.speech_fit import emotion_directions, fit_mouth_basis

    rng = np.random.default_rng(0)
    Z = 16
    mouth = np.linalg.qr(rng.normal(size=(Z, 2)))[0].T            # [2, Z]
    shift = {"neutral": np.zeros(Z), "happy": rng.normal(size=Z), "sad": rng.normal(size=Z)}
    pairs = []
    for i in range(9):
        emo = ("neutral", "happy", "sad")[i % 3]
        z = shift[emo] + rng.normal(size=(40, 2)) @ mouth * 3 + rng.normal(size=(40, Z)) * 0.01
        pairs.append(Pair({}, z.astype(np.float32), np.zeros((40, 9), np.float32), emo, "a", str(i), str(i)))
    _, P, explained = fit_mouth_basis(pairs, 2)
    assert explained.sum() > 0.99
    assert np.allclose(P @ P.T, np.eye(2), atol=1e-5)
    assert np.linalg.norm(P - (P @ mouth.T) @ mouth) < 1e-2      # same plane
    d, seen = emotion_directions(pairs, P)
    assert seen == ["happy", "neutral", "sad"] and not d[VOCAB.index("neutral")].any()
    assert np.abs(d @ P.T).max() < 1e-4
    sad = shift["sad"] - (shift["sad"] @ mouth.T) @ mouth
    assert np.allclose(d[VOCAB.index("sad")], sad, atol=0.05)


def test_a_feature_kind_the_checkpoint_needs_but_the_pipeline_lacks_is_a_clear_error():
    from emoavatar.errors import ConfigError
    from emoavatar.types import AudioFeatures
    from emoavatar_emoportraits.speech import stack_features

    feats = {"features:visemes": AudioFeatures(np.zeros((10, 15)), "visemes", 25.0)}
    with pytest.raises(ConfigError, match="features:prosody"):
        stack_features(feats, [("visemes", 15), ("prosody", 5)], 10)
    with pytest.raises(ConfigError, match="15 columns"):
        stack_features(feats, [("visemes", 12)], 10)
    assert stack_features(feats, [("visemes", 15)], 12).shape == (12, 15)  # short features: last row repeated


def test_trainer_input_errors_are_one_line(tmp_path, capsys):
    base = ["train", "emoportraits-speech", "--checkpoint", str(tmp_path / "m.pth"), "--head-pose-checkpoint",
            str(tmp_path / "h.pth"), "--out", str(tmp_path / "s.safetensors")]
    assert cli([*base, "--dataset", "folder", str(tmp_path / "nowhere")]) != 0
    assert "dataset folder not found" in capsys.readouterr().err
    assert cli([*base, "--dataset", "folder", str(tmp_path), "--encoder-with", "hf-speech={model: x}"]) != 0
    assert "--encoder-with" in capsys.readouterr().err
    assert not (tmp_path / "s.safetensors").exists()

"""Issue 5 acceptance: EmoHead trained end to end on talking videos that the DEFAULT pipeline renders.

The default pipeline (examples/default.yaml: dlib, phonemes, prosody, mixture, facs-rig, warp2d)
renders a 160 px face crop of the demo portrait saying three sentences with four emotions. The
trainers then run through their real commands (`emoavatar train emohead-preprocess | emohead-hyperplane
| emohead-a2e | nerf`, as examples/train_emohead.sh does) on two of the sentences; the third (the
kit's 2 s sentence) is held out: hyperplane accuracy and the a2e's mouth correlation are measured
on it. Finally examples/emohead.yaml runs on the held-out speech with the trained checkpoints.

It spans three distributions (emoavatar-plugin-emohead-a2e, -emohead-hyperplane and -nerf) plus the
default pipeline's plugins, so it lives with the repository's integration tests.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from emoavatar.cli import main as cli
from emoavatar.errors import PortError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
EMOTIONS = ("neutral", "happy", "sad", "surprised")
TRAIN = ("s1", "s2")  # examples/speech.wav cut at its pause (2.9 s + 4.2 s)
HELD_OUT = "kit"  # emoavatar.testing.data.kit_speech_path(), 2 s: never seen by a trainer
IDENTITY = "astronaut"
# small d; window n = 1: with ~7 s of training speech a 5-frame causal window smooths and delays
# the mouth (held-out r ~0.3-0.8 over seeds, vs ~0.9 with n = 1; see the README's "Measured")
A2E_ARGS = ["--d", "32", "--dh", "32", "--ffn-hidden", "64", "--window", "1", "--iters", "400", "--batch", "16",
            "--seq", "32", "--lr", "2e-3", "--val-fraction", "0.25", "--val-every", "200", "--log-every", "200",
            "--threads", "1"]
# one torch thread for both trainers: with two, the a2e's small model spent its time in spinning OpenMP threads
# (a2e 101 s -> 6.1 s, the fixture 160 -> 81 s on a 2-core machine at load ~2; held-out numbers unchanged: a2e r 0.869,
# NeRF +1.89 / face +1.62 dB over the mean frame with seed 0, vs +1.87 / +1.60 with two threads)
# 250 NeRF iterations (measured on this fixture's clips, seeds 0/1/2: held-out PSNR over the mean frame
# +1.87/+2.48/+1.88 dB, face box +1.60/+2.24/+1.62 dB, the asserted bound +1.0; 300 gave +2.17/+2.94/+2.08 and
# +1.91/+2.70/+1.89; 200 gave face +1.37/+1.56/+1.22; lips' temporal std in emohead.yaml's video 5.05 at 250, seed 2)
NERF = {"resolution": 64, "iterations": 250, "batch_rays": 1024, "n_samples": 16, "lr": 0.01, "device": "cpu",
        "threads": 1, "holdout_every": 10, "val_every": 0, "checkpoint_every": 0, "log_every": 100, "eval_frames": 12,
        "model": {"n_levels": 8, "log2_table_size": 14, "finest_resolution": 256, "hidden": 32, "color_hidden": 32}}


def _require_default_plugins() -> None:
    for module in ("emoavatar_dlib", "emoavatar_phonemes", "emoavatar_prosody", "emoavatar_mixture",
                   "emoavatar_facsrig", "emoavatar_warp2d"):
        pytest.importorskip(module)


def _clips(folder: Path) -> list:
    from emoavatar_emohead.preprocess import is_clip_file, load_clip

    return [load_clip(p) for p in sorted(folder.rglob("*.npz")) if is_clip_file(p)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Render -> preprocess -> hyperplanes -> a2e -> NeRF -> examples/emohead.yaml, once for the module."""
    _require_default_plugins()
    import torch
    from emoavatar.pipeline import Pipeline
    from emoavatar_emohead.demo import prepare_inputs

    torch.set_num_threads(1)
    work = tmp_path_factory.mktemp("emohead_e2e")
    times: dict[str, float] = {}
    t0 = t = time.perf_counter()

    def tick(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        times[name], t = now - t, now

    inputs = prepare_inputs(work, EXAMPLES, size=160)
    default = Pipeline.from_yaml(EXAMPLES / "default.yaml")
    for emotion in EMOTIONS:
        for name, (wav, words) in inputs.sentences.items():
            video = work / ("held" if name == HELD_OUT else "videos") / IDENTITY / emotion / f"{name}.mp4"
            video.parent.mkdir(parents=True, exist_ok=True)
            default.run(video, portrait=inputs.portrait, audio=wav, emotion=emotion, transcript=words)
    tick("render (default pipeline)")

    enc = ["--encoder", "phonemes", "--encoder", "prosody"]
    clips, held = work / "clips", work / "held_clips"
    assert cli(["train", "emohead-preprocess", "--root", str(work / "videos"), "--dataset", "folder",
                "--out", str(clips), *enc]) == 0
    basis = clips / IDENTITY / "basis.npz"
    assert cli(["train", "emohead-preprocess", "--root", str(work / "held"), "--dataset", "folder",
                "--out", str(held), "--basis", str(basis), *enc]) == 0  # the training identity's basis
    tick("preprocess")

    ckpt = work / "ckpt"
    assert cli(["train", "emohead-hyperplane", "--data", str(clips), "--out", str(ckpt / "hyperplanes.npz")]) == 0
    tick("hyperplanes")
    assert cli(["train", "emohead-a2e", "--data", str(clips), "--hyperplanes", str(ckpt / "hyperplanes.npz"),
                "--out", str(ckpt / "a2e.safetensors"), *A2E_ARGS]) == 0
    tick("a2e")
    nerf_yaml = work / "nerf.yaml"
    nerf_yaml.write_text(yaml.safe_dump({"data": [f"clips/{IDENTITY}"], "output": "ckpt/nerf", **NERF}))
    assert cli(["train", "nerf", str(nerf_yaml)]) == 0
    tick("nerf")

    overrides = [f"controller.with.hyperplanes={ckpt / 'hyperplanes.npz'}",
                 f"motion.with.checkpoint={ckpt / 'a2e.safetensors'}",
                 f"renderer.with.checkpoint={ckpt / 'nerf'}", "renderer.with.device=cpu",
                 "renderer.with.n_samples=16"]
    wav, words = inputs.sentences[HELD_OUT]
    result = Pipeline.from_yaml(EXAMPLES / "emohead.yaml", overrides=overrides).run(
        work / "emohead.mp4", portrait=inputs.portrait, audio=wav, emotion="happy", transcript=words)
    tick("emohead pipeline")
    times["total"] = time.perf_counter() - t0
    print("\ne2e wall time:", ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))
    return SimpleNamespace(work=work, clips=clips, held=held, ckpt=ckpt, basis=basis, result=result, times=times,
                           inputs=inputs)


@pytest.mark.slow
def test_preprocessed_clips_track_the_rendered_face(trained):
    clips = _clips(trained.clips)
    assert len(clips) == len(EMOTIONS) * len(TRAIN)
    for c in clips:
        assert c["face_found"].all() and c["alpha"].shape[1] == 10
        assert set(c.features()) == {"visemes", "prosody"} and len(c.features()["visemes"]) == len(c["alpha"])
        assert c.meta["identity"] == IDENTITY and c.meta["basis"] == str(trained.basis)


@pytest.mark.slow
def test_hyperplanes_separate_emotions_on_a_held_out_sentence(trained):
    from emoavatar_emohead_hyperplane.hyperplane import Hyperplanes

    hp = Hyperplanes.load(trained.ckpt / "hyperplanes.npz")
    assert hp.emotions == EMOTIONS
    held = _clips(trained.held)
    alpha = np.concatenate([c["alpha"] for c in held])
    labels = np.concatenate([[c.meta["emotion"]] * len(c["alpha"]) for c in held])
    predicted = np.asarray(hp.emotions)[hp.decision(alpha).argmax(1)]
    accuracy, chance = float((predicted == labels).mean()), 1.0 / len(hp.emotions)
    neutral = next(c["alpha"] for c in held if c.meta["emotion"] == "neutral")
    col = hp.emotions.index("happy")
    before = float(hp.decision(neutral)[:, col].mean())
    after = float(hp.decision(hp.refine(neutral, "happy", 1.0))[:, col].mean())
    print(f"\nhyperplanes, held-out sentence: accuracy {accuracy:.3f} vs chance {chance:.3f}; "
          f"neutral -> happy decision {before:.2f} -> {after:.2f}")
    assert accuracy > chance + 0.4
    assert after > before + 0.5


@pytest.mark.slow
def test_a2e_lowers_val_loss_and_follows_the_mouth(trained):
    from emoavatar.emotions import EMOTIONS as VOCAB
    from emoavatar.interfaces import RunContext
    from emoavatar.registry import get_registry
    from emoavatar.types import EmotionState
    from emoavatar_emohead.basis import load_basis, mouth_aspect_ratio
    from emoavatar_emohead_hyperplane.hyperplane import Hyperplanes

    meta = json.loads((trained.ckpt / "a2e.json").read_text())
    history = meta["train"]["history"]
    first, last = history[0]["val_loss"], history[-1]["val_loss"]
    a2e = get_registry().create("motion", "emohead-a2e", {"checkpoint": str(trained.ckpt / "a2e.safetensors")})
    basis = load_basis(trained.basis)
    hp = Hyperplanes.load(trained.ckpt / "hyperplanes.npz")
    rs, hits, frames = [], 0, 0
    for c in _clips(trained.held):
        n = len(c["alpha"])
        weights = np.zeros((n, len(VOCAB)), np.float32)
        weights[:, VOCAB.index(c.meta["emotion"])] = 1.0
        motion = a2e.generate(c.features(), EmotionState(weights, np.ones(n)), None, RunContext(n_frames=n))
        alpha_hat = motion.tracks["exp3dmm10"]
        assert motion.meta["w_z"] == "hyperplanes"
        mar_hat = mouth_aspect_ratio(basis.decode(alpha_hat))  # the predicted mouth opening
        rs.append(float(np.corrcoef(mar_hat, c["mar"])[0, 1]))
        hits += int((np.asarray(hp.emotions)[hp.decision(alpha_hat).argmax(1)] == c.meta["emotion"]).sum())
        frames += n
    r, emotion_acc = float(np.mean(rs)), hits / frames
    print(f"\na2e: val loss {first:.3f} -> {last:.3f}; held-out sentence: mouth-opening r {r:.3f} "
          f"(per emotion {', '.join(f'{x:.2f}' for x in rs)}); α̂ classified as the requested emotion "
          f"{emotion_acc:.3f} (chance {1 / len(EMOTIONS):.2f})")
    assert last < first - 0.3
    assert r > 0.6
    assert emotion_acc > 0.75


@pytest.mark.slow
def test_nerf_renders_held_out_frames_above_the_mean_frame(trained):
    m = json.loads((trained.ckpt / "nerf" / "metrics.json").read_text())
    print(f"\nnerf 64x64, held-out frames: PSNR {m['psnr']:.2f} dB vs mean frame {m['baseline_psnr']:.2f} dB; "
          f"face box {m['psnr_face']:.2f} vs {m['baseline_psnr_face']:.2f} ({m['it_per_s']:.1f} it/s)")
    assert m["held_out"] and m["frames"] >= 8
    assert m["psnr"] > m["baseline_psnr"] + 1.0
    assert m["psnr_face"] > m["baseline_psnr_face"] + 1.0


@pytest.mark.slow
def test_emohead_pipeline_renders_the_held_out_speech(trained):
    from emoavatar.media import read_video, video_info

    res = trained.result
    info = video_info(res.output)
    frames = np.concatenate(list(read_video(res.output))).astype(np.float32)
    assert res.n_frames == 50 and len(frames) == 50 and (info.height, info.width) == (64, 64) and info.has_audio
    assert 30 < frames.mean() < 225 and frames.std() > 20  # an image, not a flat or blown-out frame
    run = yaml.safe_load(res.config_path.read_text())
    assert [run["controller"]["use"], run["motion"]["use"], run["renderer"]["use"]] == [
        "emohead-hyperplane", "emohead-a2e", "nerf"]
    # the NeRF moves the mouth: frames change over time around the lips, not in the background
    lips = np.concatenate([c["landmarks"][:, 48:68] for c in _clips(trained.held)]) * 64 / 160
    (x0, y0), (x1, y1) = np.floor(lips.min((0, 1))).astype(int), np.ceil(lips.max((0, 1))).astype(int)
    temporal = frames.std(0).mean(-1)  # [H, W] grey levels
    mouth, corner = temporal[y0:y1 + 1, x0:x1 + 1].mean(), temporal[:8, :8].mean()
    print(f"\nemohead.yaml on the held-out speech: {len(frames)} frames {info.width}x{info.height}; temporal std "
          f"lips {mouth:.2f} vs background corner {corner:.2f} grey levels")
    assert mouth > corner + 1.0


def test_validate_refuses_nerf_after_facs_rig(capsys):
    from emoavatar.pipeline import Pipeline

    report = Pipeline.from_yaml(EXAMPLES / "default.yaml", overrides=["renderer.use=nerf"]).validate()
    assert any(isinstance(e, PortError) for e in report.problems)
    assert cli(["validate", str(EXAMPLES / "default.yaml"), "--set", "renderer.use=nerf"]) != 0
    err = capsys.readouterr().err
    assert ("renderer 'nerf' consumes motion:exp3dmm10 but motion 'facs-rig' produces motion:landmarks68") in err


def test_emohead_yaml_validates_and_the_training_script_uses_real_trainers(capsys):
    # validate checks that input files exist; the YAML's portrait is written by the training run
    assert cli(["validate", str(EXAMPLES / "emohead.yaml"), "--set", f"inputs.portrait={EXAMPLES / 'portrait.png'}"]) == 0
    assert "phonemes -> prosody -> emohead-hyperplane -> emohead-a2e -> nerf" in capsys.readouterr().out
    script = (EXAMPLES / "train_emohead.sh").read_text()
    from emoavatar.cli.train import trainers

    for name in ("emohead-preprocess", "emohead-hyperplane", "emohead-a2e", "nerf"):
        assert f"train {name} " in script and name in trainers()
    assert "examples/default.yaml" in script and "emoavatar_emohead.demo" in script

"""``landmarks-to-emoportraits``: the landmark features, the bridge's identity at the portrait, its errors,
the motion chain facs-rig -> bridge -> emoportraits (validate + CLI), and training on clips the default
pipeline renders (tiny random-weight stage-1 model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from emoavatar.cli import main as cli
from training_rig import RIG_PINNED

ROOT = Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "examples" / "facs-rig-emoportraits.yaml"
EMOTIONS = ("happy", "surprised", "sad")


def _random_bridge(path: Path, z_dim: int) -> Path:
    import torch
    from emoavatar_emoportraits.bridge_model import LandmarkBridge, save_bridge

    torch.manual_seed(0)
    bridge = LandmarkBridge(z_dim, hidden=16, layers=1)
    for layer in (bridge.mlp[-1], bridge.skip):  # trained-like: the output layers start at zero
        torch.nn.init.normal_(layer.weight, std=0.1)
    return save_bridge(bridge, path)


def test_landmark_normalisation_removes_the_similarity_transform(kit_portrait):
    from emoavatar_emoportraits.bridge_features import N_SHAPE, bridge_inputs, normalise

    lm = kit_portrait.face.landmarks.astype(np.float64)
    a = 0.3
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = (lm - lm.mean(0)) @ rot.T * 1.7 + lm.mean(0) + [12.0, -5.0]
    s0, r0 = normalise(lm)
    s1, r1 = normalise(moved)
    assert np.abs(s0 - s1).max() < 1e-9  # the expression part does not see the head's similarity motion
    assert abs((r1[3] - r0[3]) - a) < 1e-9 and abs((r1[2] - r0[2]) - np.log(1.7)) < 1e-9
    x = bridge_inputs(lm, np.stack([lm, moved]))
    assert np.abs(x[0, N_SHAPE:]).max() == 0  # the reference itself: no change at all
    assert np.abs(x[1, N_SHAPE:2 * N_SHAPE]).max() < 1e-6 and abs(x[1, -1] - a) < 1e-6
    opened = lm.copy()
    opened[57:60, 1] += 4.0  # lower lip down
    assert np.abs(bridge_inputs(lm, opened[None])[0, N_SHAPE:2 * N_SHAPE]).max() > 0.01


def test_bridge_reproduces_the_portrait_at_its_own_landmarks(tiny_checkpoint, tiny_architecture, kit_portrait, tmp_path):
    from emoavatar.interfaces import RunContext
    from emoavatar.registry import get_registry
    from emoavatar.types import Motion
    from emoavatar_emoportraits.loading import get_model

    bridge = _random_bridge(tmp_path / "b.safetensors", tiny_architecture["expression_dim"])
    opts = {"bridge": bridge, "checkpoint": tiny_checkpoint[0], "head_pose_checkpoint": tiny_checkpoint[1],
            "architecture": tiny_architecture}
    gen = get_registry().create("motion", "landmarks-to-emoportraits", opts)
    lm = np.repeat(kit_portrait.face.landmarks[None].astype(np.float32), 3, 0)
    lm[1, 48:68, 1] += np.linspace(0, 6, 20, dtype=np.float32)  # an expression change
    lm[2] += [8.0, 0.0]  # a head move
    lms = Motion("landmarks68", {"landmarks68": lm}, 25)
    motion = gen.generate({}, None, kit_portrait, RunContext(fps=25, n_frames=3, ports={"motion:landmarks68": lms}))
    z, pose = motion.tracks["emoportraits"], motion.tracks["head_pose"]
    from emoavatar_emoportraits.crop import crop_tensor, square_crop

    model = get_model(tiny_checkpoint[0], tiny_checkpoint[1], tiny_architecture)
    crop = square_crop(kit_portrait.face.box, kit_portrait.width, kit_portrait.height)
    z_s, pose_s = (t[0].numpy() for t in model.encode_driver(crop_tensor(kit_portrait.image, crop, 64)))
    assert np.allclose(z[0], z_s, atol=1e-6) and np.allclose(pose[0], pose_s, atol=1e-6)
    assert np.abs(z[1] - z_s).max() > 1e-4 and np.abs(pose[2] - pose_s).max() > 1e-4


def test_missing_bridge_file_names_it_and_the_train_command(tiny_checkpoint, tiny_architecture, kit_portrait, tmp_path):
    from emoavatar.errors import WeightsNotFoundError
    from emoavatar.interfaces import RunContext
    from emoavatar.registry import get_registry
    from emoavatar.types import Motion

    missing = tmp_path / "nowhere" / "bridge.safetensors"
    gen = get_registry().create("motion", "landmarks-to-emoportraits", {"bridge": missing,
                                                                        "checkpoint": tiny_checkpoint[0]})
    lms = Motion("landmarks68", {"landmarks68": kit_portrait.face.landmarks[None].astype(np.float32)}, 25)
    with pytest.raises(WeightsNotFoundError) as err:
        gen.generate({}, None, kit_portrait, RunContext(fps=25, n_frames=1, ports={"motion:landmarks68": lms}))
    assert str(missing) in str(err.value) and "emoavatar train landmarks-to-emoportraits" in str(err.value)


def test_validate_accepts_the_chain_and_refuses_it_without_the_bridge():
    from emoavatar.config import load_config
    from emoavatar.validate import validate_config

    report = validate_config(load_config(EXAMPLE), inputs=True)
    assert report.ok, report.problems
    assert [c.spec.name for c in report.components if c.kind == "motion"] == ["facs-rig", "landmarks-to-emoportraits"]
    without = validate_config(load_config(EXAMPLE, ["motion=[{use: facs-rig}]"]))
    msgs = [str(p) for p in without.problems]
    assert any("renderer 'emoportraits' consumes motion:emoportraits but motion 'facs-rig' produces motion:landmarks68"
               in m for m in msgs), msgs
    reversed_chain = validate_config(load_config(EXAMPLE, ["motion=[{use: landmarks-to-emoportraits}, {use: facs-rig}]"]))
    msgs = [str(p) for p in reversed_chain.problems]
    assert any("motion[0] 'landmarks-to-emoportraits' consumes motion:landmarks68 but no motion stage before it" in m
               for m in msgs), msgs


# -- training on clips the default pipeline renders -------------------------------------------------------------
@pytest.fixture(scope="module")
def pairs(tmp_path_factory, tiny_checkpoint, tiny_architecture):
    """Three 2 s clips of the default pipeline (different emotions, so the landmarks vary) -> training pairs,
    extracted by the trainer's command line (``--steps 0``: extraction and the held-out report only). The rig's
    mouth and expression options are pinned (:data:`training_rig.RIG_PINNED`: the visemes alone move the mouth
    while speaking) and so are its blinks and head motion (the default's, which the bridge learns as pose), so
    retuning facs-rig's defaults does not change the data these assertions were measured on."""
    from emoavatar.testing.data import kit_portrait_path, kit_speech_path
    from emoavatar_emoportraits.bridge_train import Pairs

    folder = tmp_path_factory.mktemp("clips")
    for emotion in EMOTIONS:
        rc = cli(["run", str(ROOT / "examples" / "default.yaml"), "-o", str(folder / f"{emotion}.mp4"), "-q",
                  "--emotion", emotion, "--portrait", str(kit_portrait_path()), "--audio", str(kit_speech_path()),
                  *RIG_PINNED, "--set", "motion.with.blink_rate_per_min=17", "--set", "motion.with.head_motion=1.0"])
        assert rc == 0
    cache = folder / "pairs.npz"
    rc = cli(["train", "landmarks-to-emoportraits", "--data", str(folder), "--pairs", str(cache),
              "--checkpoint", str(tiny_checkpoint[0]), "--head-pose-checkpoint", str(tiny_checkpoint[1]),
              "--architecture", json.dumps(tiny_architecture), "--out", str(folder / "untrained.safetensors"),
              "--steps", "0"])
    assert rc == 0 and cache.is_file()
    return Pairs.load(cache), cache


@pytest.mark.slow
def test_training_lowers_validation_loss_and_predicts_the_mouth_component(pairs, tiny_architecture, tmp_path):
    from emoavatar_emoportraits.bridge_train import parse_args, train

    data, _ = pairs
    assert len(data.names) == 3 and len(data.z) >= 140  # every frame of the three clips has a face
    args_list = ["--data", "unused", "--checkpoint", "unused", "--head-pose-checkpoint", "unused",
                 "--architecture", json.dumps(tiny_architecture), "--out", str(tmp_path / "b.safetensors"),
                 "--log-every", "50", "--threads", "1"]
    result = train(parse_args([*args_list, "--steps", "150"]), log=lambda s: None, pairs=data)
    m = result["metrics"]
    # measured (tiny random-weight stage-1 model, 114 training / 36 held-out frames, rig pinned): validation loss
    # 1.34 (untrained = no change, ratio 1) -> 0.99 (ratio 0.74), mouth PC r 0.57 (train |r| with the lip gap 0.83),
    # z error ratio 0.79 (see the plugin README); over --seed 0..3 the ratio 0.73-0.75, r 0.51-0.57, z error ratio
    # 0.79-0.82; the untrained bridge r 0.15. The bounds keep >= 0.05 from the worst seed and fail the untrained bridge.
    # (On the rig before issue 11's readability change 1.21 -> 0.77, r 0.67, z error ratio 0.62; on the defaults
    # since, unpinned, 1.19 -> 1.05 (0.88), z error ratio 0.94: these bounds fail that.)
    assert m["held_out_frames"] >= 30
    assert m["val_loss_end"] < 0.8 * m["val_loss_start"], m  # the untrained bridge predicts no change
    assert m["mouth_pc_gap_r_train"] > 0.5, m  # the chosen latent component does follow the lips
    assert m["mouth_pc_r"] > 0.45, m  # predicted vs true mouth component on held-out frames
    assert m["z_error_ratio"] < 0.88, m
    again = train(parse_args([*args_list, "--steps", "20", "--resume"]), log=lambda s: None, pairs=data)
    assert [h["step"] for h in again["history"]][-2:] == [150, 170]  # continued from the saved step


@pytest.mark.slow
def test_chain_example_runs_from_the_cli_to_an_mp4_with_audio(pairs, tiny_checkpoint, tiny_architecture, tmp_path):
    from emoavatar.config import load_config
    from emoavatar.media.video import read_video, video_info
    from emoavatar.validate import validate_config

    bridge = tmp_path / "bridge.safetensors"
    rc = cli(["train", "landmarks-to-emoportraits", "--data", "unused", "--pairs", str(pairs[1]),
              "--checkpoint", str(tiny_checkpoint[0]), "--head-pose-checkpoint", str(tiny_checkpoint[1]),
              "--architecture", json.dumps(tiny_architecture), "--out", str(bridge), "--steps", "150",
              "--threads", "1"])
    assert rc == 0 and bridge.is_file()
    arch = json.dumps(tiny_architecture)
    sets = []
    for stage in ("motion.1", "renderer"):
        sets += ["--set", f"{stage}.with.checkpoint={tiny_checkpoint[0]}",
                 "--set", f"{stage}.with.head_pose_checkpoint={tiny_checkpoint[1]}",
                 "--set", f"{stage}.with.architecture={arch}"]
    from emoavatar.media.audio import decode_audio, write_wav
    from emoavatar.testing.data import kit_portrait_path, kit_speech_path

    speech = tmp_path / "speech_1s.wav"  # 25 frames keep the (CPU-heavy) volumetric renderer short
    write_wav(speech, decode_audio(kit_speech_path())[:16000], 16000)
    out = tmp_path / "chain.mp4"
    rc = cli(["run", str(EXAMPLE), "-o", str(out), "-q", "--emotion", "surprised", "--portrait", str(kit_portrait_path()),
              "--audio", str(speech), "--set", f"motion.1.with.bridge={bridge}", *sets])
    assert rc == 0
    info = video_info(out)
    assert info.has_audio and (info.width, info.height) == (64, 64) and info.n_frames == 25
    frames = np.concatenate(list(read_video(out)))
    assert frames.std(axis=0).mean() > 1.0  # the landmarks' motion changes the picture over time
    run = out.with_name("chain.run.yaml")
    assert validate_config(load_config(run)).ok  # the resolved chain re-validates
    assert [m["use"] for m in __import__("yaml").safe_load(run.read_text())["motion"]] == [
        "facs-rig", "landmarks-to-emoportraits"]


def test_training_clips_come_from_videos_or_the_core_dataset_readers(tmp_path):
    from emoavatar.errors import ConfigError
    from emoavatar_emoportraits.bridge_train import video_paths

    for rel in ("M1/happy/s1.mp4", "M1/sad/s2.mp4", "notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert [p.name for p in video_paths([str(tmp_path)])] == ["s1.mp4", "s2.mp4"]
    assert [p.name for p in video_paths([str(tmp_path)], "folder")] == ["s1.mp4", "s2.mp4"]
    with pytest.raises(ConfigError, match="no such file or folder"):
        video_paths([str(tmp_path / "missing")])

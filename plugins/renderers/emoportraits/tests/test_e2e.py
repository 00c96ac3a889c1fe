"""End to end through the CLI with random-weight checkpoints in the released format (reduced size):
examples/emoportraits.yaml driven by a video that the default pipeline renders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from emoavatar.cli import main as cli

ROOT = Path(__file__).resolve().parents[4]


def _sets(ckpt, arch):
    out = []
    for stage in ("motion", "renderer"):
        out += ["--set", f"{stage}.with.checkpoint={ckpt[0]}", "--set", f"{stage}.with.head_pose_checkpoint={ckpt[1]}",
                "--set", f"{stage}.with.architecture={json.dumps(arch)}"]
    return out


@pytest.fixture(scope="module")
def driving_clip(tmp_path_factory):
    from emoavatar.testing.data import kit_portrait_path, kit_speech_path

    for module in ("emoavatar_dlib", "emoavatar_phonemes", "emoavatar_prosody", "emoavatar_mixture",
                   "emoavatar_facsrig", "emoavatar_warp2d"):
        pytest.importorskip(module)
    out = tmp_path_factory.mktemp("driving") / "default.mp4"
    rc = cli(["run", str(ROOT / "examples" / "default.yaml"), "-o", str(out), "-q", "--emotion", "surprised",
              "--portrait", str(kit_portrait_path()), "--audio", str(kit_speech_path())])
    assert rc == 0
    return out


@pytest.mark.slow
def test_video_driven_example_runs_to_mp4_with_audio(driving_clip, tiny_checkpoint, tiny_architecture, tmp_path):
    from emoavatar.media.video import read_video, video_info

    out = tmp_path / "emoportraits.mp4"
    rc = cli(["run", str(ROOT / "examples" / "emoportraits.yaml"), "--driving", str(driving_clip), "-o", str(out), "-q",
              *_sets(tiny_checkpoint, tiny_architecture)])
    assert rc == 0
    info, drv = video_info(out), video_info(driving_clip)
    assert info.has_audio and abs(info.duration - drv.duration) < 0.2
    assert (info.width, info.height) == (64, 64)
    assert abs(info.n_frames - drv.n_frames) <= 1
    frames = np.concatenate(list(read_video(out)))
    assert frames.std(axis=0).mean() > 1.0  # the driver's motion changes the picture over time
    run = (tmp_path / "emoportraits.run.yaml").read_text()
    assert "driving:" in run and str(driving_clip) in run


@pytest.mark.slow
def test_video_motion_follows_the_driver(driving_clip, tiny_checkpoint, tiny_architecture, kit_portrait):
    from emoavatar.inputs import DrivingVideo
    from emoavatar.interfaces import RunContext
    from emoavatar.registry import get_registry

    reg = get_registry()
    face = reg.create("faces", "dlib", {})
    gen = reg.create("motion", "emoportraits-video", {"checkpoint": tiny_checkpoint[0],
                                                      "head_pose_checkpoint": tiny_checkpoint[1],
                                                      "architecture": tiny_architecture})
    dv = DrivingVideo.open(driving_clip)
    ctx = RunContext(fps=25, n_frames=20, face=face, ports={"input:driving": dv})
    motion = gen.generate({}, None, kit_portrait, ctx)
    z, pose = motion.tracks["emoportraits"], motion.tracks["head_pose"]
    assert z.shape == (20, 32) and pose.shape == (20, 9)
    assert motion.meta["faces_found"] == 20
    assert np.abs(np.diff(z, axis=0)).mean() > 1e-4  # latents change with the driver's frames


def test_validate_refuses_facs_rig_before_emoportraits():
    from emoavatar.config import load_config
    from emoavatar.validate import validate_config

    cfg = load_config(ROOT / "examples" / "emoportraits.yaml", ["motion.use=facs-rig", "motion.with={}"])
    report = validate_config(cfg)
    msgs = [str(p) for p in report.problems]
    assert any("renderer 'emoportraits' consumes motion:emoportraits" in m and "motion 'facs-rig' produces "
               "motion:landmarks68" in m for m in msgs), msgs


def test_missing_driving_video_is_a_clear_error(tiny_checkpoint, tiny_architecture, tmp_path, capsys):
    rc = cli(["run", str(ROOT / "examples" / "emoportraits.yaml"), "-o", str(tmp_path / "x.mp4"), "-q",
              "--audio", str(ROOT / "examples" / "speech.wav"), *_sets(tiny_checkpoint, tiny_architecture)])
    assert rc != 0
    err = capsys.readouterr().err
    assert "consumes input:driving but the run has none" in err and "--driving" in err
    assert not (tmp_path / "x.mp4").exists()

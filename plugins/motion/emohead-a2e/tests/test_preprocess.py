import json

import numpy as np
from emoavatar.interfaces import AudioEncoder, FaceAnalyzer
from emoavatar.media import VideoWriter
from emoavatar.types import AudioFeatures, Face
from emoavatar_emohead.basis import load_basis
from emoavatar_emohead.datasets import ClipRecord
from emoavatar_emohead.preprocess import load_clip, preprocess_subject
from emohead_synth import synth_landmarks

N = 20


class IndexFace(FaceAnalyzer):
    """Reads the frame index from the top-left pixel; returns that frame's synthetic landmarks."""

    def __init__(self, landmarks):
        super().__init__(None)
        self.landmarks = landmarks

    def detect(self, image):
        i = int(round(image[:8, :8, 0].mean() / 10))
        if i == 7:  # one failed detection, interpolated from its neighbours
            return []
        lm = self.landmarks[min(i, len(self.landmarks) - 1)] * image.shape[1] / 96  # detected at this size
        return [Face((*lm.min(0), *lm.max(0)), lm.copy())]

    def embed(self, image, face):
        return np.zeros(128, np.float32)


class Energy(AudioEncoder):
    def encode(self, audio, ctx):
        return AudioFeatures(np.full((ctx.n_frames, 2), audio.duration), "energy", ctx.fps)


def make_video(path, audio):
    frames = np.zeros((N, 64, 96, 3), np.uint8)
    for i in range(N):
        frames[i] = i * 10
    with VideoWriter(path, 25.0, audio=audio, crf=0, preset="ultrafast") as w:
        w.write(frames)


def test_preprocess_subject_writes_documented_npz(tmp_path, kit_speech_path):
    rng = np.random.default_rng(0)
    coef = np.c_[np.abs(np.sin(np.linspace(0, 6, N))), np.linspace(-0.3, 0.3, N), np.zeros(N)]
    lm, _ = synth_landmarks(coef, rng, pose_jitter=False)
    recs = []
    for j, emo in enumerate(["happy", "sad"]):
        video = tmp_path / f"clip{j}.mp4"
        make_video(video, kit_speech_path)
        recs.append(ClipRecord(video, None, emo, 2, "M003", f"00{j}"))
    paths = preprocess_subject(recs, tmp_path / "out", IndexFace(lm), [Energy()], max_side=48)
    assert [p.name for p in paths] == ["happy_2_000.npz", "sad_2_001.npz"]
    clip = load_clip(paths[0])
    t = len(clip["landmarks"])
    assert t == N
    assert clip["frames"].shape == (N, 32, 48, 3) and clip["frames"].dtype == np.uint8  # downscaled by 0.5
    assert clip["landmarks"].shape == (N, 68, 2) and clip["alpha"].shape == (N, 10) and clip["pose"].shape == (N, 6)
    assert clip["face_found"].sum() == N - 1 and not clip["face_found"][7]
    assert np.allclose(clip["landmarks"][7], (clip["landmarks"][6] + clip["landmarks"][8]) / 2, atol=1e-3)
    assert np.allclose(clip["landmarks"][3], lm[3] * 0.5, atol=1.0)  # landmarks follow the frame scale
    assert clip["feat_energy"].shape == (N, 2) and clip["mar"].shape == (N,)
    m = clip.meta
    assert m["emotion"] == "happy" and m["identity"] == "M003" and m["intensity"] == 2 and m["scale"] == 0.5
    assert m["feature_kinds"] == ["energy"] and m["size"] == [32, 48] and m["fps"] == 25.0
    basis = load_basis(m["basis"])  # fitted on the subject, saved next to the clips
    assert np.allclose(basis.encode(clip["landmarks"]).alpha, clip["alpha"], atol=1e-4)
    assert json.loads((tmp_path / "out/M003/basis.json").read_text())["basis"] == "landmark-pca"


def test_cli_with_dlib_on_a_still_portrait(tmp_path, kit_portrait_path, kit_speech_path):
    """The preprocess CLI end to end: folder dataset, real dlib landmarks, .npz per clip."""
    import pytest
    from emoavatar.media import read_image
    from emoavatar.registry import get_registry
    from emoavatar_emohead.preprocess import main

    if ("faces", "dlib") not in get_registry().entries:
        pytest.skip("dlib face plugin not installed")
    img = read_image(kit_portrait_path)
    frames = np.repeat(img[None], 6, 0)
    frames[3:, :, :4] = 0  # a little change between frames
    for emo in ("happy", "sad"):
        video = tmp_path / "data/subj/" / emo / "s1.mp4"
        video.parent.mkdir(parents=True)
        with VideoWriter(video, 25.0, audio=kit_speech_path, preset="ultrafast") as w:
            w.write(frames)
    assert main(["--root", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--no-frames"]) == 0
    clip = load_clip(tmp_path / "out/subj/happy_1_s1.npz")
    assert clip["face_found"].all() and clip["alpha"].shape == (6, 10) and "frames" not in clip.arrays
    face = get_registry().create("faces", "dlib").analyze(img, embed=False)
    assert np.abs(clip["landmarks"][0] - face.landmarks).max() < 3.0

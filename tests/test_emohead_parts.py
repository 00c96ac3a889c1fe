"""The three EmoHead distributions agree on what passes between them, without importing each other.

emoavatar-plugin-emohead-a2e writes preprocessed clips and defines the exp3dmm10 pose convention;
emoavatar-plugin-emohead-hyperplane writes hyperplane files and puts w_z in EmotionState.latent;
emoavatar-plugin-nerf reads clips and renders exp3dmm10 poses. Each reads the others' documented
formats with its own small reader; these tests hold the writers and readers to one format.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("emoavatar_emohead")
pytest.importorskip("emoavatar_emohead_hyperplane")
pytest.importorskip("emoavatar_nerf")


def _hyperplanes():
    from emoavatar_emohead_hyperplane.hyperplane import Hyperplanes

    w = np.random.default_rng(0).standard_normal((3, 10)).astype(np.float32)
    return Hyperplanes(("neutral", "happy", "sad"), w, np.zeros(3, np.float32), basis="landmark-pca")


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_a2e_reads_the_hyperplane_files_the_trainer_writes(tmp_path, suffix):
    from emoavatar_emohead.hyperplanes_file import read_normals

    hp = _hyperplanes()
    path = hp.save(tmp_path / f"hp{suffix}")
    assert np.allclose(read_normals(path), hp.vocabulary_matrix())


def test_preprocessed_clips_read_alike_by_hyperplane_and_nerf(tmp_path):
    from emoavatar_emohead.basis import create_basis
    from emoavatar_emohead.preprocess import Clip, is_clip_file, save_clip
    from emoavatar_emohead_hyperplane import clips as hp_clips
    from emoavatar_nerf import clips as nerf_clips

    arrays = {"alpha": np.ones((4, 10), np.float32), "mar": np.full(4, 0.2, np.float32),
              "frames": np.zeros((4, 8, 8, 3), np.uint8)}
    path = save_clip(tmp_path / "A" / "happy_1_001.npz", Clip(arrays, {"emotion": "happy", "identity": "A"}))
    basis = create_basis("landmark-pca").fit(np.random.default_rng(0).normal(size=(5, 68, 2)) * 10 + 50)
    basis_path = basis.save(tmp_path / "A" / "basis.npz")
    for reader in (hp_clips, nerf_clips):
        got, meta = reader.load_clip(path)
        assert meta == {"emotion": "happy", "identity": "A"} and set(got) == set(arrays)
        assert all(np.array_equal(got[k], arrays[k]) for k in arrays)
        assert reader.is_clip_file(path) == is_clip_file(path) is True
        assert reader.is_clip_file(basis_path) == is_clip_file(basis_path) is False


def test_controller_latent_drives_a2e_and_switches_mid_utterance(tmp_path, kit_portrait):
    import torch
    from emoavatar.emotions import EMOTIONS, parse_emotion
    from emoavatar.interfaces import RunContext
    from emoavatar.types import AudioFeatures, EmotionState
    from emoavatar_emohead.a2e import build_model, default_arch, save_checkpoint
    from emoavatar_emohead.spec import A2E_SPEC
    from emoavatar_emohead_hyperplane.controller import HyperplaneController
    from emoavatar_emohead_hyperplane.spec import HyperplaneConfig

    torch.manual_seed(0)
    arch = default_arch({"hubert": 12}, d=16, dh=8, window=2, ffn_hidden=[16])
    model = build_model(arch)
    with torch.no_grad():
        model.ffn_tau[-1].bias.fill_(1.0)
    ckpt = save_checkpoint(tmp_path / "a2e.safetensors", model, arch, None, basis="landmark-pca")
    gen = A2E_SPEC.build({"checkpoint": str(ckpt)})
    hp = _hyperplanes()
    ctrl = HyperplaneController(HyperplaneConfig(hyperplanes=str(hp.save(tmp_path / "hp.npz")), strength=2.0))
    n, ctx = 30, RunContext(n_frames=30)
    feats = {"features:hubert": AudioFeatures(np.random.default_rng(1).standard_normal((n, 12)), "hubert", 25.0)}
    es = ctrl.control(parse_emotion([{"at": 0, "emotion": "happy"}, {"at": 0.6, "emotion": "sad"}]), {}, ctx)
    out = gen.generate(feats, es, kit_portrait, ctx)
    plain = gen.generate(feats, EmotionState(np.eye(len(EMOTIONS), dtype=np.float32)[[EMOTIONS.index("contempt")] * n],
                                             np.ones(n)), kit_portrait, ctx)
    assert out.meta["w_z"] == "emotion.latent"
    tau = out.tracks["tau"][:, None]
    delta = out.tracks["exp3dmm10"] - plain.tracks["exp3dmm10"]
    assert np.allclose(delta[:10], 2 * tau[:10] * hp.unit[1], atol=1e-5)
    assert np.allclose(delta[-5:], 2 * tau[-5:] * hp.unit[2], atol=1e-5)


def test_nerf_camera_reproduces_the_basis_pose():
    import torch
    from emoavatar_emohead.basis import apply_pose
    from emoavatar_nerf.render import CameraConfig, head_to_camera, pose_to_rigid, project

    cam = CameraConfig(focal=50.0)  # nearly orthographic
    pose = np.array([[0.05, 0.2, -0.1, 80.0, 90.0, 15.0]], np.float32)
    pts = np.random.default_rng(0).normal(size=(1, 20, 3)).astype(np.float32)
    expect = apply_pose(pts, pose)[0]
    rot, centre = pose_to_rigid(torch.from_numpy(pose), cam, 160, 200)
    got = project(head_to_camera(torch.from_numpy(pts[0]), rot, centre), 160, 200, cam)
    assert np.abs(got.numpy() - expect).max() < 0.05 * 15

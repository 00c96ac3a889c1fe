import json

import numpy as np
import pytest
import torch
from emoavatar.emotions import EMOTIONS
from emoavatar.errors import ConfigError, PortError, WeightsNotFoundError
from emoavatar.interfaces import RunContext
from emoavatar.registry import get_registry
from emoavatar.testing.contracts import check_motion
from emoavatar.types import AudioFeatures, EmotionState
from emoavatar_emohead.a2e import build_model, default_arch, load_checkpoint, save_checkpoint
from emoavatar_emohead.hyperplanes_file import read_normals
from emoavatar_emohead.spec import A2E_SPEC


def write_hyperplanes(path, emotions, w):
    """A hyperplanes file in the documented format of `emoavatar train emohead-hyperplane`."""
    np.savez(path, w=np.asarray(w, np.float32), b=np.zeros(len(emotions), np.float32))
    path.with_suffix(".json").write_text(json.dumps({"emotions": list(emotions), "basis": "", "k": w.shape[1]}))
    return path


def tiny_checkpoint(tmp_path, dims=None, hyper=None):
    torch.manual_seed(0)
    arch = default_arch(dims or {"hubert": 12, "visemes": 15}, d=16, dh=8, window=5, ffn_hidden=[16, 8])
    model = build_model(arch)
    with torch.no_grad():
        model.ffn_tau[-1].bias.fill_(1.0)  # τ clearly non-zero, so refinement shows
    return save_checkpoint(tmp_path / "a2e.safetensors", model, arch, hyper, basis="landmark-pca"), model


def feats(n, seed=0):
    rng = np.random.default_rng(seed)
    return {"features:hubert": AudioFeatures(rng.standard_normal((n, 12)), "hubert", 25.0),
            "features:visemes": AudioFeatures(rng.random((n, 15)), "visemes", 25.0)}


def state(n, emotion="happy", latent=None):
    w = np.zeros((n, len(EMOTIONS)), np.float32)
    w[:, EMOTIONS.index(emotion)] = 1
    return EmotionState(w, np.ones(n), latent=latent)


def test_checkpoint_roundtrip(tmp_path):
    path, model = tiny_checkpoint(tmp_path)
    again, meta, hyper = load_checkpoint(path)
    x = {"hubert": torch.randn(1, 9, 12), "visemes": torch.randn(1, 9, 15)}
    assert torch.allclose(model.eval()(x)[0], again(x)[0])
    assert meta["basis"] == "landmark-pca" and hyper.shape == (len(EMOTIONS), 10)


def test_registry_builds_and_contract(tmp_path, kit_portrait):
    path, _ = tiny_checkpoint(tmp_path)
    gen = get_registry().create("motion", "emohead-a2e", {"checkpoint": str(path)})
    motion = check_motion(gen, kit_portrait, feats(40))
    assert motion.space == "exp3dmm10" and motion.tracks["exp3dmm10"].shape == (40, 10)
    assert motion.tracks["pose"].shape == (40, 6) and motion.meta["basis"] == "landmark-pca"
    # an unfitted basis cannot place the portrait: pose unknown (scale 0), so the nerf uses its own
    assert not motion.tracks["pose"].any()


def test_chunked_inference_equals_whole(tmp_path, kit_portrait):
    path, _ = tiny_checkpoint(tmp_path)
    whole = A2E_SPEC.build({"checkpoint": str(path), "chunk": 1024})
    chunked = A2E_SPEC.build({"checkpoint": str(path), "chunk": 8})
    ctx = RunContext(n_frames=37)
    a = whole.generate(feats(37), state(37), kit_portrait, ctx).tracks["exp3dmm10"]
    b = chunked.generate(feats(37), state(37), kit_portrait, ctx).tracks["exp3dmm10"]
    assert np.allclose(a, b, atol=1e-5)


def test_refinement_follows_latent_and_hyperplanes(tmp_path, kit_portrait):
    k = 10
    w = np.random.default_rng(0).standard_normal((3, k)).astype(np.float32)
    hp_path = write_hyperplanes(tmp_path / "hp.npz", ("neutral", "happy", "sad"), w)
    normals = read_normals(hp_path)  # [8, k] over the vocabulary, unit rows, zeros elsewhere
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    assert np.allclose(normals[EMOTIONS.index("happy")], unit[1]) and not normals[EMOTIONS.index("contempt")].any()
    path, _ = tiny_checkpoint(tmp_path, hyper=normals)
    gen = A2E_SPEC.build({"checkpoint": str(path)})
    n, ctx = 30, RunContext(n_frames=30)
    plain = gen.generate(feats(n), state(n, "contempt"), kit_portrait, ctx)  # no hyperplane: α̂ = α̃
    happy = gen.generate(feats(n), state(n, "happy"), kit_portrait, ctx)
    tau = happy.tracks["tau"][:, None]
    assert plain.meta["w_z"] == "hyperplanes" and happy.meta["w_z"] == "hyperplanes"
    assert np.allclose(happy.tracks["exp3dmm10"] - plain.tracks["exp3dmm10"], tau * unit[1], atol=1e-5)
    # `hyperplanes:` overrides the checkpoint's normals (a file with happy and sad swapped)
    swapped = write_hyperplanes(tmp_path / "swapped.npz", ("neutral", "sad", "happy"), w)
    gen2 = A2E_SPEC.build({"checkpoint": str(path), "hyperplanes": str(swapped)})
    sad_dir = gen2.generate(feats(n), state(n, "sad"), kit_portrait, ctx)
    assert np.allclose(sad_dir.tracks["exp3dmm10"], happy.tracks["exp3dmm10"], atol=1e-5)
    # a controller's per-frame w_z in EmotionState.latent takes precedence and switches mid-utterance
    latent = np.zeros((n, k), np.float32)
    latent[:15], latent[15:] = 2 * unit[1], 2 * unit[2]
    out = gen.generate(feats(n), state(n, "happy", latent=latent), kit_portrait, ctx)
    assert out.meta["w_z"] == "emotion.latent"
    delta = out.tracks["exp3dmm10"] - plain.tracks["exp3dmm10"]
    assert np.allclose(delta[:15], 2 * tau[:15] * unit[1], atol=1e-5)
    assert np.allclose(delta[15:], 2 * tau[15:] * unit[2], atol=1e-5)
    with pytest.raises(WeightsNotFoundError, match="emohead-hyperplane"):
        read_normals(tmp_path / "missing.npz")


def test_errors(tmp_path, kit_portrait):
    ctx = RunContext(n_frames=10)
    with pytest.raises(WeightsNotFoundError, match="no checkpoint"):
        A2E_SPEC.build({}).generate(feats(10), state(10), kit_portrait, ctx)
    with pytest.raises(WeightsNotFoundError, match="nothere.safetensors"):
        A2E_SPEC.build({"checkpoint": str(tmp_path / "nothere.safetensors")}).generate(
            feats(10), state(10), kit_portrait, ctx)
    path, _ = tiny_checkpoint(tmp_path)
    gen = A2E_SPEC.build({"checkpoint": str(path)})
    with pytest.raises(PortError, match="features:visemes"):
        gen.generate({"features:hubert": feats(10)["features:hubert"]}, state(10), kit_portrait, ctx)
    bad = {**feats(10), "features:hubert": AudioFeatures(np.zeros((10, 7)), "hubert", 25.0)}
    with pytest.raises(ConfigError, match="width 7"):
        gen.generate(bad, state(10), kit_portrait, ctx)

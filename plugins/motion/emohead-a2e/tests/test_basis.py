import numpy as np
import pytest
from emoavatar.errors import WeightsNotFoundError
from emoavatar_emohead.basis import create_basis, load_basis, mouth_aspect_ratio, similarity
from emohead_synth import synth_landmarks


def _track(t=120, seed=0):
    rng = np.random.default_rng(seed)
    coef = np.c_[np.abs(np.sin(np.linspace(0, 12, t))), 0.5 * np.sin(np.linspace(0, 3, t)),
                 0.3 * np.cos(np.linspace(0, 7, t))]
    lm, pose = synth_landmarks(coef, rng)
    return lm, pose, coef


def test_similarity_recovers_transform():
    rng = np.random.default_rng(1)
    src = rng.standard_normal((20, 2))
    th, s, t = 0.3, 2.5, np.array([4.0, -1.0])
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    s2, th2, t2 = similarity(src, s * src @ rot.T + t)
    assert s2 == pytest.approx(s) and th2 == pytest.approx(th) and np.allclose(t2, t)


def test_landmark_pca_encode_decode_pose_and_modes():
    lm, pose, coef = _track()
    basis = create_basis("landmark-pca", k=10).fit(lm)
    code = basis.encode(lm)
    assert code.alpha.shape == (120, 10) and code.pose.shape == (120, 6)
    # pose: roll and translation follow the true head motion
    assert np.corrcoef(code.pose[:, 2], pose[:, 2])[0, 1] > 0.95
    assert np.corrcoef(code.pose[:, 3], pose[:, 3])[0, 1] > 0.95
    # α is whitened, and the leading components explain the three true expression modes
    assert np.allclose(code.alpha.std(0)[:3], 1, atol=0.05)
    r2 = [np.linalg.lstsq(np.c_[code.alpha[:, :3], np.ones(120)], c, rcond=None)[1][0] / ((c - c.mean()) ** 2).sum()
          for c in coef.T]
    assert max(r2) < 0.05, r2  # each true mode is (almost) a linear function of the top-3 α
    # decode(encode) reproduces the landmarks (the residual is the 3e-3 noise beyond k components)
    rec = basis.decode(code.alpha, code.pose)
    assert np.abs(rec - lm).mean() < 0.01 * 60
    # the mouth-opening component tracks MAR
    mar = mouth_aspect_ratio(lm)
    x = np.c_[code.alpha[:, :3], np.ones(120)]
    fit = x @ np.linalg.lstsq(x, mar, rcond=None)[0]
    assert np.corrcoef(fit, mar)[0, 1] > 0.9


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_landmark_pca_save_load_roundtrip(tmp_path, ext):
    lm, _, _ = _track(60)
    basis = create_basis("landmark-pca").fit(lm)
    path = basis.save(tmp_path / f"subject{ext}")
    assert path.with_suffix(".json").exists()
    again = load_basis(path)
    assert np.allclose(again.encode(lm[:5]).alpha, basis.encode(lm[:5]).alpha, atol=1e-5)
    assert np.allclose(load_basis(path.with_suffix(".json")).decode(np.ones((2, 10))),
                       basis.decode(np.ones((2, 10))), atol=1e-5)


def test_missing_basis_file(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="nope.npz"):
        load_basis(tmp_path / "nope.npz")


def test_3ddfa_missing_weights_names_file(tmp_path):
    basis = create_basis("3ddfa", weights=str(tmp_path / "mb1_120x120.pth"))
    with pytest.raises(WeightsNotFoundError, match="mb1_120x120.pth"):
        basis.encode(np.zeros((1, 68, 2)), np.zeros((1, 64, 64, 3), np.uint8))


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_3ddfa_loads_user_weights(tmp_path, fmt):
    import torch
    from emoavatar_emohead.tddfa import mobilenet_v1

    torch.manual_seed(0)
    net = mobilenet_v1(widen=0.125).eval()
    for m in net.modules():  # non-trivial BN statistics, so a wrong load would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    if fmt == "pth":
        path = tmp_path / "tiny.pth"
        torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, path)
    else:
        from safetensors.torch import save_file

        path = tmp_path / "tiny.safetensors"
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    stats = tmp_path / "stats.npz"
    np.savez(stats, mean=np.arange(62, dtype=np.float32), std=np.full(62, 2.0, np.float32))
    basis = create_basis("3ddfa", weights=str(path), param_stats=str(stats), widen=0.125)
    lm, _, _ = _track(3)
    frames = np.random.default_rng(0).integers(0, 255, (3, 256, 256, 3), dtype=np.uint8)
    code = basis.encode(lm, frames)
    assert code.alpha.shape == (3, 10) and code.pose.shape == (3, 6)
    with torch.no_grad():
        expected = net(torch.as_tensor(basis.crops(lm, frames))).numpy() * 2.0 + np.arange(62)
    assert np.allclose(code.alpha, expected[:, 52:62], atol=1e-4)
    # save/load keeps the options (weights stay at the user's path)
    again = load_basis(basis.save(tmp_path / "tddfa.npz"))
    assert np.allclose(again.encode(lm, frames).alpha, code.alpha, atol=1e-5)

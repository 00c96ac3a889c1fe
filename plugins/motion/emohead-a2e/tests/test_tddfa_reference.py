"""The ``3ddfa`` basis against 3DDFA_V2 itself.

``data/tddfa_*_120x120.json`` are key/shape manifests dumped from 3DDFA_V2's own MobileNet module
(with the published checkpoint's wrapping: ``{"epoch", "state_dict"}``, ``module.`` prefixes,
``fc_param.*`` / ``fc_lm.*`` heads). ``data/tddfa_reference_outputs.json`` holds what 3DDFA_V2's
``TDDFA`` class computed for the deterministic weights of :mod:`emoavatar.testing.checkpoints` on
the closed-form image, landmarks, face model and statistics built below (see its ``_about``).
"""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from emoavatar.errors import ConfigError, MediaError, WeightsNotFoundError
from emoavatar.testing.checkpoints import assert_matches_manifest, deterministic_state, deterministic_tensor, read_manifest
from emoavatar_emohead.basis import create_basis

DATA = Path(__file__).parent / "data"
REF = json.loads((DATA / "tddfa_reference_outputs.json").read_text())


def numpy_pickle(obj: dict, path: Path) -> Path:
    """Pickle arrays the way 3DDFA_V2's files are (protocol 3, globals under ``numpy.core``)."""
    raw = pickle.dumps(obj, protocol=3).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    path.write_bytes(raw)
    return path


def fake_bfm(n_vert: int = 500) -> dict:
    i = np.arange(3 * n_vert, dtype=np.float64)[:, None]
    kp = 7 * np.arange(68) + 3
    return {"u": (5e4 * np.sin(0.7 * i)).astype(np.float32),
            "w_shp": (1e3 * np.cos(0.3 * i + 1.1 * np.arange(40)[None])).astype(np.float32),
            "w_exp": (1e3 * np.sin(0.5 * i + 0.9 * np.arange(10)[None] + 0.3)).astype(np.float32),
            "keypoints": np.stack([3 * kp, 3 * kp + 1, 3 * kp + 2], 1).reshape(-1).astype(np.int64),
            "tri": ((np.arange(120).reshape(3, 40) * 11) % n_vert).astype(np.int32)}


def fake_image(h: int = 210, w: int = 190) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.stack([(3 * x + 5 * y + 70 * c + 40 * np.sin(x / 7) * np.cos(y / 9)) % 256 for c in range(3)],
                    -1).astype(np.uint8)


def fake_landmarks(cx: float = 60.0, cy: float = 95.0) -> np.ndarray:
    j = np.arange(68, dtype=np.float64)
    return np.stack([cx + 40 * np.cos(2 * np.pi * j / 68) + 5 * np.sin(j), cy + 50 * np.sin(2 * np.pi * j / 68)], 1)


def euler(pitch: float, yaw: float, roll: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = (f(a) for a in (pitch, yaw, roll) for f in (math.cos, math.sin))
    return (np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]]) @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
            @ np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]]))


def fake_stats(pose_std: float) -> dict:
    p = np.concatenate([1e-3 * euler(0.1, -0.2, 0.05), np.array([[60.0], [58.0], [3.0]])], 1).reshape(-1)
    return {"mean": np.concatenate([p, np.zeros(50)]).astype(np.float32),
            "std": np.concatenate([np.full(12, pose_std), np.full(40, 0.5), np.ones(10)]).astype(np.float32)}


def published_checkpoint(path: Path, tag: str = "mb1") -> Path:
    """Deterministic weights wrapped exactly like 3DDFA_V2's ``weights/<tag>_120x120.pth``."""
    import torch

    man = json.loads((DATA / f"tddfa_{tag}_120x120.json").read_text())
    rename = {v: k for k, v in man["published_rename"].items()}
    sd = {"module." + rename.get(k, k): v for k, v in deterministic_state(man["keys"]).items()}
    sd.update({"module." + k: deterministic_tensor(k, s) for k, s in man["published_extra"].items()})
    torch.save({"epoch": 1, "state_dict": sd}, path, _use_new_zipfile_serialization=False)  # the 2020 files are legacy
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tddfa")
    return {"weights": published_checkpoint(d / "mb1_120x120.pth"),
            "bfm": numpy_pickle(fake_bfm(), d / "bfm_noneck_v3.pkl"),
            "rigid": numpy_pickle(fake_stats(1e-7), d / "stats_rigid.pkl"),
            "free": numpy_pickle(fake_stats(1e-4), d / "stats_free.pkl")}


@pytest.mark.parametrize("tag, widen", [("mb1", 1.0), ("mb05", 0.5)])
def test_mobilenet_matches_reference_manifest(tag, widen):
    from emoavatar_emohead.tddfa import mobilenet_v1

    assert_matches_manifest(mobilenet_v1(widen), read_manifest(DATA / f"tddfa_{tag}_120x120.json"))


def test_published_mb05_layout_loads_with_its_width(tmp_path):
    from emoavatar_emohead.tddfa import load_regressor

    net = load_regressor(published_checkpoint(tmp_path / "mb05_120x120.pth", "mb05"))
    assert net.conv1.out_channels == 16 and net.fc.in_features == 512
    assert float(net.fc.weight[0, 0].detach()) == float(deterministic_tensor("fc.weight", (62, 512))[0, 0])  # fc_param -> fc


@pytest.mark.parametrize("case", ["rigid", "free"])
def test_published_layout_matches_3ddfa_v2_outputs(files, case):
    """Landmark crop policy: ROI, 62 parameters, calc_pose angles; in the rigid case (pose fixed by
    the statistics) also the reconstructed 68 landmarks of the mean shape, in image pixels."""
    from emoavatar_emohead.tddfa import reference_angles

    ref = REF[case]
    basis = create_basis("3ddfa", weights=str(files["weights"]), param_stats=str(files[case]), bfm=str(files["bfm"]))
    lm, img = fake_landmarks()[None], fake_image()[None]
    assert np.allclose(basis.rois(lm)[0], ref["roi_box"], atol=1e-9)
    params = basis.params(lm, img)[0]
    expected = np.array(ref["params"])
    scale = np.r_[np.tile([1e-3, 1e-3, 1e-3, 1.0], 3), np.ones(50)]  # magnitude of sR, t, α entries
    assert np.abs((params - expected) / scale).max() < 1e-3
    assert np.allclose(reference_angles(params[:12]), ref["pose_deg_yaw_pitch_roll"], atol=0.05)
    code = basis.encode(lm, img)
    assert np.allclose(code.alpha[0], expected[52:62], atol=2e-3)
    yaw, pitch, roll = np.radians(ref["pose_deg_yaw_pitch_roll"])
    assert np.allclose(code.pose[0, :3], [-pitch, -yaw, -roll], atol=1e-3)  # image frame: y down
    if case == "rigid":
        pts = basis.decode(code.alpha, code.pose)[0]
        assert np.abs(pts - np.array(ref["landmarks_noshape"])).max() < 0.05  # pixels
        assert np.allclose(code.pose[0, :3], [-0.1, -0.2, -0.05], atol=1e-3)  # the stats' R(0.1, -0.2, 0.05), y flipped


def test_box_policy_matches_3ddfa_v2(files):
    ref = REF["rigid"]
    from emoavatar_emohead.tddfa import roi_box_from_bbox

    assert np.allclose(roi_box_from_bbox(ref["box"]), ref["box_roi"], atol=1e-9)
    basis = create_basis("3ddfa", weights=str(files["weights"]), param_stats=str(files["rigid"]))
    code = basis.encode_boxes(np.array([ref["box"]]), fake_image()[None])
    assert np.allclose(code.alpha[0], np.array(ref["box_params"])[52:62], atol=2e-3)


def test_numpy_only_pickles(tmp_path, files):
    from emoavatar_emohead.tddfa_files import read_bfm_keypoints, read_param_stats

    mean, std = read_param_stats(files["free"])
    assert mean.shape == std.shape == (62,) and std[0] == pytest.approx(1e-4)
    kp = read_bfm_keypoints(files["bfm"])
    bfm = fake_bfm()
    assert np.array_equal(kp["u"], bfm["u"].ravel()[bfm["keypoints"]]) and kp["w_exp"].shape == (204, 10)

    class Evil:
        def __reduce__(self):
            import os

            return os.system, ("echo pwned",)

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"mean": Evil()}))
    with pytest.raises(ConfigError, match="refusing") as e:
        read_param_stats(tmp_path / "evil.pkl")
    assert "system" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(WeightsNotFoundError, match="param_mean_std_62d_120x120.pkl"):
        read_param_stats(tmp_path / "param_mean_std_62d_120x120.pkl")


def test_other_checkpoint_is_one_line_error(tmp_path):
    import torch

    torch.save({"state_dict": {"module.features.0.weight": torch.zeros(3)}}, tmp_path / "other.pth")
    basis = create_basis("3ddfa", weights=str(tmp_path / "other.pth"))
    with pytest.raises(WeightsNotFoundError, match="not a 3DDFA_V2 MobileNet checkpoint"):
        basis.encode(fake_landmarks()[None], fake_image()[None])
    with pytest.raises(WeightsNotFoundError, match="bfm"):
        create_basis("3ddfa").decode(np.zeros((1, 10)))
    from emoavatar_emohead.tddfa import crop_roi

    with pytest.raises(MediaError, match="empty face region"):
        crop_roi(fake_image(), (10.2, 10.0, 10.4, 10.0), 120)

"""`emoavatar train emohead-hyperplane` on clips written in the documented preprocessed-clip format."""

import json
from importlib import metadata

import numpy as np
import pytest
from emoavatar.errors import ConfigError
from emoavatar_emohead_hyperplane import train_hyperplane
from emoavatar_emohead_hyperplane.clips import is_clip_file, load_clip
from emoavatar_emohead_hyperplane.hyperplane import Hyperplanes

SMILE = {"neutral": 0.0, "happy": 0.8, "sad": -0.5}


def write_clips(root, identities=("A", "B", "C"), sentences=2, t=40, seed=0):
    """Clips as `emohead-preprocess` writes them (alpha, mar, meta JSON); each emotion shifts α1."""
    rng = np.random.default_rng(seed)
    paths = []
    for s in range(sentences):
        for ident in identities:
            for emo, smile in SMILE.items():
                alpha = 0.5 * rng.standard_normal((t, 10)).astype(np.float32)
                alpha[:, 1] += smile
                mar = np.clip(alpha[:, 0] + 1.5, 0, None).astype(np.float32) / 5
                meta = {"emotion": emo, "identity": ident, "sentence": f"{s:03d}", "basis": "landmark-pca"}
                path = root / ident / f"{emo}_1_{s:03d}.npz"
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez_compressed(path, meta=np.array(json.dumps(meta)), alpha=alpha, mar=mar,
                                    landmarks=np.zeros((t, 68, 2), np.float32))
                paths.append(path)
    return paths


def test_trainer_is_registered():
    eps = {ep.name: ep.value for ep in metadata.entry_points(group="emoavatar.trainers")}
    assert eps["emohead-hyperplane"] == "emoavatar_emohead_hyperplane.spec:HYPERPLANE_TRAINER"
    from emoavatar.registry import get_registry

    trainer = get_registry().spec("trainers", "emohead-hyperplane")
    assert trainer.target == "emoavatar_emohead_hyperplane.train_hyperplane:main"
    assert trainer.load_class().__name__ == "main"


def test_clip_reader(tmp_path):
    path = write_clips(tmp_path, identities=("A",), sentences=1, t=5)[0]
    arrays, meta = load_clip(path)
    assert arrays["alpha"].shape == (5, 10) and meta["emotion"] == "neutral" and "meta" not in arrays
    Hyperplanes(("neutral", "happy"), np.ones((2, 10), np.float32), np.zeros(2, np.float32)).save(tmp_path / "hp.npz")
    assert is_clip_file(path) and not is_clip_file(tmp_path / "hp.npz")  # a sidecar marks a non-clip


def test_train_hyperplane_cli(tmp_path, capsys):
    write_clips(tmp_path / "clips")
    assert train_hyperplane.main(["--data", str(tmp_path / "clips"), "--out", str(tmp_path / "hp.npz")]) == 0
    hp = Hyperplanes.load(tmp_path / "hp.npz")
    assert hp.emotions == ("neutral", "happy", "sad") and hp.basis == "landmark-pca"
    assert hp.unit[1, 1] > 0.5 and hp.unit[2, 1] < -0.5  # happy along +α1, sad along -α1
    assert "one-vs-rest accuracy" in capsys.readouterr().out
    # hyperplanes (or a basis) saved inside the data folder are not taken for clips on a re-run
    assert train_hyperplane.main(["--data", str(tmp_path / "clips"), "--out", str(tmp_path / "clips" / "hp.npz")]) == 0
    assert train_hyperplane.main(["--data", str(tmp_path / "clips"), "--out", str(tmp_path / "clips" / "hp.npz")]) == 0
    with pytest.raises(ConfigError, match="no preprocessed clips"):
        train_hyperplane.main(["--data", str(tmp_path / "empty"), "--out", str(tmp_path / "x.npz")])

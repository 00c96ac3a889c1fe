"""CSIM with dlib embeddings (real face model) and the ArcFace loading path (tiny random model)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from emoavatar.errors import WeightsNotFoundError
from emoavatar.interfaces import EvalSample, RunContext
from emoavatar.media import write_image
from emoavatar.registry import get_registry
from emoavatar.testing.contracts import check_metric
from emoavatar_metrics.identity import ArcFaceEmbedder, align_112


def other_face(img: np.ndarray) -> np.ndarray:
    """A different-looking face from the same photo: mirrored, narrowed and elongated."""
    import cv2

    h, w = img.shape[:2]
    tall = cv2.resize(img[:, ::-1], (int(w * 0.75), int(h * 1.2)))
    y0 = (tall.shape[0] - h) // 2
    canvas = np.full_like(img, 200)
    canvas[:, : tall.shape[1]] = tall[y0:y0 + h]
    return canvas


@pytest.mark.slow
def test_csim_portrait_vs_other_face(media, tmp_path, shared_cache):
    reg, ctx = get_registry(), RunContext()
    metric = reg.create("metrics", "csim", {"every": 10})
    same = check_metric(metric, EvalSample(video=media["video"], portrait=media["portrait_path"],
                                           cache=shared_cache), ctx)
    other_path = tmp_path / "other.png"
    write_image(other_path, other_face(media["portrait"].image))
    other = metric.evaluate(EvalSample(video=media["video"], portrait=other_path, cache=shared_cache), ctx)
    assert same.values["csim"] > 0.95 and same.values["id_dist"] < 0.3 and same.values["id_match"] == 1.0
    assert other.values["id_dist"] > same.values["id_dist"] + 0.15
    assert other.values["csim"] < same.values["csim"]
    assert len(same.series["csim"]) == 10


def test_arcface_torchscript_loading(tmp_path, kit_portrait):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 8, 8), torch.nn.Flatten(), torch.nn.Linear(4 * 14 * 14, 16))
    path = tmp_path / "arcface_tiny.pt2"
    batch = {0: torch.export.Dim("batch", min=1, max=64)}
    torch.export.save(torch.export.export(net.eval(), (torch.zeros(2, 3, 112, 112),), dynamic_shapes=(batch,)),
                      str(path))
    crop = align_112(kit_portrait.image, kit_portrait.face.landmarks)
    assert crop.shape == (112, 112, 3)
    embedder = ArcFaceEmbedder(str(path))
    emb = embedder(np.stack([crop, crop[:, ::-1], crop]))
    assert emb.shape == (3, 16) and not np.allclose(emb[0], emb[1]) and np.allclose(emb[0], emb[2])
    assert embedder(crop[None]).shape == (1, 16)
    with pytest.raises(WeightsNotFoundError, match="not found"):
        ArcFaceEmbedder(str(tmp_path / "nope.onnx"))
    with pytest.raises(WeightsNotFoundError, match="needs `weights`"):
        ArcFaceEmbedder(None)


@pytest.mark.slow
def test_csim_arcface_metric(media, tmp_path, shared_cache):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 8, 8), torch.nn.Flatten(), torch.nn.Linear(4 * 14 * 14, 16))
    path = tmp_path / "arcface_tiny.pt"  # TorchScript
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.trace(net.eval(), torch.zeros(1, 3, 112, 112)).save(str(path))
    metric = get_registry().create("metrics", "csim", {"model": "arcface", "weights": str(path), "every": 20})
    sample = EvalSample(video=media["video"], portrait=media["portrait_path"], cache=shared_cache)
    res = check_metric(metric, sample, RunContext())
    # same face, nearly the same pixels; a tiny random net is sensitive to sub-pixel crop shifts (0.90 here)
    assert 0.8 < res.values["csim"] <= 1.0 + 1e-6

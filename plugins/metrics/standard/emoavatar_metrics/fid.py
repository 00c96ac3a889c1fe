"""FID (Heusel et al. 2017, EmoHead ref. [29]) between the generated and the reference frames:

    FID = |mu_g - mu_r|^2 + Tr(S_g + S_r - 2 (S_g S_r)^(1/2))

over Inception-v3 pool features (2048-d) of the frames, per video (``fid``) and, through
:meth:`FIDMetric.summarize`, over the frames of all videos of an evaluation (``fid_pooled``).
Tr((S_g S_r)^(1/2)) is computed as the sum of square roots of the eigenvalues of
S_g^(1/2) S_r S_g^(1/2), which is symmetric positive semi-definite, so rank-deficient covariances
(fewer frames than 2048) and tiny negative round-off eigenvalues need no special casing.
"""

from __future__ import annotations

import numpy as np
from emoavatar.errors import MediaError
from emoavatar.interfaces import EvalSample, Metric, RunContext
from emoavatar.types import MetricResult

from . import common


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Squared Fréchet distance between N(mu1, s1) and N(mu2, s2)."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(s1).astype(np.float64), np.atleast_2d(s2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"shape mismatch: mu {mu1.shape}/{mu2.shape}, sigma {s1.shape}/{s2.shape}")
    r1 = _psd_sqrt(s1)
    m = r1 @ s2 @ r1
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    d = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)
    return max(d, 0.0)


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (N-1)-normalised covariance of ``[N, D]`` features."""
    features = np.asarray(features, np.float64)
    if len(features) < 2:
        raise MediaError("FID needs at least 2 frames on each side")
    return features.mean(0), np.cov(features, rowvar=False)


def fid_from_features(gen: np.ndarray, ref: np.ndarray) -> float:
    return frechet_distance(*feature_stats(gen), *feature_stats(ref))


def extract_features(model, frames: np.ndarray, batch_size: int = 16, device: str = "cpu") -> np.ndarray:
    """uint8 ``[N, H, W, 3]`` -> ``[N, D]`` with any torch module mapping ``[B, 3, H, W]`` floats in
    0-255 to ``[B, D]``."""
    import torch

    out = []
    with torch.inference_mode():
        for s in range(0, len(frames), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(frames[s:s + batch_size])).to(device)
            out.append(model(x.permute(0, 3, 1, 2).float()).reshape(len(x), -1).double().cpu().numpy())
    return np.concatenate(out)


class FIDMetric(Metric):
    requires = frozenset({"reference"})

    def __init__(self, config=None) -> None:
        super().__init__(config)
        self._model = None
        self._pooled: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])

    @property
    def model(self):
        if self._model is None:
            from .inception import load_inception

            self._model = load_inception(self.config.weights, device=self.config.device)
        return self._model

    def _frames(self, sample: EvalSample, ctx: RunContext, which: str) -> np.ndarray:
        imgs = common.frames(sample, which)[:: self.config.every]
        if not self.config.face_crop:
            return imgs
        import cv2

        found = common.faces(sample, ctx, which)[:: self.config.every]
        crops = []
        for img, f in zip(imgs, found):
            if f is not None:
                x0, y0, x1, y1 = common.crop_box(f.box, 0.2, img.shape[1], img.shape[0])
                crops.append(cv2.resize(img[y0:y1, x0:x1], (299, 299), interpolation=cv2.INTER_AREA))
        return np.stack(crops) if crops else np.zeros((0, 299, 299, 3), np.uint8)

    def evaluate(self, sample: EvalSample, ctx: RunContext) -> MetricResult:
        cfg = self.config
        model = self.model
        gen = extract_features(model, self._frames(sample, ctx, "video"), cfg.batch_size, cfg.device)
        ref = extract_features(model, self._frames(sample, ctx, "reference"), cfg.batch_size, cfg.device)
        notes = [(f"FID of {len(gen)} generated vs {len(ref)} reference frames of this video; "
                  "few frames bias FID upwards, compare videos of similar length")]
        self._pooled[0].append(gen)
        self._pooled[1].append(ref)
        return MetricResult({"fid": fid_from_features(gen, ref)}, {}, notes)

    def summarize(self) -> MetricResult | None:
        """FID over the frames of all videos evaluated so far, pooled (how papers report FID over
        a test set); None for fewer than two videos."""
        gen, ref = self._pooled
        if len(gen) < 2:
            return None
        g, r = np.concatenate(gen), np.concatenate(ref)
        return MetricResult({"fid_pooled": fid_from_features(g, r)}, {},
                            [f"pooled over {len(gen)} videos: {len(g)} generated vs {len(r)} reference frames"])

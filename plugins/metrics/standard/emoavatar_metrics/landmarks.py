"""Landmark-distance metrics: M-LMD / F-LMD (Chen et al., CVPR 2019 [EmoHead ref. 32]) and jitter.

LMD: for each frame, the mean Euclidean distance between corresponding generated and reference
landmarks (mouth 48-67 for M-LMD, all 68 for F-LMD), averaged over frames. Normalisation
(named in the output column):

- ``px256`` (default): every video's landmarks are first rescaled to a 256x256 frame
  (x * 256 / W, y * 256 / H), so the number is in pixels at 256-px resolution, as the common
  evaluation scripts report it;
- ``iod``: distances are divided by the reference frame's inter-ocular distance.
"""

from __future__ import annotations

import numpy as np
from emoavatar.interfaces import EvalSample, Metric, RunContext
from emoavatar.types import MOUTH, MetricResult

from . import common

#: Points that move little with expression: eye corners, nose bridge and base.
RIGID = np.array([36, 39, 42, 45, 27, 28, 29, 30, 31, 33, 35])


def landmark_distance(gen: np.ndarray, ref: np.ndarray, points: slice | np.ndarray = slice(None)) -> np.ndarray:
    """Per-frame mean point distance ``[T]`` between ``[T, 68, 2]`` landmark tracks."""
    return np.linalg.norm(gen[:, points] - ref[:, points], axis=-1).mean(-1)


def to_px256(lm: np.ndarray, width: int, height: int) -> np.ndarray:
    return lm * np.array([256.0 / width, 256.0 / height])


class LMDMetric(Metric):
    """M-LMD and F-LMD (lower is better)."""

    requires = frozenset({"reference"})

    def evaluate(self, sample: EvalSample, ctx: RunContext) -> MetricResult:
        common.check_same_rate(sample)
        gen = common.landmarks(sample, ctx, "video")
        ref = common.landmarks(sample, ctx, "reference")
        gen, ref, notes = common.paired(gen, ref, "landmarks")
        norm = self.config.normalize
        if norm == "px256":
            gh, gw = common.frames(sample, "video").shape[1:3]
            rh, rw = common.frames(sample, "reference").shape[1:3]
            gen, ref = to_px256(gen, gw, gh), to_px256(ref, rw, rh)
            scale = np.ones(len(ref))
            notes.append("landmarks rescaled to a 256x256 frame; LMD in pixels at 256 px")
        else:
            scale = common.inter_ocular(ref)
            notes.append("LMD divided by the reference's inter-ocular distance")
        m = landmark_distance(gen, ref, MOUTH) / scale
        f = landmark_distance(gen, ref) / scale
        notes += common.missing_note(sample, "video") + common.missing_note(sample, "reference")
        return MetricResult({f"m_lmd_{norm}": float(m.mean()), f"f_lmd_{norm}": float(f.mean())},
                            {f"m_lmd_{norm}": m, f"f_lmd_{norm}": f}, notes)


def acceleration(lm: np.ndarray, points: slice | np.ndarray = slice(None)) -> np.ndarray:
    """Per-frame mean |L[t+1] - 2 L[t] + L[t-1]| over points, ``[T-2]`` (pixels / frame^2)."""
    if len(lm) < 3:
        return np.zeros(0)
    d2 = lm[2:, points] - 2 * lm[1:-1, points] + lm[:-2, points]
    return np.linalg.norm(d2, axis=-1).mean(-1)


def jitter(lm: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(all-point jitter, rigid-point jitter, per-frame series) in face units (median inter-ocular
    distance) per frame^2."""
    iod = float(np.median(common.inter_ocular(lm)))
    acc = acceleration(lm) / iod
    rigid = acceleration(lm, RIGID) / iod
    if not len(acc):
        return float("nan"), float("nan"), acc
    return float(acc.mean()), float(rigid.mean()), acc


class JitterMetric(Metric):
    """Landmark temporal acceleration: the frame-to-frame flicker of a generated face (lower is
    steadier). Reported for the reference too when one is given, for comparison."""

    def evaluate(self, sample: EvalSample, ctx: RunContext) -> MetricResult:
        lm = common.landmarks(sample, ctx, "video")
        notes = common.missing_note(sample, "video")
        if len(lm) < 3:
            notes.append("fewer than 3 frames: jitter undefined")
        j, jr, series = jitter(lm)
        values = {"jitter": j, "jitter_rigid": jr}
        out_series = {"jitter": series}
        if sample.reference is not None:
            rj, rjr, rseries = jitter(common.landmarks(sample, ctx, "reference"))
            values.update(jitter_ref=rj, jitter_rigid_ref=rjr)
            out_series["jitter_ref"] = rseries
        notes.append("units: inter-ocular distances per frame^2 (mean |second difference| of landmarks)")
        return MetricResult(values, out_series, notes)

"""Landmark-based action-unit proxies, AUE and blink rate.

Landmarks are put in a face frame first: origin at the midpoint of the eye centres, rotated so
the eyes are level, divided by the inter-ocular distance (IOD). Each AU proxy is a signed
change against a neutral baseline (the portrait, or the first frame), clipped at 0:

====== ============================================================ ===========================
AU     proxy (change vs baseline)                                    unit
====== ============================================================ ===========================
AU1    inner brow (20, 21, 22, 23) rises above the eye centres        IOD
AU2    outer brow (17, 18, 25, 26) rises                              IOD
AU4    brows lower + inner brows (21, 22) move together               IOD
AU6    lower eyelids (40, 41, 46, 47) rise towards the eye corners    IOD
AU12   lip corners (48, 54) rise towards the nose tip (33) + half     IOD
       the mouth widening
AU15   lip corners drop away from the nose tip                        IOD
AU26   chin (8) drops away from the nose tip                          IOD
AU45   eye closure 1 - EAR / EAR_baseline                             fraction in [0, 1]
====== ============================================================ ===========================

These are geometric proxies, not OpenFace intensities (0-5) as EmoHead's AUE [ref. 30] uses:
compare numbers from this plugin with each other, not with the papers' tables.
EAR = (|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|) per eye (Soukupova & Cech 2016), averaged.
"""

from __future__ import annotations

import numpy as np
from emoavatar.interfaces import EvalSample, Metric, RunContext
from emoavatar.types import LEFT_EYE, RIGHT_EYE, MetricResult

from . import common

AU_NAMES = ("AU1", "AU2", "AU4", "AU6", "AU12", "AU15", "AU26", "AU45")


def face_frame(lm: np.ndarray) -> np.ndarray:
    """``[T, 68, 2]`` -> landmarks in IOD units, eye midpoint at the origin, eyes level (y down)."""
    lm = np.asarray(lm, np.float64)
    r, left = lm[:, RIGHT_EYE].mean(1), lm[:, LEFT_EYE].mean(1)
    d = left - r
    iod = np.linalg.norm(d, axis=-1)
    ang = np.arctan2(d[:, 1], d[:, 0])
    c, s = np.cos(-ang), np.sin(-ang)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # [T, 2, 2]
    centred = lm - ((r + left) / 2)[:, None]
    return np.einsum("tij,tpj->tpi", rot, centred) / iod[:, None, None]


def eye_aspect_ratio(lm: np.ndarray) -> np.ndarray:
    """``[T]`` mean EAR of both eyes."""
    def one(e: np.ndarray) -> np.ndarray:
        v = np.linalg.norm(e[:, 1] - e[:, 5], axis=-1) + np.linalg.norm(e[:, 2] - e[:, 4], axis=-1)
        return v / (2 * np.linalg.norm(e[:, 0] - e[:, 3], axis=-1))
    return (one(lm[:, RIGHT_EYE]) + one(lm[:, LEFT_EYE])) / 2


def _features(lm: np.ndarray) -> dict[str, np.ndarray]:
    f = face_frame(lm)
    y = f[..., 1]
    eye_y = (f[:, RIGHT_EYE, 1].mean(1) + f[:, LEFT_EYE, 1].mean(1)) / 2
    corners_y = y[:, [36, 39, 42, 45]].mean(1)
    return {
        "inner_brow": eye_y - y[:, [20, 21, 22, 23]].mean(1),
        "outer_brow": eye_y - y[:, [17, 18, 25, 26]].mean(1),
        "brow_gap": np.abs(f[:, 22, 0] - f[:, 21, 0]),
        "lower_lid": y[:, [40, 41, 46, 47]].mean(1) - corners_y,
        "corner_drop": y[:, [48, 54]].mean(1) - y[:, 33],
        "mouth_width": np.linalg.norm(f[:, 54] - f[:, 48], axis=-1),
        "jaw": y[:, 8] - y[:, 33],
        "ear": eye_aspect_ratio(lm),
    }


def _pos(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def au_tracks(lm: np.ndarray, baseline: np.ndarray) -> dict[str, np.ndarray]:
    """AU proxy intensities ``{AU: [T]}`` of ``lm [T, 68, 2]`` against a neutral ``baseline [68, 2]``."""
    f = _features(lm)
    b = {k: float(v[0]) for k, v in _features(np.asarray(baseline)[None]).items()}
    brow = (f["inner_brow"] + f["outer_brow"]) / 2
    brow0 = (b["inner_brow"] + b["outer_brow"]) / 2
    return {
        "AU1": _pos(f["inner_brow"] - b["inner_brow"]),
        "AU2": _pos(f["outer_brow"] - b["outer_brow"]),
        "AU4": _pos(brow0 - brow) + _pos(b["brow_gap"] - f["brow_gap"]),
        "AU6": _pos(b["lower_lid"] - f["lower_lid"]),
        "AU12": _pos(b["corner_drop"] - f["corner_drop"]) + 0.5 * _pos(f["mouth_width"] - b["mouth_width"]),
        "AU15": _pos(f["corner_drop"] - b["corner_drop"]),
        "AU26": _pos(f["jaw"] - b["jaw"]),
        "AU45": np.clip(1.0 - f["ear"] / b["ear"], 0.0, 1.0),
    }


def _baseline(sample: EvalSample, ctx: RunContext, lm: np.ndarray, mode: str) -> tuple[np.ndarray, str]:
    if mode == "portrait" or (mode == "auto" and sample.portrait is not None):
        return common.portrait_face(sample, ctx).landmarks, "portrait"
    return lm[0], "first frame"


class AUMetric(Metric):
    """Mean AU proxy intensity per AU; ``aue`` = mean |AU_gen - AU_ref| over frames and AUs."""

    def evaluate(self, sample: EvalSample, ctx: RunContext) -> MetricResult:
        lm = common.landmarks(sample, ctx, "video")
        base, where = _baseline(sample, ctx, lm, self.config.baseline)
        tracks = au_tracks(lm, base)
        values = {k: float(v.mean()) for k, v in tracks.items()}
        notes = [f"AU proxies in inter-ocular units vs the {where} (AU45 in [0, 1])"]
        notes += common.missing_note(sample, "video")
        series = dict(tracks)
        if sample.reference is not None:
            common.check_same_rate(sample)
            ref = common.landmarks(sample, ctx, "reference")
            ref_base = base if where == "portrait" else ref[0]
            ref_tracks = au_tracks(ref, ref_base)
            errs = []
            for k in AU_NAMES:
                g, r, _ = common.paired(tracks[k], ref_tracks[k], k)
                errs.append(np.abs(g - r))
                series[f"{k}_ref"] = ref_tracks[k]
            err = np.mean(errs, axis=0)
            values["aue"] = float(err.mean())
            series["aue"] = err
            if len(tracks["AU1"]) != len(ref_tracks["AU1"]):
                notes.append(f"AUE over the first {len(err)} frames (lengths differ)")
        return MetricResult(values, series, notes)


def count_blinks(ear: np.ndarray, close_ratio: float = 0.7, open_ratio: float = 0.85,
                 min_closed_frames: int = 1) -> tuple[int, float]:
    """Blinks in an EAR track with hysteresis: closed below ``close_ratio * open_level``, open
    again above ``open_ratio * open_level``; ``open_level`` = the median EAR. Returns (count, open_level)."""
    ear = np.asarray(ear, np.float64)
    level = float(np.median(ear))
    lo, hi = close_ratio * level, max(open_ratio, close_ratio) * level
    count, closed_run, closed = 0, 0, False
    for v in ear:
        if not closed and v < lo:
            closed, closed_run = True, 0
        if closed:
            if v > hi:
                closed = False
                continue
            closed_run += 1
            if closed_run == min_closed_frames:
                count += 1
    return count, level


class BlinkRateMetric(Metric):
    """Blinks per minute (people blink ~15-20 / min when talking; 0 looks like a stare)."""

    def evaluate(self, sample: EvalSample, ctx: RunContext) -> MetricResult:
        cfg = self.config
        rate = common.fps(sample)
        values, series = {}, {}
        for which, suffix in (("video", ""), ("reference", "_ref")):
            if which == "reference" and sample.reference is None:
                continue
            ear = eye_aspect_ratio(common.landmarks(sample, ctx, which))
            n, _ = count_blinks(ear, cfg.close_ratio, cfg.open_ratio, cfg.min_closed_frames)
            minutes = len(ear) / rate / 60.0
            values[f"blinks{suffix}"] = float(n)
            values[f"blink_rate{suffix}"] = n / minutes
            series[f"ear{suffix}"] = ear
        notes = [f"a blink: EAR below {cfg.close_ratio} x median EAR, reopening above {cfg.open_ratio} x"]
        return MetricResult(values, series, notes + common.missing_note(sample, "video"))

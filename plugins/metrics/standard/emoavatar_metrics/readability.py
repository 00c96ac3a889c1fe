"""Issue 11's readability measurement of one rendered video, shared by the readability test
(``tests/test_emotion_readability.py``) and ``benchmarks/readability_search.py --video``.

- ``p``: the mean class probabilities of ``emotion-acc`` (its offline classifier) over the frames it reads;
- ``r``: Pearson correlation of the dlib inner-lip gap (landmarks 62-66, in inter-ocular distances)
  with the speech's per-frame RMS (25 fps, smoothed over 3 frames);
- ``missing``: frames without a face;
- ``identity``: the largest face-embedding distance to the portrait, at a third and two thirds of the video.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from emoavatar.emotions import EMOTIONS, parse_emotion
from emoavatar.interfaces import EvalSample, Metric, RunContext

from . import common

FPS = 25


def speech_energy(speech: Path, n: int) -> np.ndarray:
    """``[n]`` per video frame RMS of ``speech`` at 16 kHz, smoothed over 3 frames."""
    from emoavatar.media import decode_audio

    x = decode_audio(speech, 16000)
    hop = 16000 // FPS
    rms = np.array([np.sqrt(np.mean(x[i * hop:(i + 1) * hop] ** 2)) if i * hop < len(x) else 0.0 for i in range(n)])
    return np.convolve(rms, np.ones(3) / 3, mode="same")


def read_video(video: Path, emotion: str, speech: Path, analyzer, metric: Metric, portrait_embedding: np.ndarray) -> dict:
    """``{"p", "r", "missing", "identity"}`` of ``video`` rendered from ``speech`` for ``emotion``."""
    ctx, sample = RunContext(face=analyzer), EvalSample(video=video, emotion=parse_emotion(emotion))
    res = metric.evaluate(sample, ctx)
    found = common.faces(sample, ctx)
    lm = common.landmarks(sample, ctx)
    mouth = np.linalg.norm(lm[:, 66] - lm[:, 62], axis=1) / common.inter_ocular(lm)
    frames = common.frames(sample, "video")
    dists = [float(np.linalg.norm(analyzer.embed(frames[i], found[i]) - portrait_embedding))
             for i in (len(frames) // 3, 2 * len(frames) // 3) if found[i] is not None]
    return {"p": {e: float(np.mean(res.series[f"p_{e}"])) for e in EMOTIONS},
            "r": float(np.corrcoef(mouth, speech_energy(speech, len(mouth)))[0, 1]),
            "missing": sum(f is None for f in found),
            "identity": max(dists, default=float("nan"))}

"""AU proxies, AUE and blink counting on synthetic landmark tracks."""

from __future__ import annotations

import numpy as np
import pytest
from emoavatar.types import LEFT_EYE, RIGHT_EYE
from emoavatar_metrics.au import AU_NAMES, au_tracks, count_blinks, eye_aspect_ratio


@pytest.fixture
def neutral(kit_portrait):
    return kit_portrait.face.landmarks.astype(np.float64)


def close_eyes(lm: np.ndarray, amount: float) -> np.ndarray:
    """Move each upper lid point and the lower one below it together (1 = shut)."""
    out = lm.copy()
    for eye in (RIGHT_EYE, LEFT_EYE):
        pts = out[eye]
        for a, b in ((1, 5), (2, 4)):  # upper / lower lid pairs
            mid = (pts[a] + pts[b]) / 2
            pts[a], pts[b] = mid + (pts[a] - mid) * (1 - amount), mid + (pts[b] - mid) * (1 - amount)
        out[eye] = pts
    return out


def blink_track(neutral: np.ndarray, n: int, blinks: list[int], fps: float = 25.0) -> np.ndarray:
    """``n`` frames with blinks starting at the given frames (close over 2, open over 3 frames),
    plus small landmark noise."""
    closure = np.zeros(n)
    for b in blinks:
        for i, a in enumerate((0.5, 1.0, 0.9, 0.6, 0.3)):
            if b + i < n:
                closure[b + i] = max(closure[b + i], a)
    rng = np.random.default_rng(0)
    return np.stack([close_eyes(neutral, c) + rng.normal(0, 0.15, neutral.shape) for c in closure])


@pytest.mark.parametrize("blinks", [[], [10], [10, 40, 90, 140, 200, 230]])
def test_blink_count_is_exact(neutral, blinks):
    track = blink_track(neutral, 250, blinks)
    n, level = count_blinks(eye_aspect_ratio(track))
    assert n == len(blinks) and level > 0.1


def test_blinks_need_reopening(neutral):
    # one long closure with a dip that never reopens past the upper threshold counts once
    closure = np.r_[np.zeros(20), np.full(5, 1.0), np.full(3, 0.5), np.full(5, 1.0), np.zeros(20)]
    track = np.stack([close_eyes(neutral, c) for c in closure])
    assert count_blinks(eye_aspect_ratio(track))[0] == 1


def test_au_proxies_respond_to_their_movement(neutral):
    iod = np.linalg.norm(neutral[LEFT_EYE].mean(0) - neutral[RIGHT_EYE].mean(0))
    still = au_tracks(neutral[None], neutral)
    assert all(still[k][0] == pytest.approx(0, abs=1e-9) for k in AU_NAMES)
    brows = neutral.copy()
    brows[17:27, 1] -= 0.1 * iod  # brows up by 0.1 IOD
    t = au_tracks(brows[None], neutral)
    assert t["AU1"][0] == pytest.approx(0.1, abs=3e-3) and t["AU2"][0] == pytest.approx(0.1, abs=3e-3)
    assert t["AU4"][0] == 0
    jaw = neutral.copy()
    jaw[5:12, 1] += 0.2 * iod
    jaw[55:60, 1] += 0.2 * iod
    assert au_tracks(jaw[None], neutral)["AU26"][0] == pytest.approx(0.2, abs=3e-3)
    smile = neutral.copy()
    smile[[48, 54], 1] -= 0.05 * iod
    t = au_tracks(smile[None], neutral)
    assert t["AU12"][0] > 0.04 and t["AU15"][0] == 0
    assert au_tracks(close_eyes(neutral, 1.0)[None], neutral)["AU45"][0] == pytest.approx(1.0)
    # invariant to where the face is and how large it is
    moved = neutral * 1.5 + [30, -10]
    t = au_tracks((brows * 1.5 + [30, -10])[None], moved)
    assert t["AU1"][0] == pytest.approx(0.1, abs=3e-3)

"""The renderer's fast paths give the frames of the plain ones, pixel for pixel (issue 11's speed work):
closed-form triangle affines instead of a batched linear solve; colours sampled over a polygon's box
instead of a whole-image mask."""

from __future__ import annotations

import json
from pathlib import Path

import emoavatar
import numpy as np
from emoavatar.interfaces import RunContext
from emoavatar.media import read_image
from emoavatar.types import Face, Motion, Portrait
from emoavatar_warp2d import renderer as renderer_mod
from emoavatar_warp2d import warp as warp_mod
from emoavatar_warp2d.renderer import Warp2DRenderer

DATA = Path(emoavatar.__file__).parent / "testing" / "data"


def solved_affines(src, dst, tris):
    """The plain path: ``A [q_i; 1] = p_i`` solved as a batch of 3x3 systems."""
    q, p = dst[tris], src[tris]
    qh = np.concatenate([q, np.ones(q.shape[:2] + (1,))], axis=2)
    e1, e2 = q[:, 1] - q[:, 0], q[:, 2] - q[:, 0]
    ok = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) > 1e-6
    qh[~ok] = np.eye(3)
    return np.transpose(np.linalg.solve(qh, p), (0, 2, 1)), ok


def test_closed_form_affines_match_a_linear_solve():
    rng = np.random.default_rng(3)
    src = rng.uniform(0, 512, (80, 2))
    dst = src + rng.normal(0, 4, src.shape)
    dst[5] = dst[6]  # a degenerate (zero-area) target triangle below
    tris = np.array([8 + rng.choice(72, 3, replace=False) for _ in range(200)] + [[5, 6, 7]])
    fast, ok = warp_mod.triangle_affines(src, dst, tris)
    slow, ok_slow = solved_affines(src, dst, tris)
    assert np.array_equal(ok, ok_slow) and not ok[-1] and ok[:-1].all()
    assert np.abs(fast[ok] - slow[ok]).max() < 1e-9
    qh = np.concatenate([dst[tris], np.ones((len(tris), 3, 1))], axis=2)
    assert np.abs(np.einsum("kij,kmj->kmi", fast, qh) - src[tris])[ok].max() < 1e-9  # corners land exactly


def test_fast_paths_render_the_plain_paths_frames(monkeypatch):
    image = read_image(DATA / "portrait_256.png")
    d = json.loads((DATA / "portrait_256.face.json").read_text())
    portrait = Portrait(image, Face(tuple(d["box"]), np.asarray(d["landmarks"], np.float32), d["score"]))
    lm = portrait.face.landmarks.astype(np.float64)
    t = np.linspace(0, 1, 8)[:, None, None]
    seq = lm[None] + 0.0 * t
    seq[:, [55, 56, 57, 58, 59, 65, 66, 67, *range(5, 12)], 1] += 9 * t[:, :, 0]  # the jaw opens
    seq[:, 17:27, 1] -= 4 * t[:, :, 0]  # brows rise
    seq += np.concatenate([2 * t, -1.5 * t], axis=2)  # the head moves
    motion = Motion("landmarks68", {"landmarks68": seq.astype(np.float32), "blink": np.linspace(0, 0.9, 8)}, 25.0)
    ctx = RunContext(fps=25.0)

    def render() -> np.ndarray:
        r = Warp2DRenderer()
        r.prepare(portrait, ctx)
        return r.render(motion, ctx)

    fast = render()
    monkeypatch.setattr(renderer_mod, "build_map", warp_mod.build_map)
    monkeypatch.setattr(warp_mod, "triangle_affines", lambda s, q, k: solved_affines(s, q, k))
    slow = render()
    assert np.array_equal(fast, slow)
    assert not np.array_equal(fast[0], fast[-1])  # the sequence really moves (and blinks)


def test_polygon_pixels_are_those_of_a_whole_image_mask():
    import cv2
    from emoavatar_warp2d.eyes import polygon_pixels

    image = np.random.default_rng(1).integers(0, 256, (60, 80, 3), np.uint8)
    outer = np.array([[-10.3, 5.2], [30.6, -4.1], [50.2, 20.7], [20.4, 70.5]])  # cut by the top and left border
    hole = np.array([[10.2, 20.1], [25.7, 15.3], [30.1, 30.8]])
    for poly, holes in ((outer, ()), (outer, (hole,)), (outer + [100, 0], ())):
        mask = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255)
        for h in holes:
            cv2.fillPoly(mask, [np.round(h).astype(np.int32)], 0)
        assert np.array_equal(polygon_pixels(image, poly, holes), image[mask > 0])

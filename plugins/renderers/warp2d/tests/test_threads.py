"""warp2d draws with OpenCV's pool off (issue 11's speed work): the same frames as with the pool,
and the process's thread count restored afterwards, also when blocks overlap."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import emoavatar
import numpy as np
from emoavatar.interfaces import RunContext
from emoavatar.media import read_image
from emoavatar.types import Face, Motion, Portrait
from emoavatar_warp2d import renderer as renderer_mod
from emoavatar_warp2d.renderer import Warp2DRenderer
from emoavatar_warp2d.threads import one_cv2_thread

DATA = Path(emoavatar.__file__).parent / "testing" / "data"


def test_frames_do_not_depend_on_opencvs_threads(monkeypatch):
    image = read_image(DATA / "portrait_256.png")
    d = json.loads((DATA / "portrait_256.face.json").read_text())
    portrait = Portrait(image, Face(tuple(d["box"]), np.asarray(d["landmarks"], np.float32), d["score"]))
    t = np.linspace(0, 1, 6)[:, None, None]
    seq = portrait.face.landmarks.astype(np.float64)[None] + np.concatenate([2 * t, -1.5 * t], axis=2)
    seq[:, [55, 56, 57, 58, 59, 65, 66, 67, *range(5, 12)], 1] += 9 * t[:, :, 0]  # the jaw opens
    motion = Motion("landmarks68", {"landmarks68": seq.astype(np.float32), "blink": np.linspace(0, 0.9, 6)}, 25.0)
    r = Warp2DRenderer()
    r.prepare(portrait, RunContext(fps=25.0))
    seen = []
    plain = renderer_mod.Warp2DRenderer.render_frame

    def frame(self, *a, **k):
        seen.append(cv2.getNumThreads())
        return plain(self, *a, **k)

    before = cv2.getNumThreads()
    monkeypatch.setattr(renderer_mod.Warp2DRenderer, "render_frame", frame)
    one = r.render(motion)
    assert seen == [1] * 6 and cv2.getNumThreads() == before  # drawn with one thread, the count restored
    cv2.setNumThreads(4)
    try:
        tracks = motion.tracks["landmarks68"].astype(np.float64)  # as render() reads them
        pooled = np.stack([plain(r, lm, float(b)) for lm, b in zip(tracks, motion.tracks["blink"])])
        with one_cv2_thread():
            with one_cv2_thread():  # nested / overlapping blocks restore once, at the end
                assert cv2.getNumThreads() == 1
            assert cv2.getNumThreads() == 1
        assert cv2.getNumThreads() == 4
    finally:
        cv2.setNumThreads(before)
    assert np.array_equal(one, pooled) and not np.array_equal(one[0], one[-1])

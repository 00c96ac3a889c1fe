"""Does dlib follow warp2d's open mouth? (issue 11: surprise readable with the lips in sync).

For each test portrait of ``tests/test_emotion_readability.py`` this renders single frames with the
real stages (facs-rig ``generate``, head motion, blinks and smoothing off; warp2d ``render``) for a
sweep of mouth openings:

* ``aa``: the ``neutral`` request speaking the open viseme ``aa`` at facs-rig ``mouth_scale`` s;
* ``sur``: the ``surprised`` request in silence with its jaw AU26 at w (times ``expression_scale``);
* ``snarl``: the open snarl that facex reads angry (README, "Is there any FACS-valid angry"), in
  silence and speaking ``PP``, ``E``, ``aa``.

and fits dlib's 68 landmarks on each render (box detected on the frame, as the readability test's
tracker does). Per frame it prints the rig's target inner-lip gap (landmarks 62-66, the
readability measure, in inter-ocular distances) beside dlib's fitted gap, and where dlib's upper /
lower inner lip (62 / 66) sits relative to the rig's (in IOD, + = lower in the image): dlib's upper
lip far below the rig's is the teeth edge taken for the lip.

    .venv/bin/python benchmarks/mouth_probe.py                      # warp2d defaults
    .venv/bin/python benchmarks/mouth_probe.py --warp '{"teeth": 0}'  # renderer options as JSON
    .venv/bin/python benchmarks/mouth_probe.py --save /tmp/probe    # also write the frames (PNG)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from emoavatar.emotions import EMOTIONS
from emoavatar.interfaces import RunContext
from emoavatar.registry import get_registry
from emoavatar.types import AudioFeatures, EmotionState
from emoavatar.visemes import VISEMES
from emoavatar_facsrig.generator import FacsRigGenerator
from emoavatar_facsrig.prototypes import PROTOTYPES
from emoavatar_facsrig.spec import FacsRigConfig
from emoavatar_metrics import common

sys.path.insert(0, str(Path(__file__).parent))
from readability_search import Bench, portraits  # noqa: E402

SCALES = (0.5, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
JAWS = (0.4, 0.8, 1.0, 1.25)
SNARL = {"AU4": 1.5, "AU10": 1.5, "AU16": 0.9, "AU25": 1.0, "AU26": 0.8, "AU5": 0.5, "AU7": 0.8}
TOL = 0.2  # dlib "follows" while |dlib gap - rig gap| <= TOL x max(rig gap, 0.3)
RIG = {"head_motion": 0.0, "blink_rate_per_min": 0.0, "smoothing": 0.0, "mouth_smoothing": 0.0}


def one_frame(bench: Bench, emotion: str, viseme: str, rig: dict, proto: dict | None = None):
    """(target landmarks [68, 2], render [H, W, 3]) of one held frame."""
    gen = FacsRigGenerator(FacsRigConfig(**RIG, **rig))
    if proto is not None:
        gen.prototypes[emotion] = proto
    vis = AudioFeatures(np.eye(len(VISEMES))[[VISEMES.index(viseme)]], "visemes", 25.0, VISEMES)
    state = EmotionState(np.eye(len(EMOTIONS))[[EMOTIONS.index(emotion)]], np.ones(1))
    motion = gen.generate({"features:visemes": vis}, state, bench.portrait, RunContext(fps=25.0, n_frames=1))
    return motion.tracks["landmarks68"][0], bench.renderer.render(motion)[0]


def gaps(bench: Bench, lm: np.ndarray, frame: np.ndarray) -> tuple[float, float, float, float]:
    """Rig gap, dlib gap (62-66 / IOD), dlib's upper and lower inner lip offset from the rig's (IOD)."""
    iod = float(common.inter_ocular(lm))
    found = bench.analyzer.detect(frame)
    box = max(found, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1])).box if found else bench.face.box
    fit = np.asarray(bench.analyzer.fit(frame, box).landmarks, np.float64)
    return (float(np.linalg.norm(lm[66] - lm[62])) / iod, float(np.linalg.norm(fit[66] - fit[62])) / iod,
            float(fit[62, 1] - lm[62, 1]) / iod, float(fit[66, 1] - lm[66, 1]) / iod)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warp", default="{}", help="warp2d options as JSON")
    ap.add_argument("--only", default="", help="comma-separated portrait names")
    ap.add_argument("--save", default="", help="folder for the rendered frames")
    args = ap.parse_args()
    reg = get_registry()
    analyzer = reg.create("faces", "dlib", {"min_score": -0.5})
    warp = json.loads(args.warp)
    save = Path(args.save) if args.save else None
    if save:
        save.mkdir(parents=True, exist_ok=True)
    total, reach, mid = [], [], []
    for name, path in portraits("train").items():
        if args.only and name not in args.only.split(","):
            continue
        bench = Bench(name, path, analyzer, None)
        bench.renderer = reg.create("renderers", "warp2d", {**warp})
        bench.renderer.prepare(bench.portrait)
        rows = [(f"aa x{s:.1f}", one_frame(bench, "neutral", "aa", {"mouth_scale": s})) for s in SCALES]
        sur = dict(PROTOTYPES["surprised"])
        rows += [(f"sur AU26 {w:.2f}", one_frame(bench, "surprised", "sil", {}, {**sur, "AU26": w})) for w in JAWS]
        rows += [(f"snarl {v}", one_frame(bench, "angry", v, {}, SNARL)) for v in ("sil", "PP", "E", "aa")]
        print(f"{name}: {'frame':15s} rig   dlib  d_up  d_lo", flush=True)
        follows = 0.0
        for label, (lm, frame) in rows:
            g = gaps(bench, lm, frame)
            total.append(abs(g[1] - g[0]))
            if label.startswith("aa") and 0.25 <= g[0] <= 0.65:
                mid.append(abs(g[1] - g[0]))
            if label.startswith("aa") and follows >= 0 and abs(g[1] - g[0]) <= TOL * max(g[0], 0.3):
                follows = g[0]
            elif label.startswith("aa"):
                follows = -follows - 1e-9  # first miss: stop counting
            print(f"  {label:>20s} {g[0]:.2f}  {g[1]:.2f} {g[2]:+.2f} {g[3]:+.2f}", flush=True)
            if save:
                import cv2

                cv2.imwrite(str(save / f"{name}_{label.replace(' ', '_')}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        reach.append(abs(follows))
        print(f"  dlib follows the aa sweep up to a rig gap of {abs(follows):.2f} IOD", flush=True)
    print(f"mean |dlib - rig| gap: {np.mean(total):.3f} IOD over {len(total)} frames, {np.mean(mid):.3f} over the "
          f"{len(mid)} aa frames with a rig gap of 0.25-0.65; dlib follows up to "
          + " ".join(f"{v:.2f}" for v in reach) + " IOD")


if __name__ == "__main__":
    main()

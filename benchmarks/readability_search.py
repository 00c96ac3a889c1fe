"""Systematic search of facs-rig's emotion prototypes for readability by emotion-acc's facex classifier (issue 11).

The default pipeline's expression of an emotion is a FACS prototype (AU intensities, facs-rig's
``prototypes.py``) turned into landmark displacements (``action_units.py``), retargeted from the
portrait's own expression and rendered by warp2d with AU-driven expression shading. This script
runs the face analysis of each portrait once, then for a candidate prototype renders single frames
with the *real* stages (facs-rig's ``generate`` on a short synthetic viseme track with the emotion
held at intensity 1, warp2d's ``render``) in the mouth states that speech produces (``PP`` closed,
``E`` mid, ``aa`` open, while speaking; ``sil``, not speaking: the full emotional jaw), and reads
each frame with emotion-acc's facex classifier at emotion-acc's crop (the dlib box found on the
``E`` frame, grown by ``crop_margin`` 0.25). Head motion, blinks and smoothing are off: a frame is
the held expression plus one viseme. About 1 s per candidate for four portraits on one core.

Objective per emotion e and candidate prototype P (AU weights on the FACS-valid AUs of e only,
EMFACS / Ekman & Friesen; weights in [0, 2], facs-rig's ``expression_scale`` 1.6 on top and
activations clipped at 2):

    J(P) = mean_{portraits, mouth states} p_e − 2 · mean_{portraits} max(0, id − 0.38) − 0.02 · jaw(P) − L(P)

with ``id`` the dlib identity distance of the ``E`` frame to the portrait and ``jaw`` the
emotional jaw opening weight (AU25 + AU26 + 2·AU27: a baseline that competes with the visemes,
which the lip/speech correlation of ``tests/test_emotion_readability.py`` punishes) and ``L`` the
lip term: dlib's inner-lip gap (what that test correlates with speech), fitted on each frame,
must open from the larger of ``PP`` and ``sil`` to ``E`` and to ``aa`` by at least 0.85x as much
as from ``PP`` under the ``neutral`` request (each shortfall counted, mean over portraits, x 2): a
prototype that closes the lips (AU17, AU23/24) or holds them so far open that dlib stops following
loses the visemes. (Stricter than the test for a jaw held open in silence, e.g. surprise: the
test's clip is mostly speech.) ``--peak`` maximises the single best frame's p instead (is there
ANY render read as e?). Search:
random candidates (uniform on the allowed AUs, each AU dropped with probability 0.3), then
coordinate refinement of the best (±0.25, ±0.125 per AU). Scored on the ``train`` portraits (the
four of the readability test); the winner is also scored on ``held-out`` public-domain faces that
the search never saw (matplotlib's ``grace_hopper.jpg``, US Navy photograph; face_recognition's
official Obama portrait, ``tests/data/portraits/obama_smile.jpg``).

    .venv/bin/python benchmarks/readability_search.py sad --random 120 --refine 1
    .venv/bin/python benchmarks/readability_search.py angry --peak --random 50 --top 2.0
    .venv/bin/python benchmarks/readability_search.py --score   # current prototypes, all portraits
    .venv/bin/python benchmarks/readability_search.py angry --video all --set "motion.with.jaw_yield=0"  # videos
    .venv/bin/python benchmarks/readability_search.py angry --video train --only smile,turned --video-search 30
    .venv/bin/python benchmarks/readability_search.py angry --extra AU2 --video train --video-search 15  # slanted brows

Prints per candidate phase the best objective, and for the winner (and for the current
prototype) p(e) per portrait and mouth state, top-1 and identity distance.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from emoavatar.emotions import EMOTIONS
from emoavatar.interfaces import RunContext
from emoavatar.media import read_image
from emoavatar.registry import get_registry
from emoavatar.types import AudioFeatures, EmotionState, Portrait
from emoavatar.visemes import VISEMES
from emoavatar_facsrig.generator import FacsRigGenerator
from emoavatar_facsrig.prototypes import PROTOTYPES
from emoavatar_facsrig.spec import FacsRigConfig
from emoavatar_metrics import common
from emoavatar_metrics.emotion_litert import PackagedClassifier

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "portraits"
MOUTHS = ("PP", "E", "aa", "sil")  # the last one silent (not speaking): the full emotional jaw
#: FACS-valid AUs per emotion (EMFACS prototypes and their major variants, Ekman & Friesen) that the
#: rig has a displacement field for: AU22 (lip funneler, angry) and AU11 (nasolabial deepener, sad)
#: have none (not in emoavatar's AU vocabulary), so they are left out.
VALID = {
    "angry": ("AU4", "AU5", "AU7", "AU10", "AU16", "AU17", "AU23", "AU24", "AU25", "AU26"),
    "happy": ("AU6", "AU7", "AU12", "AU25", "AU26"),
    "surprised": ("AU1", "AU2", "AU5", "AU25", "AU26", "AU27"),
    "sad": ("AU1", "AU4", "AU6", "AU15", "AU17", "AU25"),
}
JAW = {"AU25": 1.0, "AU26": 1.0, "AU27": 2.0}
ID_FREE = 0.38  # identity distance below which the objective does not care


def portraits(which: str) -> dict[str, Path]:
    from emoavatar.testing.data import kit_portrait_path

    train = {"smile": kit_portrait_path(), "turned": DATA / "obama_turned.jpg", "neutral": DATA / "biden_neutral.jpg",
             "open_mouth": DATA / "einstein_open_mouth.jpg"}
    held = {"obama_smile": DATA / "obama_smile.jpg"}
    try:
        import matplotlib.cbook

        held["hopper"] = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    except (ImportError, OSError, ValueError):
        pass
    return {"train": train, "held-out": held, "all": {**train, **held}}[which]


class Bench:
    """One portrait: analysed once; renders and reads single frames for candidate prototypes."""

    def __init__(self, name: str, path: Path, analyzer, classifier: PackagedClassifier, shading: float = 1.0,
                 rig: dict | None = None, margin: float = 0.25) -> None:
        self.name, self.analyzer, self.clf, self.margin = name, analyzer, classifier, margin
        image = read_image(path)
        if image.shape[0] != 256 or image.shape[1] != 256:  # the test portraits' size
            import cv2

            side = min(image.shape[:2])
            face = analyzer.analyze(image, embed=False)
            cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
            half = min(side / 2, 1.2 * max(face.box[2] - face.box[0], face.box[3] - face.box[1]))
            x0, y0 = int(np.clip(cx - half, 0, image.shape[1] - 2 * half)), int(np.clip(cy - half, 0, image.shape[0] - 2 * half))
            image = cv2.resize(image[y0:y0 + int(2 * half), x0:x0 + int(2 * half)], (256, 256), interpolation=cv2.INTER_AREA)
        self.face = analyzer.analyze(image)
        self.portrait = Portrait(image, self.face, path)
        self.renderer = get_registry().create("renderers", "warp2d", {"shading": shading})
        self.renderer.prepare(self.portrait)
        self.rig = {"head_motion": 0.0, "blink_rate_per_min": 0.0, "smoothing": 0.0, "mouth_smoothing": 0.0, **(rig or {})}
        vis = np.zeros((len(MOUTHS) - 1, len(VISEMES)))
        vis[np.arange(len(MOUTHS) - 1), [VISEMES.index(m) for m in MOUTHS[:-1]]] = 1.0
        self.visemes = AudioFeatures(vis, "visemes", 25.0, VISEMES)
        self.silence = AudioFeatures(np.eye(len(VISEMES))[:1], "visemes", 25.0, VISEMES)

    def frames(self, emotion: str, proto: dict[str, float] | None) -> np.ndarray:
        """``[len(MOUTHS), H, W, 3]``: the held emotion (``proto`` replaces its prototype) per mouth state."""
        gen = FacsRigGenerator(FacsRigConfig(**self.rig))
        if proto is not None:
            gen.prototypes[emotion] = dict(proto)
        out = []
        for vis in (self.visemes, self.silence):
            n = len(vis.values)
            state = EmotionState(np.tile(np.eye(len(EMOTIONS))[EMOTIONS.index(emotion)], (n, 1)), np.ones(n))
            motion = gen.generate({"features:visemes": vis}, state, self.portrait, RunContext(fps=25.0, n_frames=n))
            out.append(self.renderer.render(motion))
        return np.concatenate(out)

    def read(self, frames: np.ndarray, identity: bool = True) -> tuple[np.ndarray, float, int, np.ndarray]:
        """facex probabilities ``[K, E]`` at emotion-acc's crop, identity distance of the ``E`` frame
        (NaN unless ``identity``), frames without a face, and dlib's inner-lip gap per frame
        (62–66, inter-ocular distances: what the readability test correlates with speech). The face
        is detected on the ``E`` frame and its box serves every mouth state, as emotion-acc's tracker
        keeps a detection's box between re-detections (the head does not move here)."""
        k_mid = MOUTHS.index("E")
        found = self.analyzer.detect(frames[k_mid])
        face = max(found, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1])) if found else None
        box = (face or self.face).box
        x0, y0, x1, y1 = common.crop_box(box, self.margin, frames.shape[2], frames.shape[1])
        dist = float(np.linalg.norm(self.analyzer.embed(frames[k_mid], face) - self.face.embedding)) \
            if identity and face is not None else float("nan")
        lms = [np.asarray(self.analyzer.fit(f, box).landmarks, np.float64) for f in frames]
        gaps = np.array([np.linalg.norm(lm[66] - lm[62]) / common.inter_ocular(lm) for lm in lms])
        return self.clf.predict([f[y0:y1, x0:x1] for f in frames]), dist, int(face is None), gaps

    def lip_reference(self) -> None:
        """dlib's inner-lip gaps of the ``neutral`` request: the lip term's reference."""
        self.neutral_gaps = self.read(self.frames("neutral", None), identity=False)[3]


PEAK = False  # --peak: the objective is the best single frame's p (is there ANY render read as e?)


def objective(emotion: str, proto: dict[str, float], reads: list, refs: list | None = None) -> float:
    e = EMOTIONS.index(emotion)
    p = np.array([r[0][:, e] for r in reads])  # [portraits, mouths]
    if PEAK:
        return float(p.max())
    ident = np.array([0.0 if np.isnan(r[1]) else max(r[1] - ID_FREE, 0.0) for r in reads])
    miss = sum(r[2] for r in reads)
    jaw = sum(w * proto.get(k, 0.0) for k, w in JAW.items())
    return float(p.mean() - 2.0 * ident.mean() - 0.02 * jaw - 0.5 * miss - lip_loss(reads, refs))


def lip_loss(reads, refs) -> float:
    """How much less dlib sees the visemes open the mouth than under the neutral request: for each
    portrait, the gap of ``E`` and ``aa`` above the larger of the bilabial (``PP``) and the silent
    gap, against neutral's ``E − PP`` and ``aa − PP``, each short of 0.85x counted (mean over
    portraits, x 2): a mouth held open in silence or closed while speaking reverses the
    correlation with speech energy."""
    if refs is None:
        return 0.0
    loss = []
    closed = (MOUTHS.index("PP"), MOUTHS.index("sil"))
    for r, ref in zip(reads, refs):
        g = r[3]
        for k in (MOUTHS.index("E"), MOUTHS.index("aa")):
            want = ref[k] - ref[0]
            loss.append(max(0.0, 0.85 - (g[k] - g[list(closed)].max()) / want) if want > 1e-3 else 0.0)
    return 2.0 * float(np.mean(loss))


def evaluate(benches: list[Bench], emotion: str, proto: dict[str, float] | None, beat: float | None = None):
    """Objective and reads; with ``beat``, identity is measured only when the candidate could beat it."""
    frames = [b.frames(emotion, proto) for b in benches]
    reads = [b.read(f, identity=False) for b, f in zip(benches, frames)]
    refs = [b.neutral_gaps for b in benches]
    proto = proto if proto is not None else PROTOTYPES.get(emotion, {})
    j = objective(emotion, proto, reads, refs)
    if PEAK or beat is not None and j <= beat:  # identity only lowers J
        return j, reads
    reads = [b.read(f) for b, f in zip(benches, frames)]
    return objective(emotion, proto, reads, refs), reads


def report(benches: list[Bench], emotion: str, proto: dict[str, float] | None, label: str) -> None:
    j, reads = evaluate(benches, emotion, proto)
    e = EMOTIONS.index(emotion)
    print(f"  {label}: J = {j:.3f}  {json.dumps(proto if proto is not None else PROTOTYPES.get(emotion, {}))}")
    for b, (p, dist, miss, gaps) in zip(benches, reads):
        tops = [EMOTIONS[i][:3] for i in p.argmax(1)]
        print(f"    {b.name:12s} p({emotion[:3]}) " + " ".join(f"{m}={v:.2f}" for m, v in zip(MOUTHS, p[:, e]))
              + f"  top1 {','.join(tops)}  id={dist:.2f}  lip gaps " + " ".join(f"{v:.2f}" for v in gaps)
              + f" (neutral {' '.join(f'{v:.2f}' for v in b.neutral_gaps)})" + (f"  missing={miss}" if miss else ""),
              flush=True)


def search(benches: list[Bench], emotion: str, n_random: int, n_refine: int, rng: np.random.Generator,
           top: float = 1.25, start: dict[str, float] | None = None) -> tuple[dict[str, float], float]:
    aus = VALID[emotion]
    start = {k: v for k, v in (start or PROTOTYPES.get(emotion, {})).items() if k in aus}
    best, best_j = start, evaluate(benches, emotion, start)[0]
    print(f"  start J = {best_j:.3f}", flush=True)
    t0 = time.perf_counter()
    for i in range(n_random):
        cand = {k: round(float(rng.uniform(0.0, top)), 2) for k in aus if rng.random() > 0.3}
        j = evaluate(benches, emotion, cand, best_j)[0]
        if j > best_j:
            best, best_j = cand, j
            print(f"  random {i}: J = {j:.3f} {json.dumps(cand)}", flush=True)
    print(f"  random phase: {n_random} candidates in {time.perf_counter() - t0:.0f} s", flush=True)
    for step in (0.25, 0.125)[:n_refine]:
        improved = True
        while improved:
            improved = False
            for k in aus:
                for d in (step, -step):
                    cand = dict(best)
                    cand[k] = round(float(np.clip(cand.get(k, 0.0) + d, 0.0, 2.0)), 3)
                    if cand[k] == best.get(k, 0.0):
                        continue
                    cand = {a: v for a, v in cand.items() if v > 0}
                    j = evaluate(benches, emotion, cand, best_j)[0]
                    if j > best_j + 1e-4:
                        best, best_j, improved = cand, j, True
                        print(f"  refine {step}: J = {j:.3f} {json.dumps(cand)}", flush=True)
    return best, best_j


class VideoReader:
    """The readability test's measurement (``tests/test_emotion_readability.py``) on whole videos of
    the default pipeline (demo speech, 7.1 s): mean facex probabilities over every ``every``-th
    frame, the dlib inner-lip gap's correlation r with speech energy, the largest identity distance
    at a third and two thirds, faces missing. Held-out portraits are cropped as :class:`Bench` does."""

    def __init__(self, analyzer, every: int = 9) -> None:
        import tempfile

        self.analyzer = analyzer
        self.metric = get_registry().create("metrics", "emotion-acc", {"every": every})
        self.tmp = Path(tempfile.mkdtemp(prefix="readability-"))

    def portrait(self, name: str, path: Path) -> Path:
        if read_image(path).shape[:2] == (256, 256):
            return path
        import cv2

        out = self.tmp / f"{name}.png"
        if not out.exists():
            bench = Bench(name, path, self.analyzer, PackagedClassifier("facex"))
            cv2.imwrite(str(out), cv2.cvtColor(bench.portrait.image, cv2.COLOR_RGB2BGR))
        return out

    def read(self, sets: list[str], name: str, path: Path, emotion: str) -> dict:
        from emoavatar.pipeline import Pipeline
        from emoavatar_metrics.readability import read_video

        path = self.portrait(name, path)
        out = self.tmp / f"{name}_{emotion}.mp4"
        Pipeline.from_yaml(ROOT / "examples" / "default.yaml", overrides=sets).run(
            out, portrait=path, emotion=emotion, overwrite=True)
        ref = self.analyzer.analyze(read_image(path)).embedding
        return read_video(out, emotion, ROOT / "examples" / "speech.wav", self.analyzer, self.metric, ref)


def chosen(which: str, only: str) -> dict[str, Path]:
    return {n: p for n, p in portraits(which).items() if not only or n in only.split(",")}


def video(emotions: list[str], which: str, sets: list[str], analyzer, only: str = "") -> None:
    """Per portrait and emotion (and the ``neutral`` request): p(e), top-1, r and r / neutral's,
    identity. ``sets``: ``--set`` overrides of the pipeline (e.g. ``motion.with.jaw_yield=0``)."""
    reader = VideoReader(analyzer)
    print(f"{'portrait':12s} {'emotion':9s} {'top1':9s} {'p':>5s} {'p_neu':>5s} {'r':>5s} {'r/neu':>5s} {'id':>5s}", flush=True)
    for name, path in chosen(which, only).items():
        ref = reader.read(sets, name, path, "neutral")
        for emotion in emotions:
            m = reader.read(sets, name, path, emotion)
            p = m["p"]
            print(f"{name:12s} {emotion:9s} {max(p, key=p.get):9s} {p[emotion]:5.2f} {ref['p'][emotion]:5.2f} "
                  f"{m['r']:5.2f} {m['r'] / ref['r']:5.2f} {m['identity']:5.2f}  missing={m['missing']}  "
                  + " ".join(f"{e[:3]}={v:.2f}" for e, v in p.items()), flush=True)


def video_search(emotion: str, n: int, which: str, only: str, analyzer, rng: np.random.Generator, top: float) -> None:
    """Random FACS-valid prototypes of ``emotion`` (each AU kept with probability 0.65, weights
    uniform in [0.2, ``top``]) scored on whole videos: per portrait p(e), its margin over the next
    class and r / neutral's; ``J = Σ p(e) − 2 Σ max(0, 0.85 − r / r_neutral)``."""
    reader = VideoReader(analyzer)
    ports = chosen(which, only)
    ref = {name: reader.read([], name, path, "neutral")["r"] for name, path in ports.items()}
    print("neutral request r: " + " ".join(f"{k} {v:.2f}" for k, v in ref.items()), flush=True)
    for i in range(n):
        cand = {k: round(float(rng.uniform(0.2, top)), 2) for k in VALID[emotion] if rng.random() > 0.35}
        sets = [f"motion.with.prototypes={{{emotion}: {json.dumps(cand)}}}"]
        j, line = 0.0, []
        for name, path in ports.items():
            m = reader.read(sets, name, path, emotion)
            p, rr = m["p"], m["r"] / ref[name]
            j += p[emotion] - 2.0 * max(0.0, 0.85 - rr)
            line.append(f"{name} p={p[emotion]:.2f} top1={max(p, key=p.get)[:3]} "
                        f"margin={p[emotion] - max(v for e, v in p.items() if e != emotion):+.2f} r/neu={rr:.2f}")
        print(f"{i:3d} J={j:+.2f}  " + " | ".join(line) + "  " + json.dumps(cand), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("emotions", nargs="*", default=["happy", "sad", "angry", "surprised"])
    ap.add_argument("--random", type=int, default=100, help="random candidates per emotion")
    ap.add_argument("--refine", type=int, default=2, help="coordinate refinement rounds (steps 0.25, 0.125)")
    ap.add_argument("--shading", type=float, default=1.0, help="warp2d's shading strength")
    ap.add_argument("--rig", default="{}", help="facs-rig options as JSON (e.g. '{\"expression_scale\": 1.8}')")
    ap.add_argument("--score", action="store_true", help="only score the current prototypes on all portraits")
    ap.add_argument("--proto", default=None, help="JSON {emotion: {AU: w}}: score these instead of searching")
    ap.add_argument("--top", type=float, default=1.25, help="largest random AU weight (1.25 x expression_scale 1.6 = 2, "
                    "the rig's clip)")
    ap.add_argument("--start", default=None, help="JSON {emotion: {AU: w}}: search from these instead of the current")
    ap.add_argument("--peak", action="store_true", help="maximise the best single frame's p(e) instead of J")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--extra", default="", help="comma-separated AUs searched beyond the emotion's FACS-valid ones "
                    "(e.g. AU2 for angry's slanted brows)")
    ap.add_argument("--video", choices=("train", "held-out", "all"), default=None,
                    help="measure whole videos of the default pipeline as the readability test does, on these portraits")
    ap.add_argument("--set", action="append", default=[], help="with --video: pipeline override KEY=VALUE (repeatable)")
    ap.add_argument("--only", default="", help="with --video: comma-separated portrait names")
    ap.add_argument("--video-search", type=int, default=0, help="with --video: this many random prototypes scored on "
                    "whole videos (weights up to max(--top, 1.6))")
    args = ap.parse_args()
    global PEAK
    PEAK = args.peak
    reg = get_registry()
    analyzer = reg.create("faces", "dlib", {"min_score": -0.5})  # the readability test's analyzer
    clf = PackagedClassifier("facex")
    rig = json.loads(args.rig)
    extra = [a for a in args.extra.split(",") if a]
    if extra:
        from emoavatar_facsrig.generator import CHANNELS

        unknown = [a for a in extra if a not in CHANNELS] + [e for e in args.emotions if e not in VALID]
        if unknown:
            ap.error(f"--extra: unknown AU or emotion without a FACS-valid set: {', '.join(unknown)}")
        for emotion in args.emotions:
            VALID[emotion] = tuple(VALID[emotion]) + tuple(a for a in extra if a not in VALID[emotion])
    if args.video:
        if args.video_search:
            for emotion in args.emotions:
                video_search(emotion, args.video_search, args.video, args.only, analyzer, np.random.default_rng(args.seed),
                             max(args.top, 1.6))
        else:
            video(args.emotions, args.video, args.set, analyzer, only=args.only)
        return

    def benches(which):
        out = [Bench(n, p, analyzer, clf, args.shading, rig) for n, p in portraits(which).items()]
        for b in out:
            b.lip_reference()
        return out

    train, held = benches("train"), benches("held-out")
    given = json.loads(args.proto) if args.proto else {}
    starts = json.loads(args.start) if args.start else {}
    rng = np.random.default_rng(args.seed)
    for emotion in args.emotions:
        print(f"== {emotion} (AUs {', '.join(VALID[emotion])})", flush=True)
        if args.score or emotion in given:
            best = given.get(emotion)
        else:
            report(train, emotion, None, "current, train")
            best, _ = search(train, emotion, args.random, args.refine, rng, args.top, starts.get(emotion))
        report(train, emotion, best, "train")
        report(held, emotion, best, "held-out")


if __name__ == "__main__":
    main()

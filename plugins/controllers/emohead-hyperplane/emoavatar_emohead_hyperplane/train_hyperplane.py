"""``emoavatar train emohead-hyperplane --data CLIPS_DIR --out hyperplanes.npz``

Fits one LinearSVC per emotion on the α of preprocessed clips (the ``.npz`` files that
``emoavatar train emohead-preprocess`` writes; read by :mod:`.clips`), balanced over five MAR
groups (Appendix B). Prints per-emotion training accuracy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from emoavatar.errors import ConfigError
from emoavatar.training import add_run_options, trainer_parser


def clip_paths(data: str | Path) -> list[Path]:
    from .clips import is_clip_file

    data = Path(data)
    paths = [data] if data.is_file() else sorted(p for p in data.rglob("*.npz") if is_clip_file(p))
    if not paths:
        raise ConfigError(f"no preprocessed clips (.npz) under {data}",
                          fix="run `emoavatar train emohead-preprocess --dataset ... --out DIR` first")
    return paths


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = trainer_parser("emohead-hyperplane", __doc__, data="folder of preprocessed clips (.npz) or one clip",
                       out="output .npz or .safetensors (a .json is written next to it)")
    p.add_argument("--identity", action="append", help="only these identities (repeatable)")
    p.add_argument("--groups", type=int, default=5, help="mouth-aspect-ratio groups (default 5)")
    p.add_argument("--per-cell", type=int, default=None, help="frames per (emotion, MAR group); default median")
    p.add_argument("--C", type=float, default=1.0, help="LinearSVC C")
    add_run_options(p, resume=None, device=False, threads=None)  # --seed (a scikit-learn fit, no checkpoint)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from .clips import load_clip
    from .hyperplane import fit_hyperplanes

    args = parse_args(sys.argv[1:] if argv is None else argv)
    alphas, labels, mars, basis = [], [], [], ""
    for path in clip_paths(args.data):
        arrays, meta = load_clip(path)
        if args.identity and str(meta.get("identity")) not in args.identity:
            continue
        if "alpha" not in arrays or "mar" not in arrays or "emotion" not in meta:
            raise ConfigError(f"{path} lacks alpha, mar or its emotion: preprocess it with a basis first")
        alphas.append(arrays["alpha"])
        labels += [meta["emotion"]] * len(arrays["alpha"])
        mars.append(arrays["mar"])
        basis = basis or str(meta.get("basis", ""))
    if not alphas:
        raise ConfigError("no clips left after filtering by --identity")
    alpha, mar = np.concatenate(alphas), np.concatenate(mars)
    hp = fit_hyperplanes(alpha, labels, mar, groups=args.groups, per_cell=args.per_cell, c=args.C,
                         basis=basis, seed=args.seed)
    hp.save(args.out)
    scores = hp.decision(alpha)
    labels_a = np.asarray(labels)
    print(f"hyperplanes for {len(hp.emotions)} emotions from {len(alpha)} frames "
          f"({hp.info['samples']} balanced samples) -> {args.out}")
    for i, emo in enumerate(hp.emotions):
        acc = float(((scores[:, i] > 0) == (labels_a == emo)).mean())
        print(f"  {emo:10s} one-vs-rest accuracy {acc:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

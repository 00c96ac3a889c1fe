"""``emoavatar train emoportraits-speech --dataset KIND ROOT --checkpoint STAGE1.pth --head-pose-checkpoint HP.pth
--out speech.safetensors``

Trains the speech mode (``speech.py``) on talking clips read by :mod:`emoavatar.datasets` (MEAD, CREMA-D, a folder
``<identity>/<emotion>/<sentence>.mp4``, a CSV manifest):

1. pairs: each clip's audio through the pipeline's encoders (``--encoder``, default phonemes + prosody, the
   default CPU pipeline's) beside its frames' latents z and head poses from the stage-1 model's own embedders
   (``pairs.py``; cached in ``--cache``);
2. a held-out split by sentence (held-out audio content; by clip when there is one sentence);
3. the mouth PCA basis and the emotion directions (``speech_fit.py``) on the training clips;
4. the audio regressor: loss = ||c - c_hat||^2 / std_c + lambda ||dpose - dpose_hat||^2 / std_pose over random
   windows (Adam); the validation loss and the Pearson r between the predicted and the true mouth coefficients
   on the held-out clips are logged every ``--val-every`` iterations.

The checkpoint is written every ``--save-every`` iterations and at the end (safetensors, optimizer state beside it
as ``*.optim.safetensors``); ``--resume`` continues from both, keeping the fitted basis and directions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
from emoavatar.optimizer_state import load_optimizer, optimizer_path, save_optimizer
from emoavatar.training import add_run_options, trainer_parser, with_torch_threads

from .train_options import add_stage1_options


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = trainer_parser("emoportraits-speech", __doc__, out="speech-mode file to write (.safetensors)")
    p.add_argument("--dataset", nargs=2, required=True, metavar=("KIND", "ROOT"),
                   help="mead | crema-d | folder | manifest | auto, and its folder (or CSV)")
    add_stage1_options(p)
    p.add_argument("--encoder", action="append", default=None, help="audio encoder (repeatable; default phonemes, prosody)")
    p.add_argument("--encoder-with", action="append", default=[], metavar="NAME=JSON",
                   help='options of an encoder, e.g. hf-speech=\'{"model": "/weights/hubert-base-ls960"}\'')
    p.add_argument("--face", default="default", help="face analyzer for the crops ('none': centre crop)")
    p.add_argument("--crop", choices=("track", "fixed", "centre"), default="track",
                   help="face crop per frame (track), from the first frame for the whole clip (fixed), or centre square")
    p.add_argument("--crop-scale", type=float, default=1.0)
    p.add_argument("--cache", help="folder for the (features, z, pose) pairs (default: OUT without suffix + .pairs)")
    p.add_argument("--components", type=int, default=8, help="K mouth PCA components")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--kernel", type=int, default=5, help="temporal convolution window (frames)")
    p.add_argument("--seq", type=int, default=50, help="frames per training window")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--iters", type=int, default=3000)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--pose-weight", type=float, default=0.3)
    p.add_argument("--val-fraction", type=float, default=0.2, help="share of sentences held out")
    p.add_argument("--val-sentences", nargs="+", help="hold out these sentence ids instead (e.g. MEAD's 001 002)")
    p.add_argument("--val-every", type=int, default=100)
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--fps", type=float, default=25.0)
    add_run_options(p)
    return p.parse_args(argv)


def make_pairs(args: argparse.Namespace, log: Callable[[str], None]):
    from emoavatar.datasets import read_dataset
    from emoavatar.errors import ConfigError
    from emoavatar.registry import get_registry

    from .loading import get_model
    from .pairs import build_pairs, clip_pair
    from .train_options import stage1_architecture

    arch = stage1_architecture(args.architecture)  # a bad --architecture fails before any clip is read
    records = read_dataset(args.dataset[0], args.dataset[1])
    reg = get_registry()
    names = args.encoder or ["phonemes", "prosody"]
    options = {}
    for item in args.encoder_with:
        name, _, text = item.partition("=")
        try:
            options[name] = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"--encoder-with {item!r}: not NAME=JSON ({e})") from None
    encoders = [reg.create("encoders", n, options.get(n, {})) for n in names]
    face = None
    if args.face != "none" and args.crop != "centre":
        face = reg.create("faces", reg.default("faces") if args.face == "default" else args.face, {})
    model = get_model(Path(args.checkpoint), Path(args.head_pose_checkpoint), arch, args.device)
    cache = Path(args.cache) if args.cache else Path(args.out).with_suffix(".pairs")
    extra = "|".join(map(str, (Path(args.checkpoint).resolve(), args.architecture, sorted(args.encoder_with), args.face,
                               args.crop, args.crop_scale, args.fps)))
    return build_pairs(records, lambda r: clip_pair(r, model, encoders, face, args.fps, args.crop_scale, args.device,
                                                      crop=args.crop),
                       cache, args.fps, names, extra, log)


def split(pairs: list, fraction: float, seed: int, sentences: list[str] | None = None) -> tuple[list, list]:
    """Held out by sentence (audio content never seen in training); by clip when there is one sentence."""
    if sentences:
        held = set(sentences)
        if not held & {p.sentence for p in pairs}:
            from emoavatar.errors import ConfigError

            raise ConfigError(f"--val-sentences {sentences}: no clip has these sentence ids")
        return [p for p in pairs if p.sentence not in held], [p for p in pairs if p.sentence in held]
    rng = np.random.default_rng(seed)
    keys = sorted({p.sentence for p in pairs})
    by = "sentence"
    if len(keys) < 2:
        keys, by = [p.video for p in pairs], "video"
    if fraction <= 0 or len(keys) < 2:
        return pairs, []
    n_val = min(max(1, int(round(len(keys) * fraction))), len(keys) - 1)
    held = {keys[i] for i in rng.permutation(len(keys))[:n_val]}
    return [p for p in pairs if getattr(p, by) not in held], [p for p in pairs if getattr(p, by) in held]


def fit_mode(train: list, kinds: list[str], args: argparse.Namespace):
    """The closed-form parts and a fresh regressor."""
    import torch

    from .speech_fit import emotion_directions, fit_mouth_basis, mean_std, targets
    from .speech_model import SpeechMode, SpeechRegressor

    mu, basis, explained = fit_mouth_basis(train, args.components)
    directions, seen = emotion_directions(train, basis)
    feats = np.concatenate([np.concatenate([p.features[k] for k in kinds], 1) for p in train])
    fmean, fstd = mean_std(feats)
    tg = [targets(p, mu, basis) for p in train]
    _, mstd = mean_std(np.concatenate([t[0] for t in tg]))
    _, pstd = mean_std(np.concatenate([t[1] for t in tg]))
    stats = {"mu": mu, "mouth_basis": basis, "mouth_std": mstd, "directions": directions, "feature_mean": fmean,
             "feature_std": fstd, "pose_std": pstd}
    reg = SpeechRegressor(feats.shape[1], basis.shape[0], args.hidden, args.kernel)
    features = [(k, int(train[0].features[k].shape[1])) for k in kinds]
    return SpeechMode(reg, {k: torch.as_tensor(v) for k, v in stats.items()}, features, args.fps,
                      {"explained_variance": explained.tolist(), "emotions_seen": seen})


def _tensors(pair, mode, kinds: list[str]):
    import torch

    from .speech_fit import targets

    s = {k: v.cpu().numpy() for k, v in mode.stats.items()}
    x = np.concatenate([pair.features[k] for k in kinds], 1)
    c, dp = targets(pair, s["mu"], s["mouth_basis"])
    return (torch.as_tensor((x - s["feature_mean"]) / s["feature_std"]), torch.as_tensor(c / s["mouth_std"]),
            torch.as_tensor(dp / s["pose_std"]))


def loss_fn(mode, x, c, dp, pose_weight: float):
    import torch.nn.functional as F

    mc, mp = mode.regressor(x)
    return F.mse_loss(mc, c) + pose_weight * F.mse_loss(mp, dp), mc


def evaluate(mode, val: list[tuple], pose_weight: float) -> dict[str, float]:
    import torch

    from .speech_fit import pearson

    mode.regressor.eval()
    with torch.no_grad():
        losses, pred, true = [], [], []
        for x, c, dp in val:
            loss, mc = loss_fn(mode, x[None], c[None], dp[None], pose_weight)
            losses.append(float(loss))
            pred.append(mc[0].numpy())
            true.append(c.numpy())
    mode.regressor.train()
    mouth_loss = float(np.mean([np.mean((p - t) ** 2) for p, t in zip(pred, true)]))
    pred_a, true_a = np.concatenate(pred), np.concatenate(true)
    rs = [pearson(pred_a[:, k], true_a[:, k]) for k in range(pred_a.shape[1])]
    w = mode.stats["mouth_std"].numpy() ** 2
    return {"val_loss": float(np.mean(losses)), "val_mouth_loss": mouth_loss, "val_r": float(np.mean(rs)), "val_r1": rs[0],
            "val_r_weighted": float((np.asarray(rs) * w).sum() / w.sum())}


@with_torch_threads
def train(args: argparse.Namespace, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run training (``--threads`` for its length); returns ``{"history", "out", "train", "val", "mode"}``
    (used by the tests)."""
    import torch
    from emoavatar.errors import ConfigError

    from .speech_model import load_speech_mode, save_speech_mode

    torch.manual_seed(args.seed)
    out = Path(args.out)
    pairs = make_pairs(args, log)
    kinds = sorted(set.intersection(*(set(p.features) for p in pairs)))
    if not kinds:
        raise ConfigError("the clips share no audio feature kind", fix="check --encoder")
    train_pairs, val_pairs = split(pairs, args.val_fraction, args.seed, args.val_sentences)
    if not train_pairs:
        raise ConfigError("every clip is held out for validation", fix="hold out fewer sentences (--val-sentences)")
    step, history = 0, []
    if args.resume and out.is_file():
        mode = load_speech_mode(out)
        kinds = [k for k, _ in mode.features]
        step = int(mode.meta.get("train", {}).get("step", 0))
        history = list(mode.meta.get("train", {}).get("history", []))
        log(f"resumed from {out} at iteration {step}")
    else:
        mode = fit_mode(train_pairs, kinds, args)
    mode.regressor.train()
    opt = torch.optim.Adam(mode.regressor.parameters(), lr=args.lr)
    if args.resume and optimizer_path(out).is_file():
        load_optimizer(opt, optimizer_path(out))
    tr = [_tensors(p, mode, kinds) for p in train_pairs]
    va = [_tensors(p, mode, kinds) for p in val_pairs]
    seq = min(args.seq, min(len(t[0]) for t in tr))
    rng = np.random.default_rng(args.seed + step)
    info = {"clips": len(pairs), "train_clips": len(tr), "val_clips": len(va),
            "val_sentences": sorted({p.sentence for p in val_pairs}), "encoders": args.encoder or ["phonemes", "prosody"]}

    def checkpoint() -> None:
        save_speech_mode(out, mode, {"train": {"step": step, "history": history[-50:], **info}})
        save_optimizer(opt, optimizer_path(out), step)

    if va and not history:
        history.append({"step": step, **evaluate(mode, va, args.pose_weight)})
        log(f"iteration {step}: {history[-1]}")
    while step < args.iters:
        idx = rng.integers(len(tr), size=args.batch)
        starts = [int(rng.integers(0, len(tr[i][0]) - seq + 1)) for i in idx]
        x, c, dp = (torch.stack([tr[i][j][s:s + seq] for i, s in zip(idx, starts)]) for j in range(3))
        loss, _ = loss_fn(mode, x, c, dp, args.pose_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if va and (step % args.val_every == 0 or step == args.iters):
            history.append({"step": step, "loss": float(loss.detach()), **evaluate(mode, va, args.pose_weight)})
            log(f"iteration {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in history[-1].items() if k != "step"))
        if step % args.save_every == 0:
            checkpoint()
    checkpoint()
    log(f"saved {out}")
    return {"history": history, "out": out, "train": train_pairs, "val": val_pairs, "mode": mode}


def main(argv: list[str] | None = None) -> int:
    train(parse_args(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

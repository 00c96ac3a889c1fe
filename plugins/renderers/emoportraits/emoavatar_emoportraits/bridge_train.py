"""``emoavatar train landmarks-to-emoportraits``: fit the landmark bridge on talking videos.

Pairs (one per video frame with a face): the frame's 68 landmarks from our FaceAnalyzer (pixels, as
``motion:landmarks68`` carries them) and its expression latent z and head pose from the stage-1 model's own
embedders (:func:`.embed.embed_frames`, which tracks the face once for both). A sample is a frame t and a
reference frame r of the same clip; the target is (z_t - z_r, pose_t - pose_r), the input
:func:`.bridge_features.bridge_inputs` (L_r, L_t). In a pipeline the reference is the portrait.

Held-out split: the last ``--val-fraction`` of every clip (a contiguous block, so neighbouring frames do not
leak), referenced to the clip's first frame. Reported on it: the validation loss (MSE in target standard
deviations, before training = predicting no change, and after), R^2 of z and pose, the squared z error left
against predicting no change, and the Pearson r of the mouth component: the principal
component of the training latents (PCA over talking frames, as the paper finds its mouth subspace) whose
score correlates best with the inner-lip gap, predicted vs ground truth.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from emoavatar.optimizer_state import load_optimizer, optimizer_path, save_optimizer
from emoavatar.training import add_run_options, trainer_parser, with_torch_threads

from .bridge_features import bridge_inputs, mouth_opening
from .speech_fit import pearson
from .train_options import add_stage1_options, stage1_architecture

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")


@dataclass
class Pairs:
    landmarks: np.ndarray   # [N, 68, 2] pixels
    z: np.ndarray           # [N, Z]
    pose: np.ndarray        # [N, 9]
    clip: np.ndarray        # [N] clip index
    names: list[str]

    def save(self, path: Path) -> None:
        np.savez_compressed(path, landmarks=self.landmarks, z=self.z, pose=self.pose, clip=self.clip,
                            names=np.array(self.names))

    @classmethod
    def load(cls, path: Path) -> "Pairs":
        d = np.load(path)
        return cls(d["landmarks"], d["z"], d["pose"], d["clip"], [str(n) for n in d["names"]])


def video_paths(data: list[str], dataset: str = "videos") -> list[Path]:
    """Video files given directly or found (recursively) in the given folders, sorted; or, with ``dataset``
    (mead, crema-d, folder, manifest, auto), the clips of the core's dataset readers (:mod:`emoavatar.datasets`)."""
    from emoavatar.errors import ConfigError

    if dataset != "videos":
        from emoavatar.datasets import read_dataset

        out = [r.video for root in data for r in read_dataset(dataset, root)]
        if not out:
            raise ConfigError(f"--data {' '.join(data)}: no clips in the {dataset} layout")
        return out
    out: list[Path] = []
    for item in data:
        p = Path(item).expanduser()
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix.lower() in VIDEO_SUFFIXES)
        elif p.is_file():
            out.append(p)
        else:
            raise ConfigError(f"--data {item}: no such file or folder", fix="give talking-face videos or folders of them")
    if not out:
        raise ConfigError(f"--data {' '.join(data)}: no videos ({', '.join(VIDEO_SUFFIXES)})")
    return out


def extract_pairs(videos: list[Path], model, face, crop_scale: float = 1.0, max_frames: int = 0,
                  device: str = "cpu", log: Callable[[str], None] = print) -> Pairs:
    """Landmarks (tracked by ``face``) and (z, pose) (the model's embedders) of every frame with a face."""
    from emoavatar.media.video import read_video

    from .embed import embed_frames

    lms, zs, poses, clips, names = [], [], [], [], []
    for path in videos:
        chunks = read_video(path, chunk=16)
        if max_frames:
            chunks = _first(chunks, max_frames)
        emb = embed_frames(model, chunks, face, crop_scale, device)
        keep = [k for k, f in enumerate(emb.faces) if f is not None]
        log(f"{path.name}: {len(keep)}/{len(emb.faces)} frames with a face")
        if len(keep) < 2:
            continue
        lms.append(np.stack([emb.faces[k].landmarks for k in keep]).astype(np.float32))
        zs.append(emb.z[keep])
        poses.append(emb.head_pose[keep])
        clips.append(np.full(len(keep), len(names)))
        names.append(str(path))
    if not names:
        from emoavatar.errors import FaceNotFoundError

        raise FaceNotFoundError("no face found in the training videos", fix="use clips with one visible face")
    return Pairs(np.concatenate(lms), np.concatenate(zs), np.concatenate(poses), np.concatenate(clips), names)


def _first(chunks, n: int):
    left = n
    for c in chunks:
        if left <= 0:
            return
        yield c[:left]
        left -= len(c)


def split(pairs: Pairs, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val): the last ``val_fraction`` of each clip is held out (clips of >= 4 frames)."""
    train, val = [], []
    for c in np.unique(pairs.clip):
        idx = np.flatnonzero(pairs.clip == c)
        n_val = int(round(len(idx) * val_fraction)) if len(idx) >= 4 else 0
        train += list(idx[:len(idx) - n_val])
        val += list(idx[len(idx) - n_val:])
    return np.array(train, int), np.array(val, int)


def targets(pairs: Pairs, t: np.ndarray, r: np.ndarray) -> np.ndarray:
    return np.concatenate([pairs.z[t] - pairs.z[r], pairs.pose[t] - pairs.pose[r]], 1).astype(np.float32)


def sample_references(pairs: Pairs, frames: np.ndarray, pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random reference from ``pool`` in the same clip for each of ``frames``."""
    out = np.empty(len(frames), int)
    for c in np.unique(pairs.clip[frames]):
        mine = pool[pairs.clip[pool] == c]
        sel = pairs.clip[frames] == c
        out[sel] = rng.choice(mine, size=int(sel.sum()))
    return out


def first_of_clip(pairs: Pairs, frames: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """The clip's first frame in ``pool`` for each of ``frames`` (the fixed validation reference)."""
    first = {c: pool[pairs.clip[pool] == c][0] for c in np.unique(pairs.clip[frames])}
    return np.array([first[c] for c in pairs.clip[frames]], int)


def mouth_component(pairs: Pairs, train: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray, int, float]:
    """(mean, unit direction, PC index, |r| with the lip gap on the training frames) of the latent PC that
    follows the mouth best among the first ``k`` principal components of the training latents."""
    z = pairs.z[train].astype(np.float64)
    mean = z.mean(0)
    _, _, vt = np.linalg.svd(z - mean, full_matrices=False)
    gap = mouth_opening(pairs.landmarks[train])
    scores = [abs(pearson((z - mean) @ v, gap)) for v in vt[:k]]
    best = int(np.nanargmax(scores))
    return mean, vt[best], best, float(scores[best])


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = trainer_parser("landmarks-to-emoportraits",
                       "fit the landmarks -> EMOPortraits (z, head pose) bridge on talking videos",
                       data="videos or folders of videos (one face each), or a dataset root / manifest with --dataset",
                       data_nargs="+", out="bridge file to write (.safetensors)")
    p.add_argument("--dataset", default="videos", choices=("videos", "auto", "mead", "crema-d", "folder", "manifest"),
                   help="layout of --data: plain videos (default) or one of the core's dataset readers")
    add_stage1_options(p)
    p.add_argument("--pairs", help="cache of extracted pairs (.npz): read if it exists, else written")
    p.add_argument("--face", help="FaceAnalyzer (default: the installed default)")
    p.add_argument("--crop-scale", type=float, default=1.0)
    p.add_argument("--max-frames", type=int, default=0, help="frames per clip (0: all)")
    p.add_argument("--val-fraction", type=float, default=0.25)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--pose-weight", type=float, default=0.5, help="weight of the pose loss against the z loss")
    p.add_argument("--log-every", type=int, default=200)
    add_run_options(p)
    return p.parse_args(argv)


def load_pairs(args: argparse.Namespace, log: Callable[[str], None]) -> Pairs:
    if args.pairs and Path(args.pairs).is_file():
        log(f"pairs from {args.pairs}")
        return Pairs.load(Path(args.pairs))
    from emoavatar.registry import get_registry

    from .loading import get_model

    videos = video_paths(args.data, args.dataset)  # a wrong path fails before any model loads
    reg = get_registry()
    face = reg.create("faces", args.face or reg.default("faces"), {})
    model = get_model(Path(args.checkpoint), Path(args.head_pose_checkpoint), stage1_architecture(args.architecture),
                      args.device)
    pairs = extract_pairs(videos, model, face, args.crop_scale, args.max_frames, args.device, log)
    if args.pairs:
        pairs.save(Path(args.pairs))
    return pairs


@with_torch_threads
def train(args: argparse.Namespace, log: Callable[[str], None] = print, pairs: Pairs | None = None) -> dict:
    """Fit and save (``--threads`` for the run's length); returns ``{"out", "history", "metrics"}`` (the tests read
    them)."""
    import torch

    from .bridge_model import POSE_DIM, LandmarkBridge, read_bridge, save_bridge

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    pairs = pairs if pairs is not None else load_pairs(args, log)
    tr, va = split(pairs, args.val_fraction)
    out = Path(args.out)
    z_dim = pairs.z.shape[1]

    # standardisation from a sample of training pairs
    t0_idx = rng.choice(tr, size=min(4096, 8 * len(tr)))
    x0 = bridge_inputs(pairs.landmarks[sample_references(pairs, t0_idx, tr, rng)], pairs.landmarks[t0_idx])
    y0 = targets(pairs, t0_idx, sample_references(pairs, t0_idx, tr, rng))
    step, history = 0, []
    if args.resume and out.is_file():
        model, info = read_bridge(out, args.device)
        step, history = int(info.get("step", 0)), list(info.get("history", []))
        log(f"resumed from {out} at step {step}")
    else:
        model = LandmarkBridge(z_dim, args.hidden, args.layers).to(args.device)
        with torch.no_grad():
            model.in_mean.copy_(torch.as_tensor(x0.mean(0)))
            model.in_std.copy_(torch.as_tensor(np.maximum(x0.std(0), 1e-3)))
            model.out_std.copy_(torch.as_tensor(np.maximum(np.sqrt((y0 ** 2).mean(0)), 1e-6)))
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    optim_path = optimizer_path(out)
    if args.resume and optim_path.is_file():
        load_optimizer(opt, optim_path)
    weights = torch.ones(z_dim + POSE_DIM, device=args.device)
    weights[z_dim:] = args.pose_weight

    def loss_of(x: np.ndarray, y: np.ndarray) -> torch.Tensor:
        pred = model(torch.as_tensor(x, device=args.device), scaled=False)
        err = pred - torch.as_tensor(y, device=args.device) / model.out_std
        return ((err ** 2) * weights).mean()

    va_ref = first_of_clip(pairs, va, tr) if len(va) else va
    x_va = bridge_inputs(pairs.landmarks[va_ref], pairs.landmarks[va]) if len(va) else None
    y_va = targets(pairs, va, va_ref) if len(va) else None

    def validate() -> float:
        model.eval()
        with torch.no_grad():
            v = float(loss_of(x_va, y_va)) if x_va is not None else float("nan")
        model.train()
        return v

    history.append({"step": step, "val_loss": validate()})
    log(f"step {step}: val_loss {history[-1]['val_loss']:.4f} ({len(tr)} train / {len(va)} held-out frames)")
    t_start, running = time.time(), []
    end = step + args.steps
    while step < end:
        t = rng.choice(tr, size=min(args.batch, len(tr)))
        r = sample_references(pairs, t, tr, rng)
        loss = loss_of(bridge_inputs(pairs.landmarks[r], pairs.landmarks[t]), targets(pairs, t, r))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        running.append(float(loss.detach()))
        if step % args.log_every == 0 or step == end:
            history.append({"step": step, "train_loss": float(np.mean(running)), "val_loss": validate()})
            running = []
            log(f"step {step}: loss {history[-1]['train_loss']:.4f} val_loss {history[-1]['val_loss']:.4f} "
                f"({step / max(time.time() - t_start, 1e-9):.0f} steps/s)")
    metrics = evaluate(model, pairs, tr, va, va_ref) if len(va) else {}
    metrics.update(val_loss_start=history[0]["val_loss"], val_loss_end=history[-1]["val_loss"])
    log("held-out: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()))
    save_bridge(model, out, {"step": step, "history": history[-50:], "metrics": metrics, "clips": pairs.names,
                             "stage1_architecture": stage1_architecture(args.architecture)})
    save_optimizer(opt, optim_path, step)
    log(f"saved {out}")
    return {"out": out, "history": history, "metrics": metrics}


def evaluate(model, pairs: Pairs, tr: np.ndarray, va: np.ndarray, va_ref: np.ndarray) -> dict:
    """Held-out R^2 of z and pose, the z error left against holding the reference's z, and the Pearson r of the
    mouth principal component (predicted vs true)."""
    import torch

    model.eval()
    with torch.no_grad():
        pred = model(torch.as_tensor(bridge_inputs(pairs.landmarks[va_ref], pairs.landmarks[va])))
    dz, dpose = (p.numpy() for p in model.split(pred))
    z_hat, pose_hat = pairs.z[va_ref] + dz, pairs.pose[va_ref] + dpose
    mean, direction, pc, r_train = mouth_component(pairs, tr)
    no_change = float(((pairs.z[va] - pairs.z[va_ref]) ** 2).sum())
    return {
        "z_r2": r_squared(pairs.z[va], z_hat), "pose_r2": r_squared(pairs.pose[va], pose_hat),
        # squared z error left, against holding the reference's z (the untrained bridge): < 1 is better
        "z_error_ratio": float(((pairs.z[va] - z_hat) ** 2).sum() / no_change) if no_change > 0 else float("nan"),
        "mouth_pc": pc, "mouth_pc_gap_r_train": r_train,
        "mouth_pc_r": pearson((pairs.z[va] - mean) @ direction, (z_hat - mean) @ direction),
        "held_out_frames": int(len(va)),
    }


def r_squared(y: np.ndarray, y_hat: np.ndarray) -> float:
    """1 - SSE / SST over all entries (per-dimension means)."""
    y = np.asarray(y, np.float64)
    sst = ((y - y.mean(0)) ** 2).sum()
    return float(1.0 - ((y - y_hat) ** 2).sum() / sst) if sst > 0 else float("nan")


def main(argv: list[str] | None = None) -> int:
    train(parse_args(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``emoavatar train emohead-a2e --data CLIPS_DIR --out a2e.safetensors [--hyperplanes hp.npz]``

Trains the audio-expression module (EmoHead §III-D) on preprocessed clips (``preprocess.py``):
features ``feat_<kind>`` -> ``alpha``, with the many-to-one contrastive regression loss

    L = ‖α^A − α̂^A‖₂ + ρ ‖α^Ā − α̂^A‖₂,   α̂ = α̃ + τ ŵ_z          (eq. 13–14, ρ = 0.5)

where α^Ā is from another identity with the same emotion (same sentence when there is one,
time-aligned proportionally). Adam, lr 5e-4. Checkpoints (safetensors + JSON) every
``--save-every`` iterations and at the end; ``--resume`` continues from the optimizer state.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from emoavatar.emotions import EMOTIONS
from emoavatar.errors import ConfigError
from emoavatar.optimizer_state import load_optimizer, optimizer_path, save_optimizer
from emoavatar.training import add_run_options, trainer_parser, with_torch_threads


def clip_paths(data: str | Path) -> list[Path]:
    """The clip ``.npz`` files under ``data`` (or ``data`` itself)."""
    from .preprocess import is_clip_file

    data = Path(data)
    paths = [data] if data.is_file() else sorted(p for p in data.rglob("*.npz") if is_clip_file(p))
    if not paths:
        raise ConfigError(f"no preprocessed clips (.npz) under {data}",
                          fix="run `emoavatar train emohead-preprocess --dataset ... --out DIR` first")
    return paths


@dataclass
class ClipData:
    feats: dict[str, np.ndarray]
    alpha: np.ndarray
    emotion: int
    identity: str
    sentence: str


def load_clips(paths: list[Path], kinds: list[str] | None) -> tuple[list[ClipData], list[str], str]:
    from .preprocess import load_clip

    raw = [load_clip(p) for p in paths]
    raw = [c for c in raw if "alpha" in c.arrays]
    if not raw:
        raise ConfigError("no preprocessed clip has alpha: apply a basis when preprocessing")
    common = set.intersection(*(set(c.features()) for c in raw))
    kinds = kinds or sorted(common)
    missing = [k for k in kinds if k not in common]
    if missing or not kinds:
        raise ConfigError(f"feature kind(s) {missing or kinds} not in every clip (common: {sorted(common)})")
    clips = []
    for c in raw:
        f = c.features()
        n = min(len(c["alpha"]), *(len(f[k]) for k in kinds))
        clips.append(ClipData({k: f[k][:n].astype(np.float32) for k in kinds}, c["alpha"][:n].astype(np.float32),
                              EMOTIONS.index(c.meta["emotion"]), str(c.meta.get("identity")),
                              str(c.meta.get("sentence"))))
    return clips, kinds, str(raw[0].meta.get("basis", ""))


def partners(clips: list[ClipData], pool: list[ClipData]) -> list[list[int]]:
    """For each clip: indices into ``pool`` of clips of another identity with the same emotion
    (the same sentence first, when the pool has it)."""
    out = []
    for c in clips:
        same = [j for j, o in enumerate(pool) if o.identity != c.identity and o.emotion == c.emotion]
        best = [j for j in same if pool[j].sentence == c.sentence]
        out.append(best or same)
    return out


class Batcher:
    """Random windows of ``seq`` frames (plus n context frames, silence before frame 0)."""

    def __init__(self, clips: list[ClipData], pool: list[ClipData], seq: int, context: int,
                 silence: dict[str, np.ndarray], seed: int) -> None:
        self.clips, self.pool, self.context, self.silence = clips, pool, context, silence
        self.partner = partners(clips, pool)
        self.seq = min(seq, min(len(c.alpha) for c in clips))
        self.rng = np.random.default_rng(seed)

    def window(self, ci: int, s: int, length: int | None = None) -> dict[str, Any]:
        c, n = self.clips[ci], self.context
        L = length or self.seq
        feats = {}
        for k, v in c.feats.items():
            idx = np.arange(s - n, s + L)
            rows = v[np.clip(idx, 0, None)]
            rows[idx < 0] = self.silence[k]
            feats[k] = rows
        alpha = c.alpha[s:s + L]
        part, has = np.zeros_like(alpha), 0.0
        if self.partner[ci]:
            p = self.pool[self.partner[ci][int(self.rng.integers(len(self.partner[ci])))]]
            j = np.clip(np.round(np.arange(s, s + L) * len(p.alpha) / len(c.alpha)).astype(int), 0, len(p.alpha) - 1)
            part, has = p.alpha[j], 1.0
        return {"feats": feats, "alpha": alpha, "partner": part, "has_partner": has, "emotion": c.emotion}

    def sample(self, batch: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(batch):
            ci = int(self.rng.integers(len(self.clips)))
            s = int(self.rng.integers(0, len(self.clips[ci].alpha) - self.seq + 1))
            out.append(self.window(ci, s))
        return out


def collate(items: list[dict[str, Any]], device: str):
    import torch

    feats = {k: torch.as_tensor(np.stack([it["feats"][k] for it in items]), device=device) for k in items[0]["feats"]}
    t = {key: torch.as_tensor(np.stack([np.asarray(it[key], np.float32) for it in items]), device=device)
         for key in ("alpha", "partner", "has_partner")}
    emo = torch.as_tensor([it["emotion"] for it in items], device=device)
    return feats, t["alpha"], t["partner"], t["has_partner"], emo


def contrastive_loss(model, hyper, batch, context: int, rho: float):
    """eq. 13 over the non-context frames; returns (total, regression term)."""
    from .fusedattn import refine

    feats, alpha, partner, has, emo = batch
    a_t, tau = model(feats)
    a_t, tau = a_t[:, context:], tau[:, context:]
    w_z = hyper[emo][:, None, :]  # [B, 1, k] unit normal of the clip's emotion
    a_hat = refine(a_t, tau, w_z)  # eq. 14
    reg = (alpha - a_hat).norm(dim=-1).mean()
    other = ((partner - a_hat).norm(dim=-1).mean(1) * has).sum() / has.sum().clamp(min=1)
    return reg + rho * other, reg


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = trainer_parser("emohead-a2e", __doc__, data="folder of preprocessed clips (.npz)",
                       out="checkpoint path (.safetensors; .json written next to it)")
    p.add_argument("--hyperplanes", help="hyperplanes file from `train emohead-hyperplane` (w_z of eq. 9)")
    p.add_argument("--features", nargs="*", help="feature kinds to use (default: all common to the clips)")
    p.add_argument("--role", action="append", default=[], metavar="KIND=ROLE",
                   help="assign a feature kind to audio|emotion|text (default by name)")
    p.add_argument("--iters", type=int, default=20000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=32, help="frames per training window")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--rho", type=float, default=0.5)
    p.add_argument("--d", type=int, default=512)
    p.add_argument("--dh", type=int, default=512)
    p.add_argument("--window", type=int, default=5, help="n neighbouring frames of FusedAttn")
    p.add_argument("--ffn-hidden", type=int, nargs="+", default=[512, 256, 256, 128])
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--save-every", type=int, default=2000)
    p.add_argument("--log-every", type=int, default=100)
    add_run_options(p)
    return p.parse_args(argv)


def evaluate(model, hyper, val: list[dict[str, Any]], context: int, rho: float, device: str) -> dict[str, float]:
    import torch

    model.eval()
    with torch.no_grad():
        tot = reg = 0.0
        n = 0
        for it in val:
            batch = collate([it], device)
            t, r = contrastive_loss(model, hyper, batch, context, rho)
            tot, reg = tot + float(t), reg + float(r)
            n += 1
    model.train()
    return {"val_loss": tot / max(n, 1), "val_reg": reg / max(n, 1)} if n else {}


@with_torch_threads
def train(args: argparse.Namespace, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run training (``--threads`` for its length); returns ``{"history": [...], "out": path}`` (used by the tests)."""
    import torch

    from .a2e import build_model, default_arch, load_checkpoint, save_checkpoint
    from .hyperplanes_file import read_normals

    torch.manual_seed(args.seed)
    out = Path(args.out)
    clips, kinds, basis = load_clips(clip_paths(args.data), args.features)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(clips))
    n_val = round(len(clips) * args.val_fraction) if len(clips) > 1 else 0
    n_val = min(max(n_val, 1 if args.val_fraction > 0 and len(clips) > 1 else 0), len(clips) - 1)
    val_clips, train_clips = [clips[i] for i in order[:n_val]], [clips[i] for i in order[n_val:]]
    roles = dict(r.split("=", 1) for r in args.role)
    k = clips[0].alpha.shape[1]
    arch = default_arch({kd: clips[0].feats[kd].shape[1] for kd in kinds}, roles, d=args.d, dh=args.dh,
                        window=args.window, k=k, ffn_hidden=list(args.ffn_hidden))
    hyper_np = np.zeros((len(EMOTIONS), k), np.float32)
    if args.hyperplanes:
        hyper_np = read_normals(args.hyperplanes)
        if hyper_np.shape[1] != k:
            raise ConfigError(f"hyperplanes have k={hyper_np.shape[1]} but the clips' alpha has k={k}")
    step = 0
    if args.resume and out.is_file():
        model, meta, hyper_np = load_checkpoint(out, args.device)
        model.train()
        arch = meta["arch"]
        step = int(meta.get("train", {}).get("step", 0))
        log(f"resumed from {out} at iteration {step}")
    else:
        model = build_model(arch).to(args.device)
    hyper = torch.as_tensor(hyper_np, device=args.device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    if args.resume and optimizer_path(out).is_file():
        load_optimizer(opt, optimizer_path(out))
    silence = {kd: np.zeros(clips[0].feats[kd].shape[1], np.float32) for kd in kinds}
    batcher = Batcher(train_clips, train_clips, args.seq, args.window, silence, args.seed)
    val_items = []
    if val_clips:  # whole val clips, partners drawn (once, seeded) from the training clips
        vb = Batcher(val_clips, train_clips, args.seq, args.window, silence, args.seed + 1)
        val_items = [vb.window(i, 0, len(c.alpha)) for i, c in enumerate(val_clips)]
    history: list[dict[str, float]] = []
    info = {"basis": basis, "features": kinds, "hyperplanes_file": args.hyperplanes, "rho": args.rho, "lr": args.lr}

    def checkpoint() -> None:
        save_checkpoint(out, model, arch, hyper_np, **info,
                        train={"step": step, "history": history[-20:]})
        save_optimizer(opt, optimizer_path(out), step)

    if val_items:
        history.append({"step": step, **evaluate(model, hyper, val_items, args.window, args.rho, args.device)})
        log(f"iteration {step}: val_loss {history[-1]['val_loss']:.4f}")
    t0, running = time.time(), []
    while step < args.iters:
        batch = collate(batcher.sample(args.batch), args.device)
        loss, _reg = contrastive_loss(model, hyper, batch, args.window, args.rho)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        running.append(float(loss.detach()))
        if step % args.log_every == 0 or step == args.iters:
            rate = step / max(time.time() - t0, 1e-9)
            log(f"iteration {step}/{args.iters}: loss {np.mean(running):.4f} ({rate:.1f} it/s)")
            running = []
        if val_items and (step % args.val_every == 0 or step == args.iters):
            history.append({"step": step, **evaluate(model, hyper, val_items, args.window, args.rho, args.device)})
            log(f"iteration {step}: val_loss {history[-1]['val_loss']:.4f} val_reg {history[-1]['val_reg']:.4f}")
        if step % args.save_every == 0:
            checkpoint()
    checkpoint()
    log(f"saved {out}")
    return {"history": history, "out": out, "val_clips": val_clips, "kinds": kinds}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    train(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


"""``emoavatar train moee-latents --data CLIPS --out moee.safetensors [--prepare mead|crema-d|manifest ROOT]``

Aligns text, audio and AU inputs into the shared emotion latent of the label anchors and trains
the experts' gates (MoEE's emotion-to-latents, Fig. 4), on prepared labelled clips (:mod:`.data`).

The label anchors (eq. E) are the fixed frame of the latent space; per batch of clips with
labels y, for each control m ∈ {text, audio, AU}:

    L_align = CE(−‖z_m − c_v‖² / κ over v, y) + ‖z_m − c_y‖²                      (alignment)

and the gates are trained with *masked noisy emotion sampling*: each latent (label, text,
audio, AU, and random two-emotion label mixes with mix weights m) is masked to the null latent
with probability p (target: neutral) and otherwise noised, ``z̃ = z + σ ε``; the targets are
the (soft) labels:

    L_gate = CE(g(z̃), y) + mean_r CE(π_r(z̃), y),   L_au = ‖Σ_r M_r ⊙ Σ_k π_{r,k} a_k(z_au) − a‖²

The paper names the sampling strategy (its Fig. 5) without details; masking to the null
emotion (as in classifier-free guidance) and Gaussian latent noise are our reading of it.
Total ``L = L_align + L_gate + 0.1 L_au``, Adam. Checkpoints (safetensors + JSON, optimizer
state in ``OUT.optim.safetensors``) every ``--save-every`` steps and at the end; ``--resume``
continues from them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from emoavatar.errors import ConfigError
from emoavatar.optimizer_state import load_optimizer, optimizer_path, save_optimizer
from emoavatar.training import add_run_options, trainer_parser, with_torch_threads

from .audio import pool_features
from .data import PARAPHRASES, Clip, load_clips, prepare

KAPPA = 0.5


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = trainer_parser("moee-latents", __doc__, data="folder of prepared clips (.npz), written by --prepare",
                       out="checkpoint path (.safetensors; .json beside it)")
    p.add_argument("--prepare", nargs=2, metavar=("LAYOUT", "ROOT"), help="first prepare clips from a dataset "
                   "(mead, crema-d, manifest) into --data")
    p.add_argument("--encoder", action="append", help="audio encoder(s) for --prepare (default: prosody)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--mask-prob", type=float, default=0.1, help="masked emotion sampling: P(null latent)")
    p.add_argument("--noise", type=float, default=0.15, help="noisy emotion sampling: σ of the latent noise")
    p.add_argument("--window", type=float, default=1.5, help="seconds of audio pooled per frame")
    p.add_argument("--text-model", help="transformers text encoder (default: the packaged MiniLM)")
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--log-every", type=int, default=50)
    add_run_options(p, device=False, threads=1,
                    threads_help="torch threads (0 = torch default; the model is small, one thread is fastest)")
    return p.parse_args(argv)


class Batches:
    """Random clips with one random frame's pooled audio, a text and an AU vector each."""

    def __init__(self, clips: list[Clip], kinds: list[str], window: float, vocabulary: tuple[str, ...], seed: int):
        from .facs import prototype_vector

        self.clips, self.kinds, self.vocabulary = clips, kinds, vocabulary
        self.pooled = [{k: pool_features(c.feats[k], c.fps, window) for k in kinds} for c in clips]
        self.proto = {e: np.array(prototype_vector(e), np.float32) for e in vocabulary}
        self.rng = np.random.default_rng(seed)

    def text_of(self, clip: Clip) -> str:
        if clip.text:
            return clip.text
        options = PARAPHRASES[clip.emotion]
        return options[int(self.rng.integers(len(options)))]

    def au_of(self, clip: Clip) -> np.ndarray:
        if clip.au is not None:
            return clip.au
        proto = self.proto[clip.emotion]  # the label's FACS pattern at the clip's level, jittered
        jitter = 1.0 + 0.1 * self.rng.standard_normal(len(proto))
        return np.clip(proto * (0.5 + 0.2 * clip.level) * jitter, 0.0, None).astype(np.float32)

    def sample(self, n: int):
        idx = self.rng.integers(len(self.clips), size=n)
        y = np.array([self.vocabulary.index(self.clips[i].emotion) for i in idx])
        audio = {}
        for k in self.kinds:
            rows = []
            for i in idx:
                p = self.pooled[i][k]
                rows.append(p[int(self.rng.integers(len(p)))])
            audio[k] = np.stack(rows)
        texts = [self.text_of(self.clips[i]) for i in idx]
        au = np.stack([self.au_of(self.clips[i]) for i in idx])
        return y, audio, texts, au


def modality_latents(model, clips: list[Clip], kinds: list[str], window: float) -> dict[str, np.ndarray]:
    """Per-clip latents of each control: label, text (the clip's, or its label's first paraphrase),
    audio (mean of the per-frame latents)."""
    import torch

    voc = model.settings.vocabulary
    with torch.no_grad():
        onehot = torch.zeros(len(clips), len(voc))
        onehot[torch.arange(len(clips)), torch.tensor([voc.index(c.emotion) for c in clips])] = 1.0
        label = model.latents.label_latent(onehot)
        text = model.text_latent([c.text or PARAPHRASES[c.emotion][0] for c in clips])
        audio = torch.stack([model.latents.audio_latent(
            {k: torch.from_numpy(pool_features(c.feats[k], c.fps, window)) for k in kinds}).mean(0) for c in clips])
    return {"label": label.numpy(), "text": text.numpy(), "audio": audio.numpy()}


def latent_separation(model, clips: list[Clip], kinds: list[str], window: float, limit: int = 512) -> dict[str, float]:
    """Cross-control distances: mean ‖z_m(i) − z_m'(j)‖ over pairs of different controls m ≠ m' for
    clips of the same emotion (``same``) and of different emotions (``other``); ``nearest``: the
    fraction of (clip, control) latents whose nearest other-control latent has the same emotion.
    Over at most ``limit`` clips (an evenly spaced subset)."""
    if len(clips) > limit:
        clips = [clips[i] for i in np.linspace(0, len(clips) - 1, limit).astype(int)]
    lat = modality_latents(model, clips, kinds, window)
    names = list(lat)
    y = np.array([c.emotion for c in clips])
    same, other, hits, total = [], [], 0, 0
    for a in names:
        for i in range(len(clips)):
            best, best_same = np.inf, False
            for b in names:
                if b == a:
                    continue
                d = np.linalg.norm(lat[b] - lat[a][i], axis=1)
                same.extend(d[y == y[i]])
                other.extend(d[y != y[i]])
                j = int(d.argmin())
                if d[j] < best:
                    best, best_same = d[j], y[j] == y[i]
            hits += int(best_same)
            total += 1
    return {"same": float(np.mean(same)), "other": float(np.mean(other)), "nearest": hits / max(total, 1)}


@with_torch_threads
def train(args: argparse.Namespace) -> dict:
    """Train (``--threads`` for the run's length, restored afterwards); returns the final report (the tests read it)."""
    import torch
    import torch.nn.functional as F

    from .model import MoEE, MoeeSettings
    from .text import TextEncoder

    if args.steps < 1 or args.batch < 2:
        raise ConfigError(f"--steps must be >= 1 and --batch >= 2 (got {args.steps}, {args.batch})")
    torch.manual_seed(args.seed)
    out = Path(args.out).with_suffix(".safetensors")
    if args.prepare:
        n = prepare(args.prepare[0], args.prepare[1], args.data, args.encoder or ["prosody"])
        print(f"prepared {n} clips into {args.data}", flush=True)
    clips = load_clips(args.data)
    kinds = sorted(set.intersection(*(set(c.feats) for c in clips)))
    if not kinds:
        raise ConfigError("the prepared clips share no feature kind")
    dims = {k: int(clips[0].feats[k].shape[1]) for k in kinds}
    step = 0
    if args.resume and out.is_file():
        model, _ = MoEE.load(out, TextEncoder(args.text_model) if args.text_model else None)
    else:
        settings = MoeeSettings(latent_dim=args.latent_dim, seed=args.seed, text_model=args.text_model,
                                audio_dims=dims, audio_window=args.window)
        model = MoEE(settings)
        for k in kinds:  # standardise eq. U's input with the training data's statistics
            pooled = np.concatenate([pool_features(c.feats[k], c.fps, args.window) for c in clips])
            model.latents.audio[k].mean.copy_(torch.from_numpy(pooled.mean(0)))
            model.latents.audio[k].std.copy_(torch.from_numpy(pooled.std(0) + 1e-3))
    missing = [k for k in kinds if k not in model.latents.audio]
    if missing:
        raise ConfigError(f"checkpoint {out} has no audio head for {missing}", fix="resume with the same data")
    model.ensure_text()
    voc = model.settings.vocabulary
    lat = model.latents
    lat.label_anchors.requires_grad_(False)  # the latent space's frame
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=args.lr)
    if args.resume and optimizer_path(out).is_file():
        step = load_optimizer(opt, optimizer_path(out))
    batches = Batches(clips, kinds, args.window, voc, args.seed + step)
    text_cache: dict[str, torch.Tensor] = {}
    slots = model.experts.slots
    slot_of = torch.tensor([slots.index(e) if e in slots else -1 for e in voc])
    experts = [voc.index(e) for e in slots[1:]]
    history: list[float] = []
    align_history: list[float] = []
    t0 = time.time()

    def embed(texts: list[str]) -> torch.Tensor:
        todo = [t for t in dict.fromkeys(texts) if t not in text_cache]
        if todo:
            for t, e in zip(todo, model.text_encoder.embed(todo)):
                text_cache[t] = torch.from_numpy(e)
        return torch.stack([text_cache[t] for t in texts])

    def gate_loss(z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Masked noisy sampling, then soft cross-entropy of the global and local gates."""
        masked = torch.rand(len(z)) < args.mask_prob
        z = torch.where(masked[:, None], torch.zeros_like(z), z + args.noise * torch.randn_like(z))
        neutral = torch.zeros_like(target)
        neutral[:, 0] = 1.0
        target = torch.where(masked[:, None], neutral, target)
        g, pi = model.experts(z)
        ce = -(target * torch.log(g.clamp_min(1e-8))).sum(-1).mean()
        return ce + -(target[:, None] * torch.log(pi.clamp_min(1e-8))).sum(-1).mean()

    while step < args.steps:
        y_np, audio_np, texts, au_np = batches.sample(args.batch)
        y = torch.from_numpy(y_np)
        anchors = lat.label_anchors
        z = {"text": lat.text_latent(embed(texts)),
             "audio": lat.audio_latent({k: torch.from_numpy(v) for k, v in audio_np.items()}),
             "au": lat.au_latent(torch.from_numpy(au_np))}
        loss_align = sum(F.cross_entropy(-torch.cdist(zm, anchors) ** 2 / KAPPA, y)
                         + ((zm - anchors[y]) ** 2).sum(-1).mean() for zm in z.values())
        ok = slot_of[y] >= 0  # emotions with an expert (or neutral) train the gates
        onehot = F.one_hot(slot_of[y].clamp_min(0), len(slots)).float()
        loss_gate = sum(gate_loss(zm[ok], onehot[ok]) for zm in [lat.label_latent(F.one_hot(y, len(voc)).float()),
                                                                 *z.values()]) if ok.any() else torch.zeros(())
        pair = torch.stack([torch.randperm(len(experts))[:2] for _ in range(args.batch)])  # compound mixes
        w = torch.rand(args.batch, 1)
        mix_slots = torch.zeros(args.batch, len(slots))
        mix_slots.scatter_add_(1, pair + 1, torch.cat([w, 1 - w], 1))
        mix_voc = torch.zeros(args.batch, len(voc))
        mix_voc[:, [voc.index(s) for s in slots]] = mix_slots
        loss_gate = loss_gate + gate_loss(lat.label_latent(mix_voc), mix_slots)
        _, pi = model.experts(z["au"].detach())
        loss_au = ((model.experts.mixed_aus(z["au"].detach(), pi) - torch.from_numpy(au_np)) ** 2).sum(-1).mean()
        loss = loss_align + loss_gate + 0.1 * loss_au
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        history.append(float(loss.detach()))
        align_history.append(float(loss_align.detach()))
        if step % args.log_every == 0 or step == 1:
            print(f"step {step} loss {history[-1]:.4f} (align {align_history[-1]:.4f} gate {float(loss_gate.detach()):.4f} "
                  f"au {float(loss_au.detach()):.4f}) {time.time() - t0:.1f}s", flush=True)
        if step % args.save_every == 0 or step == args.steps:
            sep = latent_separation(model, clips, kinds, args.window)
            model.save(out, {"step": step, "loss": float(np.mean(history[-10:])), "separation": sep,
                             "kinds": kinds})
            save_optimizer(opt, optimizer_path(out), step)
    sep = latent_separation(model, clips, kinds, args.window)
    report = {"step": step, "first_loss": history[0] if history else None,
              "last_loss": float(np.mean(history[-10:])) if history else None,
              "first_align": align_history[0] if history else None,
              "last_align": float(np.mean(align_history[-10:])) if history else None, "separation": sep}
    print(json.dumps(report), flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    train(parse_args(list(sys.argv[1:] if argv is None else argv)))
    return 0

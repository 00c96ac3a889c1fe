"""Checkpoints of the MoEE diffusion renderer.

A trained folder holds ``net.safetensors`` (the whole Net, experts included), ``vae/`` (diffusers
``save_pretrained``), ``moee.json`` (``{"format", "backbone": BackboneConfig, "resolution", "stage",
"step", "expert_keys"}``) and, while training, ``train_state.pt`` (optimizer, step, RNG; read with
``torch.load(weights_only=True)`` for ``--resume``). Published weights load from Hallo's ``net.pth``
(:func:`~.backbone.load_hallo`) plus SD-1.5's VAE (``from_pretrained``, local folder or cached hub id).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from emoavatar.errors import WeightsNotFoundError
from safetensors.torch import load_file, save_file

from .backbone import BackboneConfig, Net, is_expert_key, load_hallo

FORMAT = "emoavatar-moee-diffusion/1"
NET_FILE, CONFIG_FILE, VAE_DIR, TRAIN_STATE = "net.safetensors", "moee.json", "vae", "train_state.pt"
log = logging.getLogger(__name__)

VAE_HELP = ("SD-1.5's VAE: a diffusers folder (config.json + diffusion_pytorch_model.safetensors), e.g. from the hub repo "
            "stabilityai/sd-vae-ft-mse (CreativeML OpenRAIL-M), or that hub id once cached; set `vae:` to it")


def save_checkpoint(directory: str | Path, net: Net, vae, meta: dict) -> Path:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    tmp = d / (NET_FILE + ".partial")
    save_file(tensors, str(tmp))
    tmp.replace(d / NET_FILE)
    vae.save_pretrained(d / VAE_DIR, safe_serialization=True)
    info = {**meta, "format": FORMAT, "backbone": net.config.to_dict(),
            "expert_keys": sorted(k for k in tensors if is_expert_key(k))}
    tmp = d / (CONFIG_FILE + ".partial")
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(d / CONFIG_FILE)
    return d


def read_meta(directory: str | Path) -> dict:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise WeightsNotFoundError(f"no MoEE diffusion checkpoint in {directory} (missing {CONFIG_FILE})",
                                   fix="point `checkpoint:` at a folder written by `emoavatar train moee-stage1/2`")
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT:
        raise WeightsNotFoundError(f"{path}: format {meta.get('format')!r} is not {FORMAT}", fix="retrain with this version")
    return meta


def load_checkpoint(directory: str | Path) -> tuple[Net, object, dict]:
    """Net (strict, experts included) + VAE + meta from a trained folder."""

    d = Path(directory)
    meta = read_meta(d)
    net = Net(BackboneConfig.from_dict(meta["backbone"]))
    if not (d / NET_FILE).is_file():
        raise WeightsNotFoundError(f"{d / NET_FILE} is missing", fix="re-run the training that wrote this folder")
    net.load_state_dict(load_file(str(d / NET_FILE)), strict=True)
    vae = load_vae(str(d / VAE_DIR), local_files_only=True)
    return net, vae, meta


def load_vae(source: str | None, local_files_only: bool = True):
    from diffusers import AutoencoderKL

    if not source:
        raise WeightsNotFoundError("no VAE configured", fix=VAE_HELP)
    try:
        return AutoencoderKL.from_pretrained(source, local_files_only=local_files_only)
    except (OSError, ValueError, EnvironmentError) as e:
        raise WeightsNotFoundError(f"cannot load the VAE from {source!r}: {str(e).splitlines()[0][:200]}", fix=VAE_HELP) from e


def load_published(backbone: str | None, vae: str | None, local_files_only: bool = True, latent_dim: int = 0):
    """Real-size Net from Hallo's ``net.pth`` (experts fresh: zero-initialised outputs) + SD-1.5's VAE."""
    if not backbone:
        raise WeightsNotFoundError(
            "moee-diffusion has no weights: set `checkpoint:` (a trained folder) or `backbone:` (Hallo's net.pth)",
            fix="download net.pth from the hub repo fudan-generative-vision/hallo (MIT) and set backbone: PATH")
    from pathlib import Path as _P

    if not _P(backbone).is_file():  # before allocating ~2 B parameters
        raise WeightsNotFoundError(
            f"Hallo backbone weights not found: {backbone}",
            fix="download net.pth from the hub repo fudan-generative-vision/hallo (folder hallo/, MIT licence; it builds "
                "on SD-1.5 under CreativeML OpenRAIL-M) and set `backbone:` to its path")
    vae_model = load_vae(vae, local_files_only)
    cfg = BackboneConfig.real()
    cfg.latent_dim = latent_dim
    net = Net(cfg)
    extra = load_hallo(net, backbone)
    log.info("moee-diffusion: loaded %s; %d expert keys not in it (fresh): %s", backbone, len(extra), extra[:4])
    return net, vae_model, {"expert_keys_missing": extra, "resolution": 512}


def save_train_state(directory: str | Path, optimizer: torch.optim.Optimizer, step: int) -> None:
    d = Path(directory)
    tmp = d / (TRAIN_STATE + ".partial")
    torch.save({"optimizer": optimizer.state_dict(), "step": torch.tensor(step), "rng": torch.get_rng_state()}, tmp)
    tmp.replace(d / TRAIN_STATE)


def load_train_state(directory: str | Path, optimizer: torch.optim.Optimizer) -> int:
    state = torch.load(Path(directory) / TRAIN_STATE, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    return int(state["step"])

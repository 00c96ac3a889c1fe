"""The learned regressor of ``landmarks-to-emoportraits`` and its safetensors file.

Not part of EMOPortraits: our bridge from ``motion:landmarks68`` to the model's expression latent z and
head pose. Given the inputs of :func:`.bridge_features.bridge_inputs` x = (reference shape, shape change,
rigid change), an MLP g with a linear skip predicts the change of (z, pose) from the reference's:

    (dz, dpose) = sigma * ( g(ref, dshape, drigid) - g(ref, 0, 0) )

so identical landmarks give exactly no change (intensity 0 reproduces the portrait), and the prediction
depends on the reference face (a portrait's identity) as well as on the change. The output layers start at
zero (an untrained bridge predicts no change, the baseline training must beat). Inputs are standardised
with the training set's statistics; sigma is the training targets' standard deviation per output.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from .bridge_features import N_INPUT, N_SHAPE

POSE_DIM = 9
FORMAT = "emoavatar-landmarks-to-emoportraits/1"


class LandmarkBridge(nn.Module):
    def __init__(self, z_dim: int, hidden: int = 128, layers: int = 2, n_input: int = N_INPUT) -> None:
        super().__init__()
        self.arch = {"z_dim": z_dim, "hidden": hidden, "layers": layers, "n_input": n_input}
        dims = [n_input] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            blocks += [nn.Linear(a, b), nn.SiLU()]
        self.mlp = nn.Sequential(*blocks, nn.Linear(dims[-1], z_dim + POSE_DIM))
        self.skip = nn.Linear(n_input, z_dim + POSE_DIM, bias=False)
        for layer in (self.mlp[-1], self.skip):  # an untrained bridge predicts no change: the portrait itself
            nn.init.zeros_(layer.weight)
        self.register_buffer("in_mean", torch.zeros(n_input))
        self.register_buffer("in_std", torch.ones(n_input))
        self.register_buffer("out_std", torch.ones(z_dim + POSE_DIM))

    @property
    def z_dim(self) -> int:
        return self.arch["z_dim"]

    def g(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.in_mean) / self.in_std
        return self.mlp(x) + self.skip(x)

    def forward(self, x: torch.Tensor, scaled: bool = True) -> torch.Tensor:
        """``x [B, N_INPUT]`` -> change of (z, pose) ``[B, Z + 9]`` (in target std units when not ``scaled``)."""
        still = x.clone()
        still[:, N_SHAPE:] = 0.0  # the reference itself: no shape change, no rigid change
        out = self.g(x) - self.g(still)
        return out * self.out_std if scaled else out

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return out[:, :self.z_dim], out[:, self.z_dim:]


def save_bridge(model: LandmarkBridge, path: Path, info: dict | None = None) -> Path:
    """Write the weights and, in the safetensors metadata, the architecture and training facts."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(sd, str(tmp), metadata={"format": FORMAT, "arch": json.dumps(model.arch),
                                      "info": json.dumps(info or {})})
    tmp.replace(path)
    return path


def read_bridge(path: Path, device: str = "cpu") -> tuple[LandmarkBridge, dict]:
    """Load a bridge file (the caller has checked that it exists); returns (model, training info)."""
    from emoavatar.errors import WeightsNotFoundError
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != FORMAT:
        raise WeightsNotFoundError(f"{path} is not a landmarks-to-emoportraits bridge file (format {meta.get('format')!r})",
                                   fix="train one with `emoavatar train landmarks-to-emoportraits`")
    model = LandmarkBridge(**json.loads(meta["arch"]))
    model.load_state_dict(load_file(str(path)), strict=True)
    return model.eval().to(device), json.loads(meta.get("info") or "{}")

"""``3ddfa`` expression basis: a 3DDFA_V2-style regressor (Guo et al., ECCV 2020, the paper's [12]).

A MobileNet-v1 (``conv1``/``bn1``, depthwise blocks ``dw2_1`` … ``dw6``, ``fc``) maps a 120×120 face
crop to 62 normalised parameters: 12 pose (a 3×4 camera matrix), 40 shape, 10 expression. α is
the de-normalised ``params[52:62]``.

Weights are the user's: a torch state dict (``.pth``/``.pt``, read with ``weights_only=True``;
a ``{"state_dict": ...}`` wrapper and ``module.`` prefixes are accepted) or ``.safetensors``.
The 62-d parameter mean/std (3DDFA ships them as a pickle, which we do not read) go in an
``.npz``/``.json`` with keys ``mean`` and ``std``; without them parameters stay normalised.
Decoding α to landmarks needs the 68-keypoint rows of a linear face model (``.npz`` with
``u [204]``, ``w_exp [204, 10]``, optionally ``w_shp [204, 40]``), as 3DDFA's BFM provides.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from emoavatar.errors import WeightsNotFoundError

from .basis import BasisCode, ExpressionBasis, apply_pose


def mobilenet_v1(widen: float = 1.0, num_params: int = 62):
    import torch
    from torch import nn

    class DepthWiseBlock(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
            super().__init__()
            self.conv_dw = nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False)
            self.bn_dw = nn.BatchNorm2d(cin)
            self.conv_sep = nn.Conv2d(cin, cout, 1, 1, 0, bias=False)
            self.bn_sep = nn.BatchNorm2d(cout)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.relu(self.bn_dw(self.conv_dw(x)))
            return torch.relu(self.bn_sep(self.conv_sep(x)))

    def c(x: int) -> int:
        return int(x * widen)

    class MobileNetV1(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, c(32), 3, 2, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c(32))
            plan = [("dw2_1", 32, 64, 1), ("dw2_2", 64, 128, 2), ("dw3_1", 128, 128, 1), ("dw3_2", 128, 256, 2),
                    ("dw4_1", 256, 256, 1), ("dw4_2", 256, 512, 2)] + \
                   [(f"dw5_{i}", 512, 512, 1) for i in range(1, 6)] + [("dw5_6", 512, 1024, 2), ("dw6", 1024, 1024, 1)]
            self.names = [p[0] for p in plan]
            for name, cin, cout, stride in plan:
                setattr(self, name, DepthWiseBlock(c(cin), c(cout), stride))
            self.fc = nn.Linear(c(1024), num_params)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.relu(self.bn1(self.conv1(x)))
            for name in self.names:
                x = getattr(self, name)(x)
            return self.fc(x.mean((2, 3)))

    return MobileNetV1()


def _read_state_dict(path: Path) -> dict:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        sd = load_file(str(path))
    else:
        import torch

        sd = torch.load(str(path), map_location="cpu", weights_only=True)
        if isinstance(sd, dict) and "state_dict" in sd:
            sd = sd["state_dict"]
    return {k.removeprefix("module."): v for k, v in sd.items()}


def roi_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """3DDFA-style square crop around 68 landmarks (centre shifted up, 1.58× the size)."""
    x0, y0 = landmarks.min(0)
    x1, y1 = landmarks.max(0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    size = ((x1 - x0) + (y1 - y0)) / 2
    cy = cy - size * 0.14
    size = size * 1.58
    return cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2


class TDDFABasis(ExpressionBasis):
    name = "3ddfa"

    def __init__(self, k: int = 10, weights: str | None = None, param_stats: str | None = None,
                 keypoints: str | None = None, widen: float = 1.0, size: int = 120, bgr: bool = True,
                 device: str = "cpu") -> None:
        super().__init__(k)
        self.options = {"weights": weights, "param_stats": param_stats, "keypoints": keypoints,
                        "widen": widen, "size": size, "bgr": bgr, "device": device}
        self._net = None
        self._mean = np.zeros(62, np.float32)
        self._std = np.ones(62, np.float32)

    def _load(self):
        if self._net is not None:
            return self._net
        opt = self.options
        path = Path(opt["weights"]) if opt["weights"] else None
        if path is None or not path.is_file():
            raise WeightsNotFoundError(f"3DDFA regressor weights not found: {path or '(no path given)'}",
                                       fix="download 3DDFA_V2's mb1_120x120 weights yourself and give "
                                           "create_basis('3ddfa', weights=PATH) (.pth or .safetensors)")
        net = mobilenet_v1(opt["widen"], 62)
        net.load_state_dict(_read_state_dict(path))
        if opt["param_stats"]:
            sp = Path(opt["param_stats"])
            if not sp.is_file():
                raise WeightsNotFoundError(f"3DDFA parameter mean/std file not found: {sp}")
            stats = json.loads(sp.read_text()) if sp.suffix == ".json" else dict(np.load(sp, allow_pickle=False))
            self._mean = np.asarray(stats["mean"], np.float32).reshape(62)
            self._std = np.asarray(stats["std"], np.float32).reshape(62)
        self._net = net.to(opt["device"]).eval()
        return self._net

    def crops(self, landmarks: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """``[T, 3, size, size]`` float32 crops normalised as 3DDFA: (x - 127.5) / 128."""
        import cv2

        s = self.options["size"]
        out = np.empty((len(frames), 3, s, s), np.float32)
        for i, (lm, img) in enumerate(zip(landmarks, frames)):
            x0, y0, x1, y1 = roi_box(np.asarray(lm, np.float32))
            m = np.array([[s / (x1 - x0), 0, -x0 * s / (x1 - x0)], [0, s / (y1 - y0), -y0 * s / (y1 - y0)]], np.float32)
            crop = cv2.warpAffine(img, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            if self.options["bgr"]:
                crop = crop[..., ::-1]
            out[i] = (crop.transpose(2, 0, 1).astype(np.float32) - 127.5) / 128.0
        return out

    def params(self, landmarks: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """De-normalised 62-d parameters ``[T, 62]``."""
        import torch

        net = self._load()
        x = torch.as_tensor(self.crops(landmarks, frames), device=self.options["device"])
        with torch.no_grad():
            p = torch.cat([net(x[i:i + 64]) for i in range(0, len(x), 64)]).cpu().numpy()
        return p * self._std + self._mean

    def encode(self, landmarks: np.ndarray, frames: np.ndarray | None = None) -> BasisCode:
        if frames is None:
            raise ValueError("the 3ddfa basis regresses α from face crops: pass frames [T, H, W, 3]")
        lm = np.asarray(landmarks, np.float32).reshape(-1, 68, 2)
        p = self.params(lm, np.asarray(frames))
        alpha = p[:, 52:52 + self.k]
        pose = np.stack([_pose6(row[:12]) for row in p])
        return BasisCode(alpha.astype(np.float32), pose.astype(np.float32))

    def decode(self, alpha: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray:
        kp = self.options["keypoints"]
        if not kp or not Path(kp).is_file():
            raise WeightsNotFoundError(f"3ddfa decode needs the face model keypoint bases: {kp or '(none given)'}",
                                       fix="give keypoints=PATH.npz with u [204], w_exp [204, 10]")
        z = np.load(kp, allow_pickle=False)
        a = np.asarray(alpha, np.float32).reshape(-1, self.k)
        pts = (z["u"].reshape(1, -1) + a @ z["w_exp"][:, :self.k].T).reshape(len(a), 68, 3)
        pts[..., 1] *= -1  # model y up -> image y down
        if pose is None:
            return pts[..., :2].astype(np.float32)
        return apply_pose(pts, np.asarray(pose, np.float32).reshape(-1, 6))

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {"options": dict(self.options)}


def _pose6(p12: np.ndarray) -> np.ndarray:
    """3×4 camera [sR | t] -> (pitch, yaw, roll, tx, ty, scale)."""
    m = p12.reshape(3, 4)
    r, t = m[:, :3], m[:, 3]
    s = (np.linalg.norm(r[0]) + np.linalg.norm(r[1])) / 2
    r1, r2 = r[0] / max(np.linalg.norm(r[0]), 1e-9), r[1] / max(np.linalg.norm(r[1]), 1e-9)
    rot = np.stack([r1, r2, np.cross(r1, r2)])
    yaw = np.arcsin(np.clip(-rot[2, 0], -1, 1))
    pitch = np.arctan2(rot[2, 1], rot[2, 2])
    roll = np.arctan2(rot[1, 0], rot[0, 0])
    return np.array([pitch, yaw, roll, t[0], t[1], s], np.float32)

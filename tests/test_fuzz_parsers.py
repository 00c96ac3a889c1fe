"""Fuzzing the parsers of user text (issue 12): pipeline YAML, ``--set`` overrides, emotion requests.

The only outcomes allowed are a valid parse or our one-line error (an EmoAvatarError whose
message has no newline and is short), never another exception, within a bound on time and
memory per input. The example budget is fixed (derandomized) to keep CI well under a minute.
"""

from __future__ import annotations

import math
import time
import tracemalloc

import pytest
import yaml
from emoavatar.config import PipelineConfig, parse_config, parse_overrides
from emoavatar.emotions import EmotionRequest, parse_emotion
from emoavatar.errors import EmoAvatarError
from emoavatar.safe_yaml import load_text
from emoavatar.testing.trivial import TRIVIAL_PIPELINE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MAX_SECONDS = 5.0
MAX_BYTES = 64 << 20
MAX_MESSAGE = 2000

YAML_CHARS = st.sampled_from(list("{}[]:,&*!|>-?'\"#%@` \n\t.0123456789eE+") + ["happy", "sad", "a", "x", "nan",
                                                                               ".inf", "use", "with", "at"])
yaml_like = st.lists(YAML_CHARS, max_size=60).map("".join)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(["happy", "sad", "joy", "AU12", "neutral", "from_audio"]))
keys = st.one_of(st.text(max_size=12), st.sampled_from(
    ["emotion", "timeline", "at", "text", "au", "intensity", "transition", "mix", "happy", "sad", "AU12",
     "use", "with", "encoder", "renderer", "fps", "seed", "inputs", "output", "chunk_size", "crf"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(keys, inner, max_size=4)), max_leaves=20)


def bounded(fn, *args):
    """Call ``fn``: a result, or our one-line error (returned); anything else fails the test."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        return fn(*args)
    except EmoAvatarError as e:
        msg = str(e)
        assert "\n" not in msg and len(msg) <= MAX_MESSAGE, msg[:300]
        return e
    finally:
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert elapsed < MAX_SECONDS and peak < MAX_BYTES, (elapsed, peak)


def pipeline_from_text(text: str):
    data = load_text(text, "fuzz.yaml")
    if not isinstance(data, dict):
        return None
    return parse_config(data)


@FUZZ
@given(yaml_like)
def test_pipeline_yaml_text(text):
    out = bounded(pipeline_from_text, text)
    assert out is None or isinstance(out, (PipelineConfig, EmoAvatarError))


@FUZZ
@given(st.dictionaries(keys, values, max_size=6))
def test_pipeline_yaml_structures(extra):
    text = yaml.safe_dump({**TRIVIAL_PIPELINE, **extra})
    out = bounded(pipeline_from_text, text)
    assert isinstance(out, (PipelineConfig, EmoAvatarError))


@FUZZ
@given(st.lists(st.one_of(yaml_like, st.builds("{}={}".format, keys, yaml_like),
                          st.builds("{}.{}={}".format, keys, keys, yaml_like)), max_size=4))
def test_set_overrides(items):
    def apply(items):
        return parse_config(dict(TRIVIAL_PIPELINE), parse_overrides(items))

    out = bounded(apply, items)
    assert isinstance(out, (PipelineConfig, EmoAvatarError))


def check_request(out) -> None:
    if isinstance(out, EmotionRequest):  # a valid parse has finite, normalised weights
        for seg in out.segments:
            assert math.isfinite(seg.start) and all(math.isfinite(w) and w > 0 for w in seg.mix.values())
            assert abs(sum(seg.mix.values()) - 1) < 1e-6
        assert math.isfinite(out.transition) and 0 <= out.intensity <= 1
    else:
        assert isinstance(out, EmoAvatarError)


@FUZZ
@given(st.one_of(yaml_like, st.builds("{{{}}}".format, yaml_like), st.builds("[{}]".format, yaml_like)))
def test_emotion_text(text):
    check_request(bounded(parse_emotion, text))


@FUZZ
@given(values)
def test_emotion_structures(value):
    check_request(bounded(parse_emotion, value))


@pytest.mark.parametrize("text", ["{happy: .nan}", "{happy: .inf}", "[{at: .nan, emotion: sad}]",
                                  "{emotion: happy, transition: .inf}", "happy:nan,sad:1"])
def test_non_finite_emotion_values_are_refused(text):
    with pytest.raises(EmoAvatarError, match="finite"):
        parse_emotion(text)


def test_many_errors_still_make_one_short_line():
    text = yaml.safe_dump({**TRIVIAL_PIPELINE, **{f"bad_key_{i}": i for i in range(5000)}})
    with pytest.raises(EmoAvatarError) as e:
        pipeline_from_text(text)
    assert "and 4995 more" in str(e.value) and len(str(e.value)) < 500 and "\n" not in str(e.value)

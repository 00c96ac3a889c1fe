"""Ports enforced at run time: stages see only declared ports, outputs are checked, encoders are
ordered by what they consume; plugins that break the rules fail with one line naming them."""

import numpy as np
import pytest
from _fakedist import fake_dists  # noqa: F401 - fixture
from emoavatar.errors import PortError
from emoavatar.pipeline import Pipeline
from emoavatar.registry import Registry
from emoavatar.testing.trivial import TRIVIAL_PIPELINE

ROGUE = '''
import numpy as np
from emoavatar.emotions import EMOTIONS
from emoavatar.interfaces import AudioEncoder, EmotionController, MotionGenerator
from emoavatar.spec import ComponentSpec, EmptyConfig
from emoavatar.types import AudioFeatures, EmotionState, Motion


class Peek(EmotionController):
    """Reads features:trivial without declaring it."""
    def control(self, request, features, ctx):
        features["trivial"]
        return EmotionState(np.full((ctx.n_frames, len(EMOTIONS)), 1 / len(EMOTIONS)), np.ones(ctx.n_frames))


class Smuggle(AudioEncoder):
    """Returns a words port it does not declare."""
    def encode(self, audio, ctx):
        return AudioFeatures(np.zeros((ctx.n_frames, 1)), "smuggle", ctx.fps, ports={"words": []})


class Aligner(AudioEncoder):
    def encode(self, audio, ctx):
        words = [("hello", 0.0, 0.5)]
        return AudioFeatures(np.zeros((ctx.n_frames, 1)), "aligned", ctx.fps, ports={"words": words})


class Reader(AudioEncoder):
    """Needs words from another encoder; records what it saw."""
    seen = []
    def encode(self, audio, ctx):
        Reader.seen.append(ctx.ports.get("words"))
        return AudioFeatures(np.ones((ctx.n_frames, 1)), "reader", ctx.fps)


class Crooked(MotionGenerator):
    """landmarks68 with 67 points."""
    def generate(self, features, emotion, portrait, ctx):
        return Motion("landmarks68", {"landmarks68": np.zeros((ctx.n_frames, 67, 2), np.float32)}, ctx.fps)


class NoEmotion(MotionGenerator):
    """Uses the emotion without declaring it."""
    def generate(self, features, emotion, portrait, ctx):
        lm = np.repeat(portrait.face.landmarks[None].astype(np.float32), ctx.n_frames, 0) * emotion.intensity[0]
        return Motion("landmarks68", {"landmarks68": lm}, ctx.fps)


M = "rogue.stages:"
PEEK = ComponentSpec("peek", "controllers", M + "Peek", EmptyConfig, produces=("emotion",))
SMUGGLE = ComponentSpec("smuggle", "encoders", M + "Smuggle", EmptyConfig, produces=("features:smuggle",))
ALIGNER = ComponentSpec("aligner", "encoders", M + "Aligner", EmptyConfig, produces=("features:aligned", "words"))
READER = ComponentSpec("reader", "encoders", M + "Reader", EmptyConfig, consumes=("words",),
                       produces=("features:reader",))
LOOP_A = ComponentSpec("loop-a", "encoders", M + "Reader", EmptyConfig, consumes=("features:b",),
                       produces=("features:a",))
LOOP_B = ComponentSpec("loop-b", "encoders", M + "Reader", EmptyConfig, consumes=("features:a",),
                       produces=("features:b",))
CROOKED = ComponentSpec("crooked", "motion", M + "Crooked", EmptyConfig, consumes=("emotion",),
                        produces=("motion:landmarks68",))
NO_EMOTION = ComponentSpec("no-emotion", "motion", M + "NoEmotion", EmptyConfig, produces=("motion:landmarks68",))
'''

SPECS = ("peek", "smuggle", "aligner", "reader", "loop-a", "loop-b", "crooked", "no-emotion")


@pytest.fixture
def rogue(fake_dists):  # noqa: F811
    groups = {"controllers": ["peek"], "encoders": ["smuggle", "aligner", "reader", "loop-a", "loop-b"],
              "motion": ["crooked", "no-emotion"]}
    eps = {f"emoavatar.{g}": {n: f"rogue.stages:{n.upper().replace('-', '_')}" for n in names}
           for g, names in groups.items()}
    fake_dists("emoavatar-test-rogue", "2.5", eps, {"rogue/__init__.py": "", "rogue/stages.py": ROGUE})
    from emoavatar.testing.trivial import TRIVIAL_SPECS

    return Registry(extra=TRIVIAL_SPECS)


def _run(reg, tmp_path, kit_portrait_path, kit_speech_path, **stages):
    pipe = Pipeline.from_dict({**TRIVIAL_PIPELINE, **stages}, registry=reg)
    return pipe.run(tmp_path / "o.mp4", portrait=kit_portrait_path, audio=kit_speech_path)


def _one_line_naming(err: PortError, *words: str) -> None:
    text = str(err.value)
    assert "\n" not in text and "emoavatar-test-rogue 2.5" in text, text
    for w in words:
        assert w in text, text


def test_reading_an_undeclared_port_fails_naming_the_plugin(rogue, tmp_path, kit_portrait_path, kit_speech_path):
    with pytest.raises(PortError) as err:
        _run(rogue, tmp_path, kit_portrait_path, kit_speech_path, controller={"use": "peek"})
    _one_line_naming(err, "controllers/peek", "read port features:trivial")
    assert not (tmp_path / "o.mp4").exists()
    with pytest.raises(PortError) as err:
        _run(rogue, tmp_path, kit_portrait_path, kit_speech_path, motion={"use": "no-emotion"})
    _one_line_naming(err, "motion/no-emotion", "read port emotion")


def test_returning_an_undeclared_or_malformed_port_fails_naming_the_plugin(rogue, tmp_path, kit_portrait_path,
                                                                          kit_speech_path):
    with pytest.raises(PortError) as err:
        _run(rogue, tmp_path, kit_portrait_path, kit_speech_path, encoder={"use": "smuggle"})
    _one_line_naming(err, "encoders/smuggle", "returned port words")
    with pytest.raises(PortError) as err:
        _run(rogue, tmp_path, kit_portrait_path, kit_speech_path, motion={"use": "crooked"})
    _one_line_naming(err, "motion/crooked", "track 'landmarks68' has shape (50, 67, 2), expected [50,68,2]")


def test_encoders_run_in_dependency_order_and_cycles_are_refused(rogue, tmp_path, kit_portrait_path, kit_speech_path):
    import rogue.stages as stages

    stages.Reader.seen.clear()
    encoders = [{"use": "reader"}, {"use": "trivial-encoder"}, {"use": "aligner"}]  # reader listed first
    _run(rogue, tmp_path, kit_portrait_path, kit_speech_path, encoder=encoders)
    assert stages.Reader.seen == [[("hello", 0.0, 0.5)]]
    pipe = Pipeline.from_dict({**TRIVIAL_PIPELINE, "encoder": [{"use": "loop-a"}, {"use": "loop-b"}]}, registry=rogue)
    problems = [str(p) for p in pipe.validate().problems]
    assert any("cycle" in p and "loop-a" in p and "loop-b" in p for p in problems), problems
    pipe = Pipeline.from_dict({**TRIVIAL_PIPELINE, "encoder": [{"use": "reader"}]}, registry=rogue)
    problems = [str(p) for p in pipe.validate().problems]
    assert any("consumes words" in p for p in problems), problems


def test_declared_optional_port_absent_is_none_and_undeclared_iteration_hides_it():
    from emoavatar.ports import DeclaredFeatures, PortView
    from emoavatar.types import AudioFeatures

    feats = {k: AudioFeatures(np.zeros((3, 1)), k, 25.0) for k in ("visemes", "hubert")}
    view = DeclaredFeatures(feats, ("features:visemes", "words"), "x/y (d 1)")
    assert list(view) == ["visemes"] and view["features:visemes"] is feats["visemes"]
    with pytest.raises(PortError, match="x/y \\(d 1\\) read port features:hubert"):
        view.get("hubert")
    ports = PortView({"input:transcript": "hi"}, ("words",), "x/y (d 1)")
    assert ports.get("words") is None and list(ports) == []
    with pytest.raises(PortError):
        ports.get("input:transcript")

"""Motion chains: ``motion:`` may list several stages; each later one reads the previous one's
``motion:SPACE`` through its declared port, the renderer renders the last one's motion, and ``validate``
refuses a chain whose ports do not meet, naming both sides."""

import numpy as np
import pytest
import yaml
from _fakedist import fake_dists  # noqa: F401 - fixture
from emoavatar.config import load_config, parse_config
from emoavatar.pipeline import Pipeline
from emoavatar.registry import Registry
from emoavatar.testing.trivial import TRIVIAL_PIPELINE

CHAIN = '''
import numpy as np
from emoavatar.interfaces import MotionGenerator, Renderer
from emoavatar.spec import ComponentSpec, EmptyConfig
from emoavatar.types import Motion


class Shift(MotionGenerator):
    """landmarks68 -> landmarks68 moved 3 px to the right."""
    def generate(self, features, emotion, portrait, ctx):
        lm = ctx.ports["motion:landmarks68"].tracks["landmarks68"]
        return Motion("landmarks68", {"landmarks68": lm + np.float32([3, 0])}, ctx.fps)


class Coeffs(MotionGenerator):
    """landmarks68 -> exp3dmm10: coefficient 0 is the x of landmark 0."""
    def generate(self, features, emotion, portrait, ctx):
        lm = ctx.ports["motion:landmarks68"].tracks["landmarks68"]
        exp = np.zeros((len(lm), 10), np.float32)
        exp[:, 0] = lm[:, 0, 0]
        return Motion("exp3dmm10", {"exp3dmm10": exp}, ctx.fps)


class Painter(Renderer):
    seen = []
    def prepare(self, portrait, ctx):
        pass
    def render(self, motion, ctx):
        Painter.seen.append(np.array(motion.tracks["exp3dmm10"]))
        return np.zeros((len(motion), 16, 16, 3), np.uint8)


M = "chain.stages:"
SHIFT = ComponentSpec("shift", "motion", M + "Shift", EmptyConfig, consumes=("motion:landmarks68",),
                      produces=("motion:landmarks68",))
COEFFS = ComponentSpec("coeffs", "motion", M + "Coeffs", EmptyConfig, consumes=("motion:landmarks68",),
                       produces=("motion:exp3dmm10",))
AUDIO_ONLY = ComponentSpec("audio-only", "motion", M + "Coeffs", EmptyConfig, consumes=("features:*",),
                           produces=("motion:exp3dmm10",))
PAINTER = ComponentSpec("painter", "renderers", M + "Painter", EmptyConfig, consumes=("motion:exp3dmm10",),
                        produces=("frames",))
'''


@pytest.fixture
def chain(fake_dists):  # noqa: F811
    eps = {"emoavatar.motion": {n: f"chain.stages:{n.upper().replace('-', '_')}" for n in ("shift", "coeffs",
                                                                                         "audio-only")},
           "emoavatar.renderers": {"painter": "chain.stages:PAINTER"}}
    fake_dists("emoavatar-test-chain", "1.2", eps, {"chain/__init__.py": "", "chain/stages.py": CHAIN})
    from emoavatar.testing.trivial import TRIVIAL_SPECS

    return Registry(extra=TRIVIAL_SPECS)


def _pipe(reg, motion, renderer="painter"):
    return Pipeline.from_dict({**TRIVIAL_PIPELINE, "motion": motion, "renderer": {"use": renderer}}, registry=reg)


def _problems(reg, motion, renderer="painter"):
    return [str(p) for p in _pipe(reg, motion, renderer).validate().problems]


def test_a_chain_runs_each_stage_on_the_previous_ones_motion(chain, tmp_path, kit_portrait_path, kit_speech_path,
                                                             kit_portrait):
    import chain.stages as stages

    stages.Painter.seen.clear()
    motion = [{"use": "trivial-motion"}, {"use": "shift"}, {"use": "shift"}, {"use": "coeffs"}]
    out = tmp_path / "o.mp4"
    _pipe(chain, motion).run(out, portrait=kit_portrait_path, audio=kit_speech_path)
    seen = np.concatenate(stages.Painter.seen)
    assert len(seen) == 50
    assert np.allclose(seen[:, 0], kit_portrait.face.landmarks[0, 0] + 6)  # two shifts, then coeffs
    run = yaml.safe_load(out.with_name("o.run.yaml").read_text())
    assert [m["use"] for m in run["motion"]] == ["trivial-motion", "shift", "shift", "coeffs"]
    assert run["provenance"]["plugins"]["motion[3]"]["distribution"] == "emoavatar-test-chain"
    again = Pipeline(load_config(out.with_name("o.run.yaml")), registry=chain)  # the run file re-runs as it is
    assert again.validate().ok, again.validate().problems


def test_validate_refuses_a_chain_whose_ports_do_not_meet_naming_both_sides(chain):
    assert _problems(chain, [{"use": "trivial-motion"}, {"use": "coeffs"}]) == []
    wrong_renderer = _problems(chain, [{"use": "trivial-motion"}, {"use": "coeffs"}], "trivial-renderer")
    assert any("renderer 'trivial-renderer' consumes motion:landmarks68 but motion[1] 'coeffs' produces "
               "motion:exp3dmm10" in p for p in wrong_renderer), wrong_renderer
    mid = _problems(chain, [{"use": "trivial-motion"}, {"use": "coeffs"}, {"use": "shift"}], "trivial-renderer")
    assert any("motion[2] 'shift' consumes motion:landmarks68 but motion[1] 'coeffs' produces motion:exp3dmm10" in p
               for p in mid), mid
    first = _problems(chain, [{"use": "coeffs"}, {"use": "trivial-motion"}])
    assert any("motion[0] 'coeffs' consumes motion:landmarks68 but no motion stage before it produces it" in p
               for p in first), first
    ignores = _problems(chain, [{"use": "trivial-motion"}, {"use": "audio-only"}])
    assert any("motion[1] 'audio-only' follows motion[0] 'trivial-motion' in the motion chain but does not consume "
               "its motion:landmarks68" in p for p in ignores), ignores


def test_single_motion_yaml_overrides_and_dump_stay_as_before(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({**TRIVIAL_PIPELINE}))
    cfg = load_config(path, ["motion.use=shift"])
    assert [m.use for m in cfg.motion] == ["shift"] and cfg.motion_paths() == ["motion"]
    assert cfg.model_dump(mode="json", by_alias=True)["motion"] == {"use": "shift", "with": {}}
    chained = {**TRIVIAL_PIPELINE, "motion": [{"use": "trivial-motion"}, {"use": "shift"}]}
    path.write_text(yaml.safe_dump(chained))
    cfg = load_config(path, ["motion.1.use=coeffs", "motion.1.with={}"])
    assert [m.use for m in cfg.motion] == ["trivial-motion", "coeffs"]
    assert cfg.motion_paths() == ["motion[0]", "motion[1]"]
    assert [p for p, kind, _ in cfg.refs() if kind == "motion"] == ["motion[0]", "motion[1]"]
    from emoavatar.errors import ConfigError

    with pytest.raises(ConfigError, match=r"cannot set 'motion.use'.*motion is a list here.*motion.1.with.KEY"):
        load_config(path, ["motion.use=coeffs"])
    with pytest.raises(ConfigError, match="motion: List should have at least 1 item"):
        parse_config({**TRIVIAL_PIPELINE, "motion": []})


def test_ui_form_keeps_a_chain_whose_last_stage_is_kept():
    from emoavatar.ui import forms

    base = {"fps": 25, "motion": [{"use": "facs-rig", "with": {"mouth_scale": 1.2}}, {"use": "bridge", "with": {}}]}
    picks = {"face": "dlib", "encoder": ["prosody"], "controller": "mixture", "renderer": "warp2d"}
    kept = forms.build_pipeline_data(base, {**picks, "motion": "bridge"}, {"motion": "gain: 2"})
    assert kept["motion"] == [{"use": "facs-rig", "with": {"mouth_scale": 1.2}}, {"use": "bridge", "with": {"gain": 2}}]
    replaced = forms.build_pipeline_data(base, {**picks, "motion": "facs-rig"}, {})
    assert replaced["motion"] == {"use": "facs-rig", "with": {}}
    assert forms.chain_last(base["motion"])["use"] == "bridge"
    assert parse_config(kept).motion_paths() == ["motion[0]", "motion[1]"]

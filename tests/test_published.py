"""What third-party plugins publish: motion spaces shared between distributions, metric columns
and plots, trainers, hooks through pluggy; plus path options and input checks of pipelines."""

import json
import sys

import numpy as np
import pytest
from _fakedist import fake_dists  # noqa: F401 - fixture
from emoavatar.errors import PortError
from emoavatar.pipeline import Pipeline
from emoavatar.registry import Registry, get_registry
from emoavatar.testing.trivial import TRIVIAL_PIPELINE, TRIVIAL_SPECS

# -- a motion space published by one distribution, used by another -----------------------------
BLEND_SPEC = '''
from emoavatar.spaces import MotionSpace, Track
from emoavatar.spec import ComponentSpec
from pydantic import BaseModel, ConfigDict

BLEND4 = MotionSpace("blend4", (Track("blend4", ("T", 4)), Track("gaze", ("T", 2), required=False)),
                     summary="four blendshape weights")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = 4


GEN = ComponentSpec("blend-gen", "motion", "blendgen.gen:BlendGen", Options, consumes=("emotion",),
                    produces=("motion:blend4",))
'''
BLEND_GEN = '''
import numpy as np
from emoavatar.interfaces import MotionGenerator
from emoavatar.types import Motion


class BlendGen(MotionGenerator):
    def generate(self, features, emotion, portrait, ctx):
        w = np.linspace(0, 1, ctx.n_frames, dtype=np.float32)[:, None] * np.ones(self.config.width, np.float32)
        return Motion("blend4", {"blend4": w}, ctx.fps)
'''
# the renderer's distribution does not import blendgen: it reads the space from the registry
SHADE_SPEC = '''
from emoavatar.spec import ComponentSpec, EmptyConfig

SHADE = ComponentSpec("blend-shade", "renderers", "blendshade.render:Shade", EmptyConfig,
                      consumes=("motion:blend4",), produces=("frames",))
'''
SHADE_RENDER = '''
import numpy as np
from emoavatar.interfaces import Renderer
from emoavatar.registry import get_registry


class Shade(Renderer):
    """Brightness = mean of the space's main track (the track list comes from the published space)."""
    def prepare(self, portrait, ctx):
        space = get_registry().space("blend4")
        self.main = space.name
        self.tracks = [t.name for t in space.tracks]
        self.shape = portrait.image.shape

    def render(self, motion, ctx):
        level = (np.asarray(motion.tracks[self.main]).mean(1) * 255).astype(np.uint8)
        return np.broadcast_to(level[:, None, None, None], (len(motion),) + self.shape).copy()
'''


@pytest.fixture
def blend_plugins(fake_dists):  # noqa: F811
    fake_dists("emoavatar-test-blendgen", "0.3", {"emoavatar.spaces": {"blend4": "blendgen.spec:BLEND4"},
                                                  "emoavatar.motion": {"blend-gen": "blendgen.spec:GEN"}},
               {"blendgen/__init__.py": "", "blendgen/spec.py": BLEND_SPEC, "blendgen/gen.py": BLEND_GEN})
    fake_dists("emoavatar-test-blendshade", "0.1", {"emoavatar.renderers": {"blend-shade": "blendshade.spec:SHADE"}},
               {"blendshade/__init__.py": "", "blendshade/spec.py": SHADE_SPEC, "blendshade/render.py": SHADE_RENDER})
    return Registry(extra=TRIVIAL_SPECS)


def test_a_published_space_is_shared_by_two_distributions_and_enforced(blend_plugins, tmp_path, kit_portrait_path,
                                                                      kit_speech_path):
    from emoavatar.media import read_video

    assert blend_plugins.space("blend4").track("gaze").required is False
    assert get_registry().space("blend4") is not None  # what the renderer's distribution looks up
    stages = {"motion": {"use": "blend-gen"}, "renderer": {"use": "blend-shade"}}
    pipe = Pipeline.from_dict({**TRIVIAL_PIPELINE, **stages}, registry=blend_plugins)
    pipe.run(tmp_path / "o.mp4", portrait=kit_portrait_path, audio=kit_speech_path)
    frames = np.concatenate(list(read_video(tmp_path / "o.mp4")))
    assert frames[0].mean() < 10 and frames[-1].mean() > 240  # main track 0 -> 1 over the clip
    bad = {"motion": {"use": "blend-gen", "with": {"width": 5}}, "renderer": {"use": "blend-shade"}}
    with pytest.raises(PortError, match=r"motion/blend-gen \(emoavatar-test-blendgen 0.3\).*'blend4' has shape"):
        Pipeline.from_dict({**TRIVIAL_PIPELINE, **bad}, registry=blend_plugins).run(
            tmp_path / "bad.mp4", portrait=kit_portrait_path, audio=kit_speech_path)


def test_spaces_are_listed_and_a_space_without_its_main_track_is_refused():
    from emoavatar.spaces import MotionSpace, Track

    listed = {e.name: e for e in get_registry().list("spaces")}
    assert {"landmarks68", "exp3dmm10"} <= set(listed)
    assert listed["landmarks68"].spec.track("landmarks68").shape == ("T", 68, 2)
    with pytest.raises(ValueError, match="main track named 'mouth'"):
        MotionSpace("mouth", (Track("jaw", ("T", 2)),))


# -- a third-party metric: its columns' direction and its series reach the table and the plots ---
WOBBLE_SPEC = '''
from emoavatar.spec import Column, ComponentSpec, EmptyConfig, SeriesPlot

WOBBLE = ComponentSpec("wobble", "metrics", "wobble.metric:Wobble", EmptyConfig, order=1,
                       columns=(Column("wobble", better="lower", unit="px"), Column("steady", better="higher")),
                       plots=(SeriesPlot("wobble", ("wobble_t",), "frame-to-frame wobble", "px"),))
'''
WOBBLE_METRIC = '''
import numpy as np
from emoavatar.evaluation.shared import frames
from emoavatar.interfaces import Metric
from emoavatar.types import MetricResult


class Wobble(Metric):
    def evaluate(self, sample, ctx):
        x = frames(sample).astype(np.float32).mean((1, 2, 3))
        d = np.abs(np.diff(x, prepend=x[0]))
        return MetricResult({"wobble": float(d.mean()), "steady": float(1 / (1 + d.mean()))}, {"wobble_t": d})
'''


def test_a_third_party_metric_declares_direction_unit_and_plotted_series(fake_dists, tmp_path, kit_portrait):  # noqa: F811
    from emoavatar.evaluation import evaluate, samples_from_args
    from emoavatar.evaluation.plots import write_plots
    from emoavatar.evaluation.report import render_table, to_dict
    from emoavatar.media import VideoWriter

    fake_dists("emoavatar-test-wobble", "1.0", {"emoavatar.metrics": {"wobble": "wobble.spec:WOBBLE"}},
               {"wobble/__init__.py": "", "wobble/spec.py": WOBBLE_SPEC, "wobble/metric.py": WOBBLE_METRIC})
    video = tmp_path / "clip.mp4"
    with VideoWriter(video, 25) as w:
        w.write(np.stack([np.clip(kit_portrait.image.astype(int) + 10 * (i % 2), 0, 255).astype(np.uint8)
                          for i in range(8)]))
    report = evaluate(samples_from_args(video), ["wobble"])
    table = render_table(report)
    assert "wobble ↓ (px)" in table and "steady ↑" in table
    assert to_dict(report)["better"] == {"wobble": "lower", "steady": "higher"}
    files = sorted(p.name for p in write_plots(report, tmp_path / "plots"))
    assert files == ["clip_wobble.png", "metrics.png"]


# -- trainers as registry components --------------------------------------------------------
def test_trainers_are_listed_checked_and_run(fake_dists, tmp_path, capsys):  # noqa: F811
    from emoavatar.cli import main

    files = {"tr/__init__.py": "",
             "tr/spec.py": '''from emoavatar.spec import TrainerSpec
GOOD = TrainerSpec("good", "tr.train:main", summary="writes argv")
FUTURE = TrainerSpec("future", "tr.train:main", api=">=9")
''',
             "tr/train.py": '''import sys
sys.modules.setdefault("tr_train_imported", sys)
def main(argv):
    print("trained", *argv)
    return 0
''',
             "tr/legacy.py": "raise ImportError('heavy module imported at listing')\n"}
    fake_dists("emoavatar-test-trainers", "0.9", {"emoavatar.trainers": {
        "good": "tr.spec:GOOD", "future": "tr.spec:FUTURE", "legacy": "tr.legacy:main"}}, files)
    assert main(["plugins", "--kind", "trainers", "--json"]) == 0
    listed = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert listed["good"]["status"] == "ok" and listed["legacy"]["status"] == "ok"  # legacy not imported yet
    assert "supports core API >=9" in listed["future"]["error"]
    assert "tr_train_imported" not in sys.modules
    assert main(["train", "good", "a", "b"]) == 0 and "trained a b" in capsys.readouterr().out
    assert main(["train", "future"]) == 2
    assert main(["plugins", "--kind", "trainers", "--doctor", "--json"]) == 1
    doctor = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert "heavy module imported at listing" in doctor["legacy"]["error"]


# -- hooks through pluggy ---------------------------------------------------------------------
HOOKS = '''
from emoavatar.hookspecs import hookimpl

CALLS = []


class Invert:
    @hookimpl
    def emoavatar_postprocess_frames(self, frames):          # a subset of the arguments
        CALLS.append("invert")
        return 255 - frames


class Around:
    @hookimpl(wrapper=True)
    def emoavatar_postprocess_frames(self, start):
        CALLS.append(f"before {start}")
        result = yield
        CALLS.append("after")
        return result


class Typo:
    @hookimpl
    def emoavatar_postproces_frames(self, frames):          # misspelled hook
        return frames


invert, around, typo = Invert(), Around(), Typo()
'''


def test_hooks_go_through_pluggy_and_a_misspelled_hook_is_a_broken_plugin(fake_dists, tmp_path, capsys):  # noqa: F811
    from emoavatar.cli import main
    from emoavatar.hookspecs import get_plugin_manager, postprocess

    fake_dists("emoavatar-test-hooks", "0.2", {"emoavatar.hooks": {
        "invert": "hk:invert", "around": "hk:around", "typo": "hk:typo"}}, {"hk.py": HOOKS})
    with pytest.warns(UserWarning, match="hook plugin typo .*emoavatar-test-hooks 0.2.* is broken"):
        pm = get_plugin_manager()
    import hk

    frames = np.zeros((2, 4, 4, 3), np.uint8)
    out = postprocess(pm, frames, 7, None)
    assert (out == 255).all()
    assert hk.CALLS == ["before 7", "invert", "after"]
    assert not pm.is_registered(hk.typo)
    assert main(["plugins", "--kind", "hooks", "--json"]) == 0
    broken = json.loads(capsys.readouterr().out)
    assert [b["name"] for b in broken] == ["typo"] and "emoavatar_postproces_frames" in broken[0]["error"]


# -- path options, missing inputs, usage errors ----------------------------------------------------
PATHOPT = '''
from emoavatar.spec import ComponentSpec, PathOption
from pydantic import BaseModel, ConfigDict


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    table: PathOption | None = None
    shade: int = 0


SPEC = ComponentSpec("path-renderer", "renderers", "emoavatar.testing.trivial:TrivialRenderer", Options,
                     consumes=("motion:landmarks68",), produces=("frames",))
'''


def test_path_options_resolve_against_the_yaml_folder(fake_dists, tmp_path, monkeypatch):  # noqa: F811
    import yaml
    from emoavatar.config import load_config
    from emoavatar.validate import validate_config

    fake_dists("emoavatar-test-pathopt", "0.1", {"emoavatar.renderers": {"path-renderer": "pathopt:SPEC"}},
               {"pathopt.py": PATHOPT})
    folder = tmp_path / "project"
    folder.mkdir()
    data = {**TRIVIAL_PIPELINE, "renderer": {"use": "path-renderer", "with": {"table": "luts/warm.cube"}}}
    (folder / "p.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)
    report = validate_config(load_config(folder / "p.yaml"), Registry(extra=TRIVIAL_SPECS))
    assert report.by_path("renderer").options.table == (folder / "luts" / "warm.cube").resolve()


def test_weights_options_resolve_beside_the_yaml_and_hub_ids_stay(tmp_path, monkeypatch):
    """PathOrId (every in-repo checkpoint / weights / model option): a file beside the YAML
    resolves against the YAML's folder wherever the run starts; a hub id is left as given."""
    from emoavatar.spec import PathOrId
    from pydantic import BaseModel

    class Opts(BaseModel):
        checkpoint: PathOrId | None = None
        model: PathOrId | None = None
        explicit: PathOrId | None = None

    folder = tmp_path / "project"
    (folder / "ckpt").mkdir(parents=True)
    (folder / "ckpt" / "a2e.safetensors").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    o = Opts.model_validate({"checkpoint": "ckpt/a2e.safetensors", "model": "facebook/hubert-base-ls960",
                             "explicit": "./later.pth"}, context={"base_dir": folder})
    assert o.checkpoint == str((folder / "ckpt" / "a2e.safetensors").resolve())
    assert o.model == "facebook/hubert-base-ls960" and o.explicit == str((folder / "later.pth").resolve())
    assert Opts.model_validate({"checkpoint": "ckpt/a2e.safetensors"}).checkpoint == "ckpt/a2e.safetensors"
    import yaml
    from _support import EXAMPLES
    from emoavatar.config import load_config
    from emoavatar.validate import validate_config

    data = yaml.safe_load((EXAMPLES / "default.yaml").read_text())
    data["inputs"] = {"portrait": str(EXAMPLES / "portrait.png"), "audio": str(EXAMPLES / "speech.wav")}
    data["metrics"] = [{"use": "fid", "with": {"weights": "ckpt/a2e.safetensors"}}]
    (folder / "p.yaml").write_text(yaml.safe_dump(data))
    report = validate_config(load_config(folder / "p.yaml"))
    assert report.by_path("metrics[0]").options.weights == str((folder / "ckpt" / "a2e.safetensors").resolve())


def test_validate_reports_missing_input_files(tmp_path):
    import yaml
    from _support import EXAMPLES, cli

    data = yaml.safe_load((EXAMPLES / "default.yaml").read_text())
    data["inputs"] = {"portrait": "nowhere.png", "audio": "missing.wav"}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    r = cli("validate", str(tmp_path / "p.yaml"))
    assert r.returncode != 0
    assert f"inputs.portrait: file not found: {(tmp_path / 'nowhere.png').resolve()}" in r.stderr
    assert "inputs.audio: file not found" in r.stderr


def test_evaluate_usage_errors_print_evaluates_usage(capsys):
    from emoavatar.cli import main

    for argv in (["evaluate", "--bogus"], ["evaluate"]):
        with pytest.raises(SystemExit) as ex:
            main(argv)
        assert ex.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("usage: emoavatar evaluate"), err


def test_interfaces_and_tracking_do_not_import_each_other():
    import ast
    from pathlib import Path

    import emoavatar

    root = Path(emoavatar.__file__).parent
    for a, b in (("interfaces", "tracking"), ("tracking", "interfaces")):
        tree = ast.parse((root / f"{a}.py").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert b not in imported, f"{a}.py imports {b}"


def test_controller_contract_checks_following_the_request_only_when_declared():
    from emoavatar.emotions import EMOTIONS
    from emoavatar.interfaces import EmotionController
    from emoavatar.testing.contracts import check_controller
    from emoavatar.types import EmotionState

    class FromAnnotation(EmotionController):
        """Emotion from data (always sad), whatever the request."""

        def control(self, request, features, ctx):
            w = np.zeros((ctx.n_frames, len(EMOTIONS)), np.float32)
            w[:, EMOTIONS.index("sad")] = 1
            return EmotionState(w, np.ones(ctx.n_frames))

    assert check_controller(FromAnnotation(), follows_request=False).dominant()[0] == "sad"
    with pytest.raises(AssertionError, match="follows_request=False"):
        check_controller(FromAnnotation())


def test_a_name_clash_is_recorded_once_as_broken():
    """Two distributions registering one name: the first keeps it, the second is listed broken."""
    from types import SimpleNamespace

    from emoavatar.registry import claim_entry

    def ep(dist):
        return SimpleNamespace(name="foo", value="x:y", dist=SimpleNamespace(metadata={"Name": dist}, version="1.2"))

    entries: dict = {}
    first = claim_entry(entries, "trainers", ep("dist-a"))
    assert first is entries[("trainers", "foo")] and first.distribution == "dist-a"
    assert claim_entry(entries, "trainers", ep("dist-b")) is None
    clash = entries[("trainers", "foo@dist-b")]
    assert not clash.ok and clash.error == "name clash with dist-a 1.2" and len(entries) == 2

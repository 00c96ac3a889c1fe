"""Per-kind code of the skeleton that `emoavatar new-plugin` writes. Each works as generated:
a simple but real component that passes its kind's contract suite, meant to be replaced."""

from __future__ import annotations

# {Name} = class prefix, {name} = component name, {pkg} = package, {kind} = group suffix.
SPEC = '''"""Light spec of `{name}`: imported when plugins are listed, so no heavy imports here."""

from pydantic import BaseModel, ConfigDict, Field

from emoavatar.spec import Column, ComponentSpec, SeriesPlot  # noqa: F401 - Column/SeriesPlot: metrics


class {Name}Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
{config_fields}


SPEC = ComponentSpec(
    name="{name}",
    kind="{kind}",
    factory="{pkg}.component:{Name}{Base}",
    config={Name}Config,
    consumes={consumes},
    produces={produces},
    api=">=1.0,<2",
    summary="{summary}",{extra}
)
'''

COMPONENTS = {
    "encoders": dict(
        Base="Encoder", consumes="()", produces='("features:{feature}",)',
        summary="per-frame RMS loudness (replace with your encoder)",
        config_fields='    window: float = Field(1.0, gt=0, description="window length in frames")',
        code='''import numpy as np

from emoavatar.interfaces import AudioEncoder, RunContext
from emoavatar.types import Audio, AudioFeatures


class {Name}Encoder(AudioEncoder):
    """Per-frame RMS of the waveform. Replace with your model."""

    def encode(self, audio: Audio, ctx: RunContext) -> AudioFeatures:
        x, sr = audio.samples, audio.sample_rate
        centres = (np.arange(ctx.n_frames) + 0.5) / ctx.fps
        half = self.config.window / ctx.fps / 2
        rms = np.zeros((ctx.n_frames, 1), np.float32)
        for i, c in enumerate(centres):
            seg = x[max(0, int((c - half) * sr)): int((c + half) * sr) + 1]
            rms[i, 0] = float(np.sqrt(np.mean(seg ** 2))) if seg.size else 0.0
        return AudioFeatures(rms, kind="{feature}", fps=ctx.fps, names=("rms",))
'''),
    "controllers": dict(
        Base="Controller", consumes="()", produces='("emotion",)',
        summary="piecewise-constant emotion from labels and timelines (replace with yours)",
        config_fields='    gain: float = Field(1.0, ge=0, le=1, description="scales the intensity")',
        code='''import numpy as np

from emoavatar.emotions import EMOTIONS
from emoavatar.errors import EmotionError
from emoavatar.interfaces import EmotionController, RunContext
from emoavatar.types import EmotionState


class {Name}Controller(EmotionController):
    """Each timeline segment's mix holds until the next one. Replace with your controller."""

    def control(self, request, features, ctx: RunContext) -> EmotionState:
        if not request.segments:
            raise EmotionError(f"{name} understands labels, mixes and timelines, not {{request.source}}")
        w = np.zeros((ctx.n_frames, len(EMOTIONS)), np.float32)
        t = np.arange(ctx.n_frames) / ctx.fps
        for seg in request.segments:
            rows = t >= seg.start
            w[rows] = 0
            for emo, weight in seg.mix.items():
                w[rows, EMOTIONS.index(emo)] = weight
        inten = np.full(ctx.n_frames, request.intensity * self.config.gain, np.float32)
        return EmotionState(w, inten)
'''),
    "motion": dict(
        Base="Motion", consumes='("features:*", "emotion")', produces='("motion:landmarks68",)',
        summary="opens the jaw with the first feature column (replace with your model)",
        config_fields='    jaw: float = Field(0.3, ge=0, description="jaw opening in inter-ocular units")',
        code='''import numpy as np

from emoavatar.interfaces import MotionGenerator, RunContext
from emoavatar.types import Motion


class {Name}Motion(MotionGenerator):
    """Moves the lower lip and chin down with the (normalised) first feature column."""

    def generate(self, features, emotion, portrait, ctx: RunContext) -> Motion:
        feats = next(iter(features.values())).values[:, 0] if features else np.zeros(ctx.n_frames)
        level = feats / (np.abs(feats).max() + 1e-8)
        rest = portrait.face.landmarks.astype(np.float32)
        lm = np.repeat(rest[None], ctx.n_frames, axis=0)
        drop = self.config.jaw * portrait.face.size * level
        lower = list(range(5, 12)) + list(range(55, 60)) + list(range(64, 68))
        lm[:, lower, 1] += drop[:, None]
        return Motion("landmarks68", {{"landmarks68": lm}}, ctx.fps)
'''),
    "renderers": dict(
        Base="Renderer", consumes='("motion:landmarks68",)', produces='("frames",)',
        summary="draws the landmarks over the portrait (replace with your renderer)",
        config_fields='    radius: int = Field(2, ge=1, description="dot radius in pixels")',
        code='''import cv2
import numpy as np

from emoavatar.interfaces import Renderer, RunContext
from emoavatar.types import Motion, Portrait


class {Name}Renderer(Renderer):
    """The portrait with the motion's landmarks drawn on it."""

    def prepare(self, portrait: Portrait, ctx: RunContext) -> None:
        self.image = portrait.image

    def render(self, motion: Motion, ctx: RunContext) -> np.ndarray:
        out = np.repeat(self.image[None], len(motion), axis=0)
        for frame, lm in zip(out, motion.tracks["landmarks68"]):
            for x, y in lm.astype(int):
                cv2.circle(frame, (int(x), int(y)), self.config.radius, (0, 255, 0), -1)
        return out
'''),
    "metrics": dict(
        Base="Metric", consumes="()", produces="()",
        summary="mean frame brightness (replace with your metric)",
        config_fields='    channel: int = Field(-1, ge=-1, le=2, description="-1 = all channels")',
        code='''import numpy as np

from emoavatar.interfaces import EvalSample, Metric, RunContext
from emoavatar.media import read_video
from emoavatar.types import MetricResult


class {Name}Metric(Metric):
    """Mean brightness per frame, in [0, 255]."""

    def evaluate(self, sample: EvalSample, ctx: RunContext) -> MetricResult:
        per_frame = []
        for chunk in read_video(sample.video):
            x = chunk if self.config.channel < 0 else chunk[..., self.config.channel]
            per_frame.extend(x.reshape(len(chunk), -1).mean(1).tolist())
        series = np.asarray(per_frame, np.float32)
        return MetricResult({{"{name}": float(series.mean())}}, {{"{name}": series}})
'''),
    "faces": dict(
        Base="Faces", consumes="()", produces="()",
        summary="dlib HOG face boxes with a mean-shape 68-point fit (replace with your model)",
        config_fields='    min_size: int = Field(40, ge=8, description="smallest face side in pixels")',
        code='''import cv2
import numpy as np

from emoavatar.interfaces import FaceAnalyzer
from emoavatar.types import Face

# Mean 68-point shape in box-relative coordinates (x, y in [0, 1]); replace with a real model.
_MEAN = np.array({mean_shape}, np.float32)


class {Name}Faces(FaceAnalyzer):
    """HOG boxes (dlib's built-in detector, no model file), landmarks = mean shape placed in the
    box, embedding = a small normalised grey patch."""

    def __init__(self, config=None) -> None:
        super().__init__(config)
        self._detector = None

    def detect(self, image: np.ndarray) -> list[Face]:
        import dlib

        if self._detector is None:
            self._detector = dlib.get_frontal_face_detector()
        boxes = [(r.left(), r.top(), r.width(), r.height()) for r in self._detector(np.ascontiguousarray(image), 1)]
        boxes = [b for b in boxes if min(b[2], b[3]) >= self.config.min_size]
        faces = []
        for x, y, w, h in sorted(boxes, key=lambda b: -b[2] * b[3]):
            lm = _MEAN * np.array([w, h], np.float32) + np.array([x, y], np.float32)
            faces.append(Face((float(x), float(y), float(x + w), float(y + h)), lm))
        return faces

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        x0, y0, x1, y1 = (int(v) for v in face.box)
        patch = cv2.resize(cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY), (8, 16)).astype(np.float32)
        v = patch.reshape(-1) - patch.mean()
        return v / (np.linalg.norm(v) + 1e-8)
'''),
}

TEST = '''"""Contract tests for `{name}`: generated by `emoavatar new-plugin`; add your own below."""

import numpy as np

from emoavatar.testing import contracts
from {pkg}.component import {Name}{Base}
from {pkg}.spec import SPEC, {Name}Config


def test_spec_is_light_and_named():
    assert SPEC.name == "{name}" and SPEC.kind == "{kind}"


def test_contract(kit_audio, kit_portrait, kit_portrait_path, run_context, tmp_path):
    component = {Name}{Base}({Name}Config())
{test_body}
'''

TEST_BODIES = {
    "encoders": "    contracts.check_encoder(component, kit_audio, run_context)",
    "controllers": "    contracts.check_controller(component, follows_request=SPEC.follows_request)",
    "motion": ("    from emoavatar.types import AudioFeatures\n"
               "    feats = {\"rms\": AudioFeatures(np.linspace(0, 1, 25)[:, None], \"rms\", 25.0)}\n"
               "    contracts.check_motion(component, kit_portrait, feats)"),
    "renderers": "    contracts.check_renderer(component, kit_portrait)",
    "metrics": ("    from emoavatar.interfaces import EvalSample\n"
                "    from emoavatar.media import VideoWriter\n"
                "    with VideoWriter(tmp_path / \"v.mp4\", 25) as w:\n"
                "        w.write(np.repeat(kit_portrait.image[None], 5, 0))\n"
                "    contracts.check_metric(component, EvalSample(tmp_path / \"v.mp4\"))"),
    "faces": "    contracts.check_face_analyzer(component, kit_portrait.image)",
}

PYPROJECT = '''[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "{summary}"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["emoavatar>=0.1,<0.2", "numpy", "opencv-python-headless"{extra_deps}]

[project.entry-points."emoavatar.{kind}"]
{name} = "{pkg}.spec:SPEC"

[tool.setuptools.packages.find]
include = ["{pkg}*"]
'''

README = '''# {dist}

An emoavatar {kind_name} plugin: `{name}` ({summary}).

Generated by `emoavatar new-plugin --kind {kind} {name}`. Replace `{pkg}/component.py` with your
method, keep `{pkg}/spec.py` light (no torch or model imports: it is read when plugins are listed),
and keep the contract test passing. The rules a plugin must follow (ports, motion spaces, path
options, metric columns) are in emoavatar's `docs/writing-plugins.md`.

- Ports: consumes {consumes}; produces {produces}.
- Options: see `{Name}Config` in `{pkg}/spec.py` (`emoavatar schema` shows them).
- Weights: none. If you add some, load them lazily from a path or hub id and raise
  `emoavatar.errors.WeightsNotFoundError` naming the missing file.

```
pip install -e .
pytest
emoavatar plugins          # lists {name}
```

Use it in a pipeline YAML: `{yaml_key}: {{use: {name}}}`.
'''

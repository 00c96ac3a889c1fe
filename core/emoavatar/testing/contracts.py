"""Contract checks, one per kind: what every component must do, whatever its method.

Each ``check_*`` runs the component on the given inputs, asserts the interface's promises
(types, shapes, ranges, determinism where promised) and returns the output for further,
plugin-specific assertions.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..emotions import EMOTIONS, parse_emotion
from ..interfaces import (
    AudioEncoder,
    EmotionController,
    EvalSample,
    FaceAnalyzer,
    Metric,
    MotionGenerator,
    Renderer,
    RunContext,
)
from ..types import Audio, AudioFeatures, EmotionState, Face, MetricResult, Motion, Portrait


def _ctx(ctx: RunContext | None, n: int = 25) -> RunContext:
    return ctx if ctx is not None else RunContext(fps=25.0, n_frames=n, seed=0)


def check_encoder(encoder: AudioEncoder, audio: Audio, ctx: RunContext | None = None) -> AudioFeatures:
    """T == ctx.n_frames rows, finite float values, a non-empty ``kind``; also for another fps."""
    assert isinstance(encoder, AudioEncoder)
    ctx = ctx or RunContext(fps=25.0, n_frames=audio.n_frames(25.0), seed=0)
    out = encoder.encode(audio, ctx)
    assert isinstance(out, AudioFeatures), f"encode must return AudioFeatures, got {type(out).__name__}"
    assert out.kind, "AudioFeatures.kind must name the port"
    assert out.values.shape[0] == ctx.n_frames, f"{out.values.shape[0]} rows for {ctx.n_frames} frames"
    assert np.isfinite(out.values).all(), "features contain NaN/inf"
    ctx30 = RunContext(fps=30.0, n_frames=audio.n_frames(30.0), seed=0)
    out30 = encoder.encode(audio, ctx30)
    assert out30.values.shape == (ctx30.n_frames, out.values.shape[1]), "fps must change T, not D"
    return out


def check_controller(controller: EmotionController, features: Mapping[str, AudioFeatures] | None = None,
                     ctx: RunContext | None = None, *, follows_request: bool = True) -> EmotionState:
    """For a label, a mix and a timeline: T rows, weights are a distribution, intensity in [0,1].

    ``follows_request`` (pass the spec's ``follows_request``): a "happy" request must make happy the
    dominant emotion. Controllers whose emotion comes from data (an annotation file, the audio)
    declare ``follows_request=False`` in their spec and skip that check."""
    assert isinstance(controller, EmotionController)
    ctx = _ctx(ctx, 50)
    features = features or {}
    requests = {
        "label": parse_emotion("happy"),
        "mix": parse_emotion({"happy": 0.5, "surprised": 0.5}),
        "timeline": parse_emotion([{"at": 0, "emotion": "neutral"}, {"at": ctx.n_frames / ctx.fps / 2, "emotion": "sad"}]),
    }
    out = None
    for what, req in requests.items():
        state = controller.control(req, features, ctx)
        assert isinstance(state, EmotionState), f"{what}: control must return EmotionState"
        assert len(state) == ctx.n_frames, f"{what}: {len(state)} rows for {ctx.n_frames} frames"
        assert state.weights.shape[1] == len(EMOTIONS)
        assert np.all(state.weights >= -1e-6) and np.allclose(state.weights.sum(1), 1, atol=1e-4), \
            f"{what}: weights must be a distribution per frame"
        assert np.all((state.intensity >= 0) & (state.intensity <= 1)), f"{what}: intensity outside [0,1]"
        out = out or state
    if follows_request:
        happy = controller.control(requests["label"], features, ctx).weight("happy")
        assert happy.mean() > 0.5, "a 'happy' request must make happy the dominant emotion " \
            "(a controller whose emotion comes from data declares follows_request=False)"
    return out  # type: ignore[return-value]


def check_motion(generator: MotionGenerator, portrait: Portrait, features: Mapping[str, AudioFeatures],
                 emotion: EmotionState | None = None, ctx: RunContext | None = None) -> Motion:
    """T rows in the declared space, finite tracks, deterministic for a fixed seed."""
    assert isinstance(generator, MotionGenerator)
    n = len(next(iter(features.values()))) if features else 25
    ctx = ctx or RunContext(fps=25.0, n_frames=n, seed=0)
    if emotion is None:
        w = np.zeros((ctx.n_frames, len(EMOTIONS)), np.float32)
        w[:, EMOTIONS.index("happy")] = 1
        emotion = EmotionState(w, np.ones(ctx.n_frames))
    out = generator.generate(features, emotion, portrait, ctx)
    assert isinstance(out, Motion), f"generate must return Motion, got {type(out).__name__}"
    assert len(out) == ctx.n_frames, f"{len(out)} motion rows for {ctx.n_frames} frames"
    for name, track in out.tracks.items():
        assert np.isfinite(np.asarray(track, dtype=np.float64)).all(), f"track {name} has NaN/inf"
    from ..registry import get_registry
    from ..spaces import check_motion as fits_space

    problems = fits_space(out, get_registry().space(out.space), ctx.n_frames)
    assert not problems, f"motion:{out.space} does not fit its published space: {'; '.join(problems)}"
    again = generator.generate(features, emotion, portrait, RunContext(fps=ctx.fps, n_frames=ctx.n_frames, seed=ctx.seed))
    for name in out.tracks:
        assert np.allclose(out.tracks[name], again.tracks[name]), f"track {name} differs for the same seed"
    return out


def check_renderer(renderer: Renderer, portrait: Portrait, motion: Motion | None = None,
                   ctx: RunContext | None = None) -> np.ndarray:
    """uint8 [N,H,W,3] per chunk, consistent size across chunks. Without ``motion``, the
    portrait's own landmarks held still for 4 frames are rendered (landmarks68 renderers)."""
    assert isinstance(renderer, Renderer)
    if motion is None:
        lm = np.repeat(portrait.face.landmarks[None].astype(np.float32), 4, 0)
        motion = Motion("landmarks68", {"landmarks68": lm, "pose": np.zeros((4, 6), np.float32),
                                        "blink": np.zeros(4, np.float32)}, 25.0)
    ctx = _ctx(ctx, len(motion))
    renderer.prepare(portrait, ctx)
    half = max(1, len(motion) // 2)
    chunks = [renderer.render(motion.slice(0, half), ctx), renderer.render(motion.slice(half, len(motion)), ctx)]
    shapes = set()
    for i, frames in enumerate(chunks):
        assert isinstance(frames, np.ndarray) and frames.dtype == np.uint8, f"chunk {i}: frames must be uint8"
        assert frames.ndim == 4 and frames.shape[3] == 3, f"chunk {i}: frames must be [N,H,W,3], got {frames.shape}"
        shapes.add(frames.shape[1:])
    assert len(shapes) == 1, f"frame size changed between chunks: {shapes}"
    assert chunks[0].shape[0] == half and chunks[1].shape[0] == len(motion) - half, "one frame per motion row"
    return np.concatenate(chunks)


def check_face_analyzer(analyzer: FaceAnalyzer, image: np.ndarray) -> Face:
    """A face with 68 in-image landmarks and a finite embedding; a blank image has none."""
    from ..errors import FaceNotFoundError

    assert isinstance(analyzer, FaceAnalyzer)
    face = analyzer.analyze(image)
    h, w = image.shape[:2]
    assert face.landmarks.shape == (68, 2)
    assert (face.landmarks[:, 0] > -0.1 * w).all() and (face.landmarks[:, 0] < 1.1 * w).all()
    assert face.embedding is not None and np.isfinite(face.embedding).all()
    try:
        analyzer.analyze(np.full_like(image, 127))
    except FaceNotFoundError:
        pass
    else:
        raise AssertionError("a blank image must raise FaceNotFoundError")
    return face


def check_metric(metric: Metric, sample: EvalSample, ctx: RunContext | None = None) -> MetricResult:
    """Finite float values under stable names; series are 1-D or 2-D arrays."""
    assert isinstance(metric, Metric)
    res = metric.evaluate(sample, ctx or RunContext())
    assert isinstance(res, MetricResult)
    assert res.values, "a metric must report at least one value"
    for k, v in res.values.items():
        assert isinstance(k, str) and np.isfinite(float(v)), f"value {k}={v} is not a finite number"
    for k, s in res.series.items():
        assert np.asarray(s).ndim in (1, 2), f"series {k} must be 1-D or 2-D"
    return res

"""Compose and run a pipeline: portrait + audio + emotion request -> MP4 (+ resolved config).

Stages run in order; audio features, the emotion timeline and the motion are small per-frame
arrays, while frames are rendered and encoded chunk by chunk so memory does not grow with the
length of the audio (docs/architecture.md, "Runner"). The video goes to a temporary file renamed on success.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from . import __version__
from .config import PipelineConfig, load_config, parse_config
from .emotions import parse_emotion
from .errors import ConfigError, MediaError
from .hookspecs import get_plugin_manager, postprocess
from .inputs import stage_inputs
from .interfaces import RunContext
from .jobs import Job
from .output import OutputTransaction, run_file_path  # noqa: F401 - run_file_path is re-exported
from .ports import StageCaller
from .registry import Registry, get_registry
from .spec import API_VERSION
from .types import Audio, Portrait
from .validate import ValidationReport, validate_config

ProgressFn = Callable[[str, int, int], None]


@dataclass
class RunResult:
    output: Path
    config_path: Path
    n_frames: int
    fps: float
    duration: float
    timings: dict[str, float] = field(default_factory=dict)
    metrics: Any = None

    @property
    def render_fps(self) -> float:
        t = self.timings.get("render+encode", 0.0)
        return self.n_frames / t if t > 0 else float("inf")


class Pipeline:
    """``Pipeline.from_yaml("examples/default.yaml").run(output="out.mp4", emotion="happy")``."""

    def __init__(self, config: PipelineConfig, registry: Registry | None = None) -> None:
        self.config = config
        self.registry = registry or get_registry()
        self._report: ValidationReport | None = None

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: list[str] = (), registry: Registry | None = None) -> "Pipeline":
        return cls(load_config(path, list(overrides)), registry)

    @classmethod
    def from_dict(cls, data: dict, registry: Registry | None = None) -> "Pipeline":
        return cls(parse_config(data), registry)

    # -- checking ----------------------------------------------------------------------
    def validate(self) -> ValidationReport:
        if self._report is None:
            self._report = validate_config(self.config, self.registry)
        return self._report

    def _build(self, path: str) -> Any:
        comp = self.validate().by_path(path)
        assert comp is not None, path
        return self.registry.create(comp.kind, comp.spec.name, comp.options)

    # -- running -----------------------------------------------------------------------
    def run(self, output: str | Path, *, portrait: str | Path | None = None, audio: str | Path | None = None,
            emotion: Any = None, transcript: str | None = None, overwrite: bool = False,
            progress: ProgressFn | None = None, driving: str | Path | None = None) -> RunResult:
        """Render ``output``; it and its run file appear together or not at all (:mod:`.output`)."""
        with OutputTransaction(output, overwrite=overwrite) as tx:
            return self._run(tx, portrait=portrait, audio=audio, emotion=emotion, transcript=transcript,
                             overwrite=overwrite, progress=progress, driving=driving)

    def _run(self, tx: OutputTransaction, *, portrait: str | Path | None = None, audio: str | Path | None = None,
             emotion: Any = None, transcript: str | None = None, overwrite: bool = False,
             progress: ProgressFn | None = None, driving: str | Path | None = None) -> RunResult:
        from .media import VideoWriter, read_image
        from .media.audio import check_finite
        from .media.background import BackgroundWriter
        from .media.image import fit_portrait

        cfg = self.config
        self.validate().raise_first()
        portrait_path = Path(portrait) if portrait else cfg.inputs.portrait
        audio_path = Path(audio) if audio else cfg.inputs.audio
        available, driving_path = _run_inputs(driving, cfg)
        for comp in self.validate().components:  # a declared input port the run lacks: fail before any work
            stage_inputs(comp.label, comp.spec.consumes, comp.spec.optional, available)
        if driving_path is not None and audio is None and available["input:driving"].info.has_audio:
            audio_path = driving_path  # the driving clip's audio, unless --audio
        if portrait_path is None:
            raise ConfigError("no portrait given", fix="pass --portrait IMAGE or set inputs.portrait")
        if audio_path is None:
            raise ConfigError("no audio given", fix="pass --audio FILE or set inputs.audio")
        request = parse_emotion(emotion if emotion is not None else cfg.inputs.emotion)
        check_finite(audio_path)  # NaN / inf float samples are refused before any work
        output = tx.output
        tx.begin()  # the output's lock, and the existence check of the video and its run file
        pm = get_plugin_manager()
        timings: dict[str, float] = {}
        report = self.validate()

        def tick(stage: str, t0: float) -> float:
            now = time.perf_counter()
            timings[stage] = timings.get(stage, 0.0) + now - t0
            return now

        t = time.perf_counter()
        analyzer = self._build("face")

        def analyse_portrait() -> Portrait:
            image = fit_portrait(read_image(portrait_path), cfg.inputs.max_portrait_side, portrait_path)
            return Portrait(image, analyzer.analyze(image, source=str(portrait_path), embed=False), portrait_path)

        face_job = Job(analyse_portrait, "emoavatar-face")  # beside the audio encoders (jobs.py)
        try:
            audio_obj = Audio.load(audio_path)
            if audio_obj.duration <= 0:
                raise MediaError(f"{audio_path} has no audio samples")
            ctx = RunContext(fps=cfg.fps, n_frames=audio_obj.n_frames(cfg.fps), seed=cfg.seed, face=analyzer)
            ctx.extras.update(portrait_path=portrait_path, audio_path=audio_path, request=request)
            if audio is None and transcript is None:  # the YAML's transcript belongs to the YAML's audio
                transcript = cfg.inputs.transcript
            if transcript:
                ctx.extras["transcript"] = transcript

            # each stage sees only its declared ports; outputs are checked (ports.py)
            stages = StageCaller(report, self.registry, ctx, inputs={"input:transcript": transcript or None, **available})
            stages.encode(audio_obj)  # in dependency order (an aligner's words before a text encoder)
        except Exception:  # not on Ctrl-C / SIGTERM: those leave at once
            face_job.result()  # a portrait's error is reported first, as when the stages ran in turn
            raise
        port = face_job.result()
        timings["face"] = face_job.seconds  # overlapped with "encode", which includes any wait for it
        t = tick("encode", t)
        state = stages.control(self._build("controller"), request)
        t = tick("control", t)
        for path in cfg.motion_paths():  # a chain: each stage reads the previous one's motion port
            motion = stages.generate(self._build(path), state, port, path)
        t = tick("motion", t)
        renderer = stages.renderer(self._build("renderer"))
        renderer.prepare(port, ctx)
        t = tick("prepare", t)

        pm.hook.emoavatar_run_start(config=cfg, context=ctx)
        n, chunk = ctx.n_frames, cfg.output.chunk_size
        video = VideoWriter(tx.video_tmp, cfg.fps, audio=audio_path, crf=cfg.output.crf, preset=cfg.output.preset,
                            overwrite=True, atomic=False)
        with tx.writing(), BackgroundWriter(video) as writer:  # x264 encodes chunk k while chunk k+1 renders
            for start in range(0, n, chunk):
                frames = renderer.render(motion.slice(start, min(n, start + chunk)), ctx)
                frames = postprocess(pm, frames, start, ctx)
                writer.write(frames)
                done = min(n, start + chunk)
                pm.hook.emoavatar_progress(stage="render", done=done, total=n)
                if progress:
                    progress("render", done, n)
            # while the encoder thread finishes the last chunks: the run file (published by commit only)
            config_path = self._write_run_file(output, portrait_path, audio_path, request, ctx.extras.get("transcript"),
                                               driving_path, tx=tx)
        tick("render+encode", t)

        with tx.writing():
            tx.commit()  # both complete: publish the run file, then the video
        result = RunResult(output, config_path, n, cfg.fps, audio_obj.duration, timings)
        if cfg.metrics:
            result.metrics = self._evaluate(result, portrait_path, audio_path, request)
        pm.hook.emoavatar_run_end(result=result, context=ctx)
        return result

    # -- outputs -----------------------------------------------------------------------
    def provenance(self) -> dict:
        return {
            "core": {"emoavatar": __version__, "api": API_VERSION},
            "plugins": {c.path: {"use": c.spec.name, "kind": c.kind, "distribution": c.distribution,
                                 "version": c.version} for c in self.validate().components},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def resolved(self, portrait: Path | None = None, audio: Path | None = None, emotion: Any = None,
                 transcript: str | None = None, driving: Path | None = None) -> dict:
        """The config with every component's options filled in, plus provenance: re-runnable YAML."""
        data = self.config.model_dump(mode="json", by_alias=True, exclude={"provenance"})
        for c in self.validate().components:
            ref_path = c.path.replace("[", ".").replace("]", "")
            node: Any = data
            if data.get(ref_path, 0) is None:  # an omitted face: record the default that was used
                data[ref_path] = {"use": c.spec.name}
            for part in ref_path.split("."):
                node = node[int(part)] if part.isdigit() else node[part]
            if not isinstance(node, dict):  # single encoder stored as a list of one
                node = node[0]
            node["with"] = c.options.model_dump(mode="json")
        given = {"portrait": str(portrait) if portrait else None, "audio": str(audio) if audio else None,
                 "emotion": emotion, "transcript": transcript, "driving": str(driving) if driving else None}
        data["inputs"].update({k: v for k, v in given.items() if v is not None})
        data["provenance"] = self.provenance()
        return data

    def _write_run_file(self, output: Path, portrait: Path, audio: Path, request: Any,
                        transcript: str | None = None, driving: Path | None = None,
                        tx: OutputTransaction | None = None) -> Path:
        """Write ``OUT.run.yaml`` (to the transaction's temporary when given; it publishes it)."""
        path = run_file_path(output)
        emotion = self.config.inputs.emotion if request is None else _emotion_for_yaml(request)
        text = "# resolved by emoavatar: re-run with `emoavatar run " + path.name + " -o NEW.mp4`\n"
        text += yaml.safe_dump(self.resolved(portrait, audio, emotion, transcript, driving), sort_keys=False,
                               allow_unicode=True)
        if tx is not None:
            tx.write_run_file(text)
            return path
        tmp = path.with_name(path.name + ".partial")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        return path

    def _evaluate(self, result: RunResult, portrait: Path, audio: Path, request: Any) -> Any:
        """Run the YAML's ``metrics`` on the output; the report goes to ``OUT.metrics.json``."""
        from .evaluation import EvaluationOptions, evaluate
        from .evaluation.report import write_report
        from .interfaces import EvalSample

        metrics = [c for c in self.validate().components if c.kind == "metrics"]
        options = EvaluationOptions(metric_config={c.spec.name: c.options.model_dump() for c in metrics},
                                    face=self.validate().by_path("face").spec.name, fps=result.fps)
        sample = EvalSample(result.output, portrait=portrait, audio=audio, emotion=request, fps=result.fps)
        report = evaluate([sample], [c.spec.name for c in metrics], options, registry=self.registry)
        write_report(report, result.output.with_name(result.output.stem + ".metrics.json"))
        return report


def _run_inputs(driving: str | Path | None, cfg: PipelineConfig) -> tuple[dict, Path | None]:
    """The run's input ports (``input:driving``) from ``--driving`` or ``inputs.driving``."""
    path = Path(driving) if driving else cfg.inputs.driving
    if path is None:
        return {}, None
    from .inputs import DrivingVideo

    return {"input:driving": DrivingVideo.open(path)}, path


def _emotion_for_yaml(request: Any) -> Any:
    """An EmotionRequest as the YAML form that parses back to it."""
    out: dict[str, Any] = {}
    if request.text:
        out["text"] = request.text
    elif request.from_audio:
        out["from_audio"] = True
    else:
        out["timeline"] = [{"at": s.start, "emotion": dict(s.mix),
                            **({"intensity": s.intensity} if s.intensity is not None else {})} for s in request.segments]
    if request.au:
        out["au"] = dict(request.au)
    if getattr(request, "regions", None):
        out["regions"] = {r: dict(m) for r, m in request.regions.items()}
    out["intensity"] = request.intensity
    out["transition"] = request.transition
    return out

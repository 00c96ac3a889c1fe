"""``emoavatar ui``: a Gradio app over the same pipeline the CLI runs.

Portrait (with the detected face drawn, or a clear message), speech (upload or record; optional
transcript), every form of emotion request, a pipeline picker built from the installed plugins
(each component's options as YAML generated from its config schema; unusable components shown
with the reason), a progress bar, and the result: the video, its run.yaml and metrics. Renders
go through Gradio's queue (one at a time by default), so a second user waits in line instead of
stalling the server; face previews have their own lane. Errors are one-line messages.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from ..errors import EmoAvatarError
from . import forms

CSS = "#status {min-height: 2em}"


def _one_line(e: BaseException) -> str:
    text = str(e) if isinstance(e, EmoAvatarError) else f"internal error: {type(e).__name__}: {e}"
    return " ".join(text.split())[:500]


def draw_face(image, face):
    """The portrait with the face box and the 68 landmarks drawn on a copy."""
    import cv2
    import numpy as np

    out = np.ascontiguousarray(image.copy())
    s = max(1, int(round(max(out.shape[:2]) / 256)))
    x0, y0, x1, y1 = (int(round(v)) for v in face.box)
    cv2.rectangle(out, (x0, y0), (x1, y1), (0, 220, 0), s)
    for x, y in face.landmarks:
        cv2.circle(out, (int(round(x)), int(round(y))), s + 1, (255, 60, 60), -1)
    return out


class UIState:
    """What the handlers share: the registry, starting pipelines and the output folder."""

    def __init__(self, pipelines: list[Path], outdir: Path | None = None, registry=None) -> None:
        from ..registry import get_registry

        self.registry = registry or get_registry()
        self.pipelines = {p.name: p for p in pipelines}
        self.outdir = Path(outdir or tempfile.mkdtemp(prefix="emoavatar-ui-"))
        self.outdir.mkdir(parents=True, exist_ok=True)
        self.available = {kind: forms.availability(self.registry, kind) for kind in forms.STAGE_KINDS.values()}

    def choices(self, kind: str) -> list[tuple[str, str]]:
        return [(a.label, a.name) for a in self.available[kind]]

    def usable(self, kind: str) -> list[str]:
        return [a.name for a in self.available[kind] if a.ok]

    def base(self, name: str | None) -> dict[str, Any]:
        if name and name in self.pipelines:
            return forms.load_base(self.pipelines[name])
        return {}

    def picks_from(self, base: dict[str, Any]) -> dict[str, Any]:
        picks: dict[str, Any] = {}
        for stage, kind in forms.STAGE_KINDS.items():
            usable = self.usable(kind)
            node = forms.chain_last(base.get(stage)) if stage == "motion" else base.get(stage)
            if stage == "encoder":
                nodes = node if isinstance(node, list) else [node] if node else []
                names = [n.get("use") for n in nodes if isinstance(n, dict) and n.get("use") in usable]
                picks[stage] = names or usable[:1]
            else:
                name = node.get("use") if isinstance(node, dict) else None
                picks[stage] = name if name in usable else (usable[0] if usable else None)
        return picks

    def more_options(self, kind: str, name: str | None) -> str:
        """The YAML box: the options that have no form field (mappings, lists)."""
        if not name:
            return ""
        keys = tuple(f.key for f in forms.option_fields(self.registry, kind, name))
        return forms.options_template(self.registry, kind, name, exclude=keys)

    # -- handlers --------------------------------------------------------------------
    def preview_face(self, portrait: str | None, face_name: str | None):
        """(annotated image or None, message)."""
        if not portrait:
            return None, ""
        from ..media import read_image

        try:
            image = read_image(portrait)
            analyzer = self.registry.create("faces", face_name or self.usable("faces")[0], {})
            face = analyzer.analyze(image, source=Path(portrait).name, embed=False)
        except Exception as e:  # noqa: BLE001 - shown to the user as one line
            return None, f"⚠️ {_one_line(e)}"
        return draw_face(image, face), f"face found: {int(face.box[2] - face.box[0])} px wide, 68 landmarks"

    def render(self, values: dict[str, Any], progress=None) -> tuple[str, str, str | None, str]:
        """Run the pipeline; returns (video, run.yaml, metrics.json or None, status line)."""
        from ..config import parse_config
        from ..pipeline import Pipeline

        if not values.get("portrait"):
            raise EmoAvatarError("no portrait", fix="upload or pick a portrait image")
        if not values.get("audio"):
            raise EmoAvatarError("no speech", fix="upload or record speech")
        request = forms.emotion_request(
            values["mode"], label=values["label"], mix=values["mix"], timeline=values["timeline"],
            text=values["text"], au=values["au"], intensity=values["intensity"])
        fields = {}
        for stage, given in (values.get("fields") or {}).items():
            name = values["picks"].get(stage)
            if name and given:
                specs = forms.option_fields(self.registry, forms.STAGE_KINDS[stage], name)
                fields[stage] = forms.field_values(given, specs)
        data = forms.build_pipeline_data(self.base(values.get("pipeline")), values["picks"], values["options"], fields)
        pipe = Pipeline(parse_config(data), registry=self.registry)
        pipe.validate().raise_first()
        job = self.outdir / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        job.mkdir(parents=True)
        out = job / "emoavatar.mp4"
        if progress is not None:
            progress(0.0, desc="analysing portrait and speech")

        def tick(stage: str, done: int, total: int) -> None:
            if progress is not None:
                progress(done / max(1, total), desc=f"{stage} {done}/{total} frames")

        t0 = time.perf_counter()
        result = pipe.run(out, portrait=values["portrait"], audio=values["audio"], emotion=request,
                          transcript=(values.get("transcript") or "").strip() or None, progress=tick)
        metrics = out.with_name(out.stem + ".metrics.json")
        status = (f"rendered {result.n_frames} frames ({result.duration:.2f} s of speech) in "
                  f"{time.perf_counter() - t0:.1f} s")
        return str(result.output), str(result.config_path), (str(metrics) if metrics.exists() else None), status


def _option_fields(gr, state: UIState, stage: str, kind: str, pick, store) -> None:
    """Form fields for the picked component's options, regenerated when the pick changes; each
    edit records ``{key: value}`` in ``store`` (untouched fields keep the component's default)."""

    @gr.render(inputs=pick)
    def fields(name):
        if not name:
            return
        with gr.Row():
            for f in forms.option_fields(state.registry, kind, name):
                info = f.description[:160] or None
                eid = f"opt-{stage}-{f.key}"
                if f.type == "bool":
                    comp = gr.Checkbox(value=bool(f.default), label=f.key, info=info, elem_id=eid, interactive=True)
                elif f.type == "choice":
                    comp = gr.Dropdown(list(f.choices), value=f.default, label=f.key, info=info, elem_id=eid, interactive=True)
                elif f.type in ("number", "integer") and f.minimum is not None and f.maximum is not None:
                    step = 1 if f.type == "integer" else (f.maximum - f.minimum) / 100
                    comp = gr.Slider(f.minimum, f.maximum, value=f.default, step=step,
                                     label=f.key, info=info, elem_id=eid, interactive=True)
                elif f.type in ("number", "integer"):
                    comp = gr.Number(value=f.default, label=f.key, info=info, precision=0 if f.type == "integer" else None,
                                     elem_id=eid, interactive=True)
                else:
                    comp = gr.Textbox(value=f.default or "", label=f.key, info=info, elem_id=eid, interactive=True)
                comp.change(lambda v, cur, key=f.key: {**(cur or {}), key: v}, [comp, store], store, queue=False)


def build_app(state: UIState, *, render_concurrency: int = 1):
    """The Gradio Blocks app (not launched)."""
    import gradio as gr

    em = forms.emotions()
    with gr.Blocks(title="emoavatar") as app:
        gr.Markdown("# emoavatar\nA portrait, speech and an emotion → an emotional talking-head video.")
        with gr.Row():
            with gr.Column():
                portrait = gr.Image(type="filepath", label="Portrait", elem_id="portrait", sources=["upload"])
                face_view = gr.Image(label="Detected face", interactive=False, elem_id="face-view")
                face_msg = gr.Markdown(elem_id="face-msg")
                audio = gr.Audio(type="filepath", label="Speech", sources=["upload", "microphone"], elem_id="speech")
                transcript = gr.Textbox(label="Transcript (optional)", elem_id="transcript")
            with gr.Column():
                mode = gr.Radio(list(forms.MODES), value="label", label="Emotion request", elem_id="mode")
                label = gr.Dropdown(list(em), value="happy", label="Label", elem_id="label")
                with gr.Accordion("Compound mix", open=False):
                    mix = [gr.Slider(0, 1, value=0, step=0.05, label=e, elem_id=f"mix-{e}") for e in em]
                with gr.Accordion("Timeline (emotion changes while talking)", open=False):
                    timeline = gr.Textbox(value="0: neutral", lines=4, label="SECONDS: EMOTION per line",
                                          elem_id="timeline")
                    with gr.Row():
                        t_at = gr.Number(value=2.0, label="at (s)", elem_id="timeline-at")
                        t_emotion = gr.Dropdown(list(em), value="happy", label="emotion", elem_id="timeline-emotion")
                        t_add = gr.Button("Add switch", elem_id="timeline-add")
                text = gr.Textbox(label="Text prompt", placeholder="I can't believe we won!", elem_id="text")
                with gr.Accordion("Action units and intensity", open=False):
                    aus = [gr.Slider(0, 1, value=0, step=0.05, label=f"{a}", elem_id=f"au-{a}") for a in forms.au_names()]
                    intensity = gr.Slider(0, 1, value=1, step=0.05, label="intensity", elem_id="intensity")
        with gr.Accordion("Pipeline", open=False):
            names = list(state.pipelines)
            start = gr.Dropdown(names, value=names[0] if names else None, label="start from", elem_id="pipeline")
            base_picks = state.picks_from(state.base(names[0] if names else None))
            picks, opts, field_state = {}, {}, {}
            for stage, kind in forms.STAGE_KINDS.items():
                if stage == "encoder":
                    picks[stage] = gr.CheckboxGroup(state.choices(kind), value=base_picks[stage],
                                                    label="encoders", elem_id="pick-encoder")
                    opts[stage] = gr.Code("\n".join(f"{n}: {{}}" for n in base_picks[stage]), language="yaml",
                                          label="encoder options (NAME: {KEY: VALUE})", elem_id="opts-encoder")
                    continue
                with gr.Group():
                    picks[stage] = gr.Dropdown(state.choices(kind), value=base_picks[stage], label=stage,
                                               elem_id=f"pick-{stage}")
                    field_state[stage] = gr.State({})
                    _option_fields(gr, state, stage, kind, picks[stage], field_state[stage])
                    opts[stage] = gr.Code(state.more_options(kind, base_picks[stage]), language="yaml",
                                          label=f"more {stage} options (YAML)", elem_id=f"opts-{stage}")
            status_table = "\n".join(f"- `{a.kind}/{a.name}`: {'available' if a.ok else a.reason}"
                                     for kind in forms.STAGE_KINDS.values() for a in state.available[kind])
            gr.Markdown("Installed components:\n" + status_table)
        go = gr.Button("Render", variant="primary", elem_id="render")
        status = gr.Markdown(elem_id="status")
        with gr.Row():
            video = gr.Video(label="Result", elem_id="result", interactive=False)
            with gr.Column():
                run_file = gr.File(label="run.yaml (re-run with `emoavatar run`)", elem_id="run-yaml")
                metrics = gr.File(label="metrics", elem_id="metrics")

        portrait.change(state.preview_face, [portrait, picks["face"]], [face_view, face_msg],
                        concurrency_id="face", concurrency_limit=2)

        def add_switch(tl, at, emo):
            try:
                return forms.add_to_timeline(tl, at, emo)
            except EmoAvatarError as e:
                raise gr.Error(_one_line(e)) from None

        t_add.click(add_switch, [timeline, t_at, t_emotion], timeline, queue=False)

        for stage, kind in forms.STAGE_KINDS.items():
            if stage != "encoder":
                picks[stage].change(lambda n, k=kind: (state.more_options(k, n), {}), picks[stage],
                                    [opts[stage], field_state[stage]], queue=False)

        def restart(name):
            p = state.picks_from(state.base(name))
            return [p[s] for s in forms.STAGE_KINDS]

        start.change(restart, start, [picks[s] for s in forms.STAGE_KINDS], queue=False)

        inputs = {portrait, audio, transcript, mode, label, timeline, text, intensity, start, *mix, *aus,
                  *picks.values(), *opts.values(), *field_state.values()}

        def do_render(v, progress=gr.Progress()):
            values = {
                "portrait": v[portrait], "audio": v[audio], "transcript": v[transcript], "mode": v[mode],
                "label": v[label], "timeline": v[timeline], "text": v[text], "intensity": v[intensity],
                "pipeline": v[start], "mix": {e: v[s] for e, s in zip(em, mix)},
                "au": {a: v[s] for a, s in zip(forms.au_names(), aus)},
                "picks": {k: v[c] for k, c in picks.items()}, "options": {k: v[c] for k, c in opts.items()},
                "fields": {k: v[c] for k, c in field_state.items()},
            }
            try:
                out, run_yaml, metrics_json, line = state.render(values, progress)
            except Exception as e:  # noqa: BLE001 - every error is one line in the page
                raise gr.Error(_one_line(e)) from None
            return out, run_yaml, metrics_json, f"Done: {line}"

        go.click(do_render, inputs, [video, run_file, metrics, status], concurrency_id="render",
                 concurrency_limit=render_concurrency)
    return app


def launch(pipelines: list[Path], host: str = "127.0.0.1", port: int = 7860, outdir: Path | None = None,
           render_concurrency: int = 1, block: bool = True):
    """Build and serve the app; returns it (with ``block=False``, the server runs in a thread)."""
    state = UIState(pipelines, outdir)
    app = build_app(state, render_concurrency=render_concurrency)
    app.queue(max_size=64)
    app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, show_error=False,
               allowed_paths=[str(state.outdir)], inbrowser=False, quiet=True, css=CSS)
    return app

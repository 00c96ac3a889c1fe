"""The runner with trivial in-process stages: outputs, provenance, hooks, failure safety."""

import numpy as np
import pytest
import yaml
from emoavatar.errors import FaceNotFoundError, MediaError, OutputExistsError
from emoavatar.hookspecs import get_plugin_manager, hookimpl
from emoavatar.media import read_video, video_info, write_image
from emoavatar.pipeline import Pipeline
from emoavatar.testing.trivial import TRIVIAL_PIPELINE, trivial_registry


def make(tmp_path, **extra):
    return Pipeline.from_dict({**TRIVIAL_PIPELINE, **extra}, registry=trivial_registry())


def test_run_writes_h264_aac_of_audio_length_and_a_rerunnable_config(tmp_path, kit_portrait_path, kit_speech_path):
    out = tmp_path / "o.mp4"
    res = make(tmp_path).run(out, portrait=kit_portrait_path, audio=kit_speech_path, emotion="happy")
    info = video_info(out)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.n_frames == 50 and abs(info.duration - 2.0) <= 1 / 25
    assert (info.width, info.height) == (256, 256)
    run = yaml.safe_load(res.config_path.read_text())
    assert run["provenance"]["plugins"]["renderer"]["use"] == "trivial-renderer"
    assert run["renderer"]["with"] == {"shade": 0}
    assert run["inputs"]["emotion"]["timeline"][0]["emotion"] == {"happy": 1.0}
    again = Pipeline.from_dict(run, registry=trivial_registry())
    again.run(tmp_path / "b.mp4")  # the resolved file runs as it is
    assert video_info(tmp_path / "b.mp4").n_frames == 50


def test_frames_stream_in_chunks_and_odd_sizes_are_padded(tmp_path, kit_portrait_path, kit_speech_path):
    from emoavatar.media import read_image

    img = read_image(kit_portrait_path)[:255, :201]
    write_image(tmp_path / "odd.png", img)
    seen = []

    class Spy:
        @hookimpl
        def emoavatar_postprocess_frames(self, frames, start, context):
            seen.append((start, len(frames)))
            return 255 - frames

    pm = get_plugin_manager()
    spy = Spy()
    pm.register(spy)
    try:
        make(tmp_path, output={"chunk_size": 16}).run(tmp_path / "o.mp4", portrait=tmp_path / "odd.png",
                                                      audio=kit_speech_path)
    finally:
        pm.unregister(spy)
    assert seen == [(0, 16), (16, 16), (32, 16), (48, 2)]
    first = next(read_video(tmp_path / "o.mp4"))[0]
    assert first.shape == (256, 202, 3)
    assert abs(first[:255, :201].astype(int).mean() - (255 - img.astype(int)).mean()) < 3  # the hook applied


def test_refuses_to_overwrite_and_leaves_no_partial_file(tmp_path, kit_portrait_path, kit_speech_path):
    out = tmp_path / "o.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(OutputExistsError):
        make(tmp_path).run(out, portrait=kit_portrait_path, audio=kit_speech_path)
    assert out.read_bytes() == b"precious"
    blank = tmp_path / "blank.png"
    write_image(blank, np.full((64, 64, 3), 128, np.uint8))
    with pytest.raises(FaceNotFoundError):
        make(tmp_path).run(tmp_path / "n.mp4", portrait=blank, audio=kit_speech_path)
    bad_audio = tmp_path / "bad.wav"
    bad_audio.write_bytes(b"RIFF nonsense")
    with pytest.raises(MediaError):
        make(tmp_path).run(tmp_path / "n.mp4", portrait=kit_portrait_path, audio=bad_audio)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.wav", "blank.png", "o.mp4"]


def test_renderer_failure_mid_run_removes_the_partial_video(tmp_path, kit_portrait_path, kit_speech_path, monkeypatch):
    from emoavatar.testing import trivial

    def boom(self, motion, ctx):
        if motion.meta["start"] >= 25:
            raise RuntimeError("renderer crashed")
        return np.repeat(self.image[None], len(motion), axis=0)

    monkeypatch.setattr(trivial.TrivialRenderer, "render", boom)
    with pytest.raises(RuntimeError):
        make(tmp_path).run(tmp_path / "o.mp4", portrait=kit_portrait_path, audio=kit_speech_path)
    assert list(tmp_path.iterdir()) == []


def test_fps_changes_frame_count(tmp_path, kit_portrait_path, kit_speech_path):
    make(tmp_path, fps=30).run(tmp_path / "o.mp4", portrait=kit_portrait_path, audio=kit_speech_path)
    info = video_info(tmp_path / "o.mp4")
    assert info.n_frames == 60 and info.fps == pytest.approx(30)


def test_metrics_listed_in_the_yaml_evaluate_the_output(tmp_path, kit_portrait_path, kit_speech_path):
    import json

    pipe = make(tmp_path, metrics=[{"use": "jitter"}])
    res = pipe.run(tmp_path / "o.mp4", portrait=kit_portrait_path, audio=kit_speech_path)
    saved = json.loads((tmp_path / "o.metrics.json").read_text())
    assert res.metrics is not None and "jitter" in json.dumps(saved)
    jitter = res.metrics.samples[0].values()["jitter"]
    assert jitter == pytest.approx(0.0, abs=1e-6)  # a still portrait tracked by a fixed face: no jitter


def test_yaml_transcript_applies_only_to_the_yaml_audio(tmp_path, kit_portrait_path, kit_speech_path, monkeypatch):
    from emoavatar.testing import trivial

    seen = []
    original = trivial.TrivialEncoder.encode

    def spy(self, audio, ctx):
        seen.append(ctx.ports.get("input:transcript"))
        return original(self, audio, ctx)

    monkeypatch.setattr(trivial.TrivialEncoder, "encode", spy)
    inputs = {"portrait": str(kit_portrait_path), "audio": str(kit_speech_path), "transcript": "hello how are you"}
    pipe = make(tmp_path, inputs=inputs)
    pipe.run(tmp_path / "a.mp4")
    pipe.run(tmp_path / "b.mp4", audio=kit_speech_path)  # another recording: the YAML's words don't apply
    pipe.run(tmp_path / "c.mp4", audio=kit_speech_path, transcript="hi")
    assert seen == ["hello how are you", None, "hi"]

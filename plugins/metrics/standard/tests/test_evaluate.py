"""The evaluation runner, manifests, report writers, plots and the `emoavatar evaluate` command."""

from __future__ import annotations

import argparse
import json

import pytest
from emoavatar.errors import ConfigError, MediaError, PluginError
from emoavatar.evaluation import EvaluationOptions, evaluate, read_manifest, samples_from_args
from emoavatar.evaluation.cli import register
from emoavatar.evaluation.report import render, to_dict


def run_cli(argv: list[str]) -> int:
    """Parse with the command's own register() and run it the way the main CLI does."""
    from emoavatar.errors import EmoAvatarError

    parser = argparse.ArgumentParser(prog="emoavatar")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except EmoAvatarError as e:
        print(f"error: {e}")
        return e.exit_code


@pytest.mark.slow
def test_cli_end_to_end_table_report_and_plots(media, tmp_path, capsys):
    out, plots = tmp_path / "report.md", tmp_path / "plots"
    code = run_cli(["evaluate", str(media["video"]), "--portrait", str(media["portrait_path"]),
                    "--metrics", "av-sync,au,blink-rate,jitter,csim", "--set", "csim.every=10",
                    "-o", str(out), "--plots", str(plots)])
    text = capsys.readouterr().out
    assert code == 0
    for col in ("av_offset", "av_conf", "AU12", "blink_rate", "jitter", "csim ↑"):
        assert col in text
    assert "| metric | value |" in out.read_text()
    pngs = sorted(p.name for p in plots.iterdir())
    assert pngs == ["metrics.png", "talk_au.png", "talk_sync.png", "talk_sync_lag.png"]  # as the specs declare
    assert all((plots / p).stat().st_size > 5000 for p in pngs)
    assert (plots / "talk_sync.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_default_metrics_skip_audio_on_silent_video(media, capsys):
    code = run_cli(["evaluate", str(media["video_silent"]), "--set", "csim.every=5", "--format", "json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    sample = data["samples"][0]
    assert "needs --audio" in sample["skipped"]["av-sync"]
    assert "needs --audio" in sample["skipped"]["syncnet"]
    assert "needs --reference" in sample["skipped"]["psnr"]
    assert "needs one of" in sample["skipped"]["csim"]
    assert "needs --emotion" in sample["skipped"]["emotion-acc"]
    assert sample["values"]["jitter"] is not None and "blink_rate" in sample["values"]


def test_audio_metric_on_silent_video_is_one_line_error(media, capsys):
    code = run_cli(["evaluate", str(media["video_silent"]), "--metrics", "av-sync"])
    out = capsys.readouterr().out
    assert code != 0 and out.startswith("error:") and "no audio track" in out and len(out.splitlines()) == 1


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 50, "truncated"])
def test_corrupt_video_is_one_line_error(media, tmp_path, capsys, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(media["video"].read_bytes()[:3000] if content == "truncated" else content)
    code = run_cli(["evaluate", str(bad), "--metrics", "jitter"])
    out = capsys.readouterr().out
    assert code == 2 and out.startswith("error:") and len(out.strip().splitlines()) == 1
    assert "Traceback" not in out


def test_main_cli_registers_evaluate(media, capsys):
    from emoavatar.cli import main

    assert main(["evaluate", str(media["dir"] / "missing.mp4")]) == 2
    assert "video not found" in capsys.readouterr().err


@pytest.mark.slow
def test_runner_manifest_skips_and_writers(media, tmp_path):
    ref = media["video_silent"]
    manifest = tmp_path / "eval.csv"
    manifest.write_text(f"generated,reference,emotion\n{ref},{ref},happy\n{ref.name},,\n")
    (tmp_path / ref.name).write_bytes(ref.read_bytes())
    samples = read_manifest(manifest)
    assert samples[0].reference == ref and samples[1].reference is None
    assert samples[1].video == tmp_path / ref.name and samples[0].emotion.segments[0].mix == {"happy": 1.0}
    report = evaluate(samples, ["psnr", "lmd", "fid", "emotion-acc"], EvaluationOptions())
    first, second = report.samples
    assert first.values()["psnr"] == 100.0 and first.values()["m_lmd_px256"] == 0
    assert "weights" in first.skipped["fid"]
    assert first.values()["emotion_acc"] == 100.0  # offline by default (facex): the smiling kit face reads happy
    assert second.skipped["psnr"].startswith("needs --reference")
    summary = report.summary()
    assert summary["psnr"].n == 1 and summary["psnr"].mean == 100.0  # skipped != 0
    d = to_dict(report)
    assert d["samples"][1]["values"] == {} and d["summary"]["f_lmd_px256"]["n"] == 1
    csv_text = render(report, "csv")
    assert csv_text.splitlines()[0].startswith("sample,video,psnr,m_lmd_px256,f_lmd_px256,emotion_acc,skipped")
    assert ",100.0," in csv_text.splitlines()[1]
    assert "fid (" in render(report, "md") and "fid (" in render(report, "table")


def test_manifest_and_args_errors(tmp_path, media):
    y = tmp_path / "m.yaml"
    y.write_text(f"- generated: {media['video']}\n  emotion: '{{happy: 0.6, surprised: 0.4}}'\n  fps: 25\n")
    s = read_manifest(y)[0]
    assert s.fps == 25.0 and set(s.emotion.segments[0].mix) == {"happy", "surprised"}
    y.write_text("- reference: a.mp4\n")
    with pytest.raises(ConfigError, match="generated"):
        read_manifest(y)
    y.write_text("- generated: a.mp4\n  colour: red\n")
    with pytest.raises(ConfigError, match="unknown column"):
        read_manifest(y)
    folder = samples_from_args(media["dir"])
    assert {p.video.name for p in folder} >= {"talk.mp4", "talk_delayed.mp4"}
    with pytest.raises(MediaError):
        samples_from_args(tmp_path / "nothing")
    with pytest.raises(PluginError, match="unknown Metric"):
        evaluate(samples_from_args(media["video"]), ["no-such-metric"])
    with pytest.raises(ConfigError, match="unknown metric"):
        evaluate(samples_from_args(media["video"]), None, EvaluationOptions({"lmdd": {"normalize": "iod"}}))
    with pytest.raises(ConfigError, match="lmd.normalize"):
        evaluate(samples_from_args(media["video"]), ["lmd"], EvaluationOptions({"lmd": {"normalize": "cm"}}))


def test_frame_rate_mismatch_and_face_options(media, tmp_path):
    from emoavatar_metrics.synthetic import write_video

    ref50 = write_video(tmp_path / "ref50.mp4", media["frames"][:10], fps=50.0)
    samples = samples_from_args(media["video_silent"], reference=ref50)
    report = evaluate(samples, ["psnr", "lmd"], EvaluationOptions(face=None))
    for m in ("psnr", "lmd"):
        assert "25 fps but the reference 50 fps" in report.samples[0].skipped[m]
    assert not any(k[0] == "frames" for k in samples[0].cache)  # pixels freed after the sample
    with pytest.raises(ConfigError, match="face.upsample"):
        evaluate(samples, ["jitter"], EvaluationOptions(face_config={"upsample": -1}))

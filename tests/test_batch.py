"""`emoavatar batch`: manifests, resumable local and Ray runs, failures recorded, interruption safe."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from _support import BIN, EXAMPLES, cli
from emoavatar.batch import read_jobs, run_batch
from emoavatar.errors import ConfigError
from emoavatar.media import video_info

DATA = Path(__file__).resolve().parents[1] / "core" / "emoavatar" / "testing" / "data"
EMOTIONS = ["happy", "sad", "angry", "surprised", "neutral", "{happy: .6, surprised: .4}"]


def write_manifest(folder: Path, n_ok: int, n_bad: int = 0, name: str = "jobs.csv") -> Path:
    """``n_ok`` short renders of the kit portrait and speech, then ``n_bad`` that must fail
    (a missing portrait; an unknown emotion)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_ok):
        rows.append({"portrait": str(DATA / "portrait_256.png"), "audio": str(DATA / "speech_2s.wav"),
                     "emotion": EMOTIONS[i % len(EMOTIONS)], "pipeline": str(EXAMPLES / "default.yaml"),
                     "output": f"out/job{i:02d}.mp4", "overrides": "output.preset=ultrafast;seed=%d" % (i % 2)})
    for i in range(n_bad):
        bad = {"portrait": "missing.png"} if i % 2 == 0 else {"emotion": "elated-ish"}
        rows.append({"portrait": str(DATA / "portrait_256.png"), "audio": str(DATA / "speech_2s.wav"),
                     "emotion": "happy", "pipeline": str(EXAMPLES / "default.yaml"),
                     "output": f"out/bad{i:02d}.mp4", "overrides": "", **bad})
    path = folder / name
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_manifest_paths_overrides_and_errors(tmp_path):
    m = write_manifest(tmp_path, 2)
    jobs = read_jobs(m)
    assert [j.index for j in jobs] == [1, 2]
    assert jobs[0].output == str(tmp_path / "out/job00.mp4")
    assert jobs[1].overrides == ["output.preset=ultrafast", "seed=1"]
    assert jobs[1].emotion == "sad"
    (tmp_path / "dup.yaml").write_text("- {output: a.mp4, pipeline: p.yaml}\n- {output: ./a.mp4, pipeline: p.yaml}\n")
    with pytest.raises(ConfigError, match="rows 1 and 2 write the same output"):
        read_jobs(tmp_path / "dup.yaml")
    (tmp_path / "nopipe.yaml").write_text("- {output: a.mp4}\n")
    with pytest.raises(ConfigError, match="row 1: no pipeline"):
        read_jobs(tmp_path / "nopipe.yaml")
    assert read_jobs(tmp_path / "nopipe.yaml", default_pipeline="x.yaml")[0].pipeline == "x.yaml"
    (tmp_path / "typo.csv").write_text("output,pipline\na.mp4,p.yaml\n")
    with pytest.raises(ConfigError, match="unknown column 'pipline'"):
        read_jobs(tmp_path / "typo.csv")


def test_cli_errors_are_one_line(tmp_path):
    r = cli("batch", str(tmp_path / "nope.csv"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "not found" in r.stderr
    m = write_manifest(tmp_path, 1)
    r = cli("batch", str(m), "--workers", "0")
    assert r.returncode == 2 and "--workers must be at least 1" in r.stderr


@pytest.mark.slow
def test_local_batch_records_failures_and_resumes(tmp_path):
    """2 worker processes, 3 good jobs and 2 failing: 3 videos, 2 recorded errors; a second run
    skips the 3 and leaves their files untouched; models load once per worker."""
    m = write_manifest(tmp_path, 3, 2)
    jobs = read_jobs(m)
    summary = run_batch(jobs, tmp_path / "results.csv", workers=2)
    assert summary.counts == {"ok": 3, "failed": 2}
    rows = {r["index"]: r for r in summary.rows}
    assert "image not found" in rows[4]["error"] and "unknown emotion" in rows[5]["error"]
    assert all("\n" not in r["error"] for r in summary.rows)
    for j in jobs[:3]:
        info = video_info(j.output)
        assert info.n_frames == 50 and Path(j.run_file).is_file()
    assert len({r["worker"] for r in summary.rows if r["status"] == "ok"}) <= 2
    table = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [t["status"] for t in table] == ["ok", "ok", "ok", "failed", "failed"]
    assert float(table[0]["t_render+encode"]) > 0
    mtimes = {j.output: os.stat(j.output).st_mtime_ns for j in jobs[:3]}
    again = run_batch(jobs, tmp_path / "results.json", workers=1)
    assert again.counts == {"skipped": 3, "failed": 2}
    assert {j.output: os.stat(j.output).st_mtime_ns for j in jobs[:3]} == mtimes
    assert [r["status"] for r in json.loads((tmp_path / "results.json").read_text())][:3] == ["skipped"] * 3
    journal = [json.loads(line) for line in open(tmp_path / "results.jsonl")]
    assert len(journal) == 5 + 2  # every job of the first run, the two failures again


def _wait_for(pred, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_ray_batch_twelve_jobs_failures_resume_and_kill(tmp_path):
    """Local Ray, 12 jobs of which 2 fail: killed midway, restarted, finished: 10 videos, 2
    errors, nothing finished redone; a third run skips all 10."""
    pytest.importorskip("ray")
    m = write_manifest(tmp_path, 10, 2)
    jobs = read_jobs(m)
    cmd = [str(BIN / "emoavatar"), "batch", str(m), "--engine", "ray", "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert _wait_for(lambda: sum(j.done() for j in jobs) >= 3, 240), "no job finished in time"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=60)
    done_before = {j.output: os.stat(j.output).st_mtime_ns for j in jobs if j.done()}
    assert 3 <= len(done_before) < 10
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stderr  # two jobs failed
    assert "10 ok" not in r.stdout and f"{len(done_before)} skipped" in r.stdout and "2 failed" in r.stdout
    assert all(j.done() for j in jobs[:10]) and not any(Path(j.output).exists() for j in jobs[10:])
    assert {o: os.stat(o).st_mtime_ns for o in done_before} == done_before  # nothing finished was redone
    assert not list((tmp_path / "out").glob("*partial*"))
    table = list(csv.DictReader(open(tmp_path / "jobs.results.csv")))
    assert sum(t["status"] == "failed" for t in table) == 2 and all(t["error"] for t in table[10:])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert "10 skipped" in r.stdout and "2 failed" in r.stdout


@pytest.mark.slow
def test_evaluate_with_ray_matches_local(tmp_path):
    pytest.importorskip("ray")
    m = write_manifest(tmp_path, 2)
    run_batch(read_jobs(m), tmp_path / "r.csv", workers=1)
    local = cli("evaluate", str(tmp_path / "out"), "--metrics", "av-sync,jitter", "--format", "json")
    ray = cli("evaluate", str(tmp_path / "out"), "--metrics", "av-sync,jitter", "--format", "json",
              "--engine", "ray", "--workers", "2")
    assert local.returncode == 0 and ray.returncode == 0, ray.stderr
    a, b = json.loads(local.stdout), json.loads(ray.stdout)
    assert [s["name"] for s in a["samples"]] == [s["name"] for s in b["samples"]] == ["job00", "job01"]
    assert [s["values"] for s in a["samples"]] == [s["values"] for s in b["samples"]]
    assert a["samples"][0]["values"]["av_corr"] is not None

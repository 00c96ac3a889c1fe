"""Bad inputs and faults end in one clear line, leave no temporaries and change no existing file
(issue 12). The CLI runs in a subprocess with the trivial in-process stages, so each case is
about the core; the numbers in comments are the issue's 17 cases.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from emoavatar.media import write_image, write_wav

RUNNER = """
import sys
import emoavatar.registry as registry
from emoavatar.testing.trivial import trivial_registry
registry._default = trivial_registry()
from emoavatar.cli import main
sys.exit(main(sys.argv[1:]))
"""


def trivial_cli(*args: str, env: dict | None = None, preexec=None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUNNER, *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, preexec_fn=preexec, timeout=timeout)


def _default_sigint() -> None:
    # a shell without job control starts background jobs with SIGINT ignored, and `nohup` starts them
    # with SIGHUP ignored; the run keeps an ignored signal ignored (as it should under nohup): give it
    # a terminal's Ctrl-C, hang-up and kill whatever started pytest
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def trivial_popen(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RUNNER, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)


def pipeline_yaml(folder: Path, portrait: Path, audio: Path, **extra) -> Path:
    from emoavatar.testing.trivial import TRIVIAL_PIPELINE

    data = {**TRIVIAL_PIPELINE, "inputs": {"portrait": str(portrait), "audio": str(audio), "emotion": "happy"}, **extra}
    path = folder / "pipe.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def assert_one_line_failure(r: subprocess.CompletedProcess, *needles: str) -> str:
    assert r.returncode != 0, r.stdout
    err = r.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


def assert_no_temporaries(folder: Path) -> None:
    left = [p.name for p in folder.iterdir() if ".partial" in p.name or p.name.endswith(".lock")]
    assert left == [], left


@pytest.fixture
def work(tmp_path, kit_portrait_path, kit_speech_path):
    """A folder with the pipeline YAML and inputs outside the output folder ``out/``."""
    out = tmp_path / "out"
    out.mkdir()
    return pipeline_yaml(tmp_path, kit_portrait_path, kit_speech_path), out


@contextlib.contextmanager
def small_fs(path: Path, size: str, *, readonly: bool = False):
    """A tmpfs of ``size`` at ``path`` (root only); skips the test where it cannot be mounted."""
    path.mkdir(exist_ok=True)
    opts = f"size={size}" + (",ro" if readonly else "")
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


# -- output transaction ------------------------------------------------------------------------
def test_run_yaml_alone_is_not_replaced_without_overwrite(work):  # case: out.run.yaml alone replaced
    pipe, out = work
    (out / "o.run.yaml").write_text("mine: true\n")
    before = snapshot(out)
    r = trivial_cli("run", pipe, "-o", out / "o.mp4")
    assert_one_line_failure(r, "o.run.yaml already exists", "--overwrite")
    assert snapshot(out) == before
    assert_no_temporaries(out)


def test_output_at_a_folder_with_overwrite_fails_cleanly(work):  # case: -o DIR --overwrite
    pipe, out = work
    (out / "d.mp4").mkdir()
    r = trivial_cli("run", pipe, "-o", out / "d.mp4", "--overwrite")
    assert_one_line_failure(r, "d.mp4 is a folder")
    assert sorted(p.name for p in out.iterdir()) == ["d.mp4"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_mid_run_removes_temporaries(work, tmp_path, kit_portrait_path, sig):  # case: SIGTERM partial
    _, out = work
    long_audio = tmp_path / "long.wav"
    write_wav(long_audio, np.zeros(16000 * 120, np.float32), 16000)
    pipe = pipeline_yaml(tmp_path, kit_portrait_path, long_audio, output={"chunk_size": 5, "preset": "slow"})
    (out / "o.mp4").write_bytes(b"older video")
    before = snapshot(out)
    proc = trivial_popen("run", pipe, "-o", out / "o.mp4", "--overwrite")
    deadline = time.time() + 60
    while not (out / "o.partial.mp4").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert (out / "o.partial.mp4").exists(), "the run never started writing"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "interrupted" in err
    assert snapshot(out) == before
    assert_no_temporaries(out)


def test_concurrent_runs_on_one_output_exactly_one_wins(tmp_path, kit_portrait_path, kit_speech_path):  # concurrency
    """Run A takes the output's lock and is paused there (SIGSTOP), so run B surely overlaps it."""
    out = tmp_path / "out"
    out.mkdir()
    pipes = []
    for i in range(2):
        folder = tmp_path / f"p{i}"
        folder.mkdir()
        pipes.append(pipeline_yaml(folder, kit_portrait_path, kit_speech_path))
    a = trivial_popen("run", pipes[0], "-o", out / "o.mp4", "--emotion", "happy", "--overwrite")
    deadline = time.time() + 60
    while not (out / "o.mp4.lock").exists() and time.time() < deadline and a.poll() is None:
        time.sleep(0.01)
    a.send_signal(signal.SIGSTOP)
    try:
        b = trivial_cli("run", pipes[1], "-o", out / "o.mp4", "--emotion", "sad", "--overwrite")
    finally:
        a.send_signal(signal.SIGCONT)
    _, a_err = a.communicate(timeout=120)
    assert a.returncode == 0, a_err
    assert_one_line_failure(b, "another emoavatar run is writing", "o.mp4.lock")
    run = yaml.safe_load((out / "o.run.yaml").read_text())
    assert run["inputs"]["emotion"]["timeline"][0]["emotion"] == {"happy": 1.0}  # the winner's run file
    from emoavatar.media import video_info

    assert video_info(out / "o.mp4").n_frames == 50
    assert_no_temporaries(out)
    (out / "o.mp4").unlink()
    (out / "o.run.yaml").unlink()
    b = trivial_cli("run", pipes[1], "-o", out / "o.mp4", "--emotion", "sad", "-q")  # the lock is gone with A
    assert b.returncode == 0, b.stderr


def test_lock_refuses_a_second_transaction_in_process(tmp_path):
    from emoavatar.errors import OutputError
    from emoavatar.output import OutputTransaction

    with OutputTransaction(tmp_path / "o.mp4") as first:
        first.begin()
        with pytest.raises(OutputError, match="another emoavatar run"), OutputTransaction(tmp_path / "o.mp4") as second:
            second.begin()
        first.video_tmp.write_bytes(b"v")
        first.write_run_file("r: 1\n")
        first.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4", "o.run.yaml"]


# -- the operating system says no ------------------------------------------------------------------
def test_read_only_file_system(work, tmp_path):  # case: -o on a read-only fs
    pipe, _ = work
    with small_fs(tmp_path / "ro", "1m", readonly=True) as ro:
        r = trivial_cli("run", pipe, "-o", ro / "o.mp4")
        assert_one_line_failure(r, "o.mp4", "Read-only file system")
        assert list(ro.iterdir()) == []


def test_disk_full_during_the_video(work, tmp_path):  # cases: disk full in the video; partial left filling it
    pipe, _ = work
    with small_fs(tmp_path / "full", "24k") as fs:
        (fs / "keep.txt").write_text("existing data")
        r = trivial_cli("run", pipe, "-o", fs / "o.mp4")
        assert_one_line_failure(r, "No space left on device")
        assert snapshot(fs) == {"keep.txt": b"existing data"}


def test_disk_full_during_run_yaml_publishes_nothing(tmp_path, kit_portrait_path, kit_speech_path):
    # cases: disk full in run.yaml; the MP4 already renamed into place although run.yaml failed
    pipe = pipeline_yaml(tmp_path, kit_portrait_path, kit_speech_path,
                         inputs={"portrait": str(kit_portrait_path), "audio": str(kit_speech_path),
                                 "transcript": "x" * 400_000})  # a run file far bigger than the video
    with small_fs(tmp_path / "full", "256k") as fs:
        (fs / "o.mp4").write_bytes(b"older video")
        (fs / "o.run.yaml").write_text("older: run\n")
        before = snapshot(fs)
        r = trivial_cli("run", pipe, "-o", fs / "o.mp4", "--overwrite")
        assert_one_line_failure(r, "o.run.yaml: No space left on device")
        assert snapshot(fs) == before


def test_file_size_limit(work):  # case: ulimit -f
    import resource

    pipe, out = work

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    r = trivial_cli("run", pipe, "-o", out / "o.mp4", preexec=limit)
    assert_one_line_failure(r, "o.partial.mp4", "File too large", "ulimit -f")
    assert list(out.iterdir()) == []


def test_os_errors_become_one_line_naming_path_and_reason(tmp_path):
    from emoavatar.errors import OutputError
    from emoavatar.output import OutputTransaction

    with pytest.raises(OutputError) as info, OutputTransaction(tmp_path / "o.mp4") as tx:
        tx.begin()
        with tx.writing():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(info.value).startswith(f"cannot write {tmp_path / 'o.mp4'}: No space left on device")
    with pytest.raises(OutputError, match="Permission denied"), OutputTransaction(tmp_path / "p.mp4") as tx:
        tx.begin()
        raise PermissionError(errno.EACCES, "Permission denied", str(tx.video_tmp))
    with pytest.raises(FileNotFoundError), OutputTransaction(tmp_path / "q.mp4") as tx:  # not ours: unchanged
        tx.begin()
        open(tmp_path / "missing-weights.bin")
    assert list(tmp_path.iterdir()) == []


# -- inputs at the edge ---------------------------------------------------------------------------
def float_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    data = np.asarray(samples, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)  # WAVE_FORMAT_IEEE_FLOAT
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_float_wav_with_nan_or_inf_is_refused(work, tmp_path, bad):  # case: NaN/inf float WAV
    pipe, out = work
    x = np.sin(np.arange(16000) / 10).astype(np.float32) * 0.1
    x[12000] = bad
    wav = float_wav(tmp_path / "bad.wav", x)
    r = trivial_cli("run", pipe, "-o", out / "o.mp4", "--audio", wav)
    assert_one_line_failure(r, "bad.wav contains NaN or infinite samples (first at 0.750 s)")
    assert list(out.iterdir()) == []
    if np.isnan(bad):  # the same float WAV without the bad sample renders
        ok = float_wav(tmp_path / "ok.wav", np.nan_to_num(x))
        assert trivial_cli("run", pipe, "-o", out / "o.mp4", "--audio", ok, "-q").returncode == 0


@pytest.mark.parametrize("args,needle", [
    (("--seed", "-1"), "seed: Input should be greater than or equal to 0"),  # case: --seed -1
    (("--seed", str(2**40)), "seed: Input should be less than or equal to 4294967295"),
    (("--emotion", "{happy: .nan}"), "must be >= 0 and finite"),  # case: emotion NaN recorded as {}
    (("--emotion", "{happy: .inf, sad: 1}"), "must be >= 0 and finite"),
    (("--emotion", "[{at: .nan, emotion: sad}]"), "finite number of seconds"),
    (("--set", "inputs.max_portrait_side=10"), "inputs.max_portrait_side: Input should be greater than or equal to 64"),
])
def test_bad_values_are_refused_before_any_work(work, args, needle):
    pipe, out = work
    r = trivial_cli("run", pipe, "-o", out / "o.mp4", *args)
    assert_one_line_failure(r, needle)
    assert list(out.iterdir()) == []


def test_yaml_not_utf8_too_big_or_alias_bomb(tmp_path):  # cases: non-UTF-8, 50 MB YAML, alias bomb
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("inputs: {transcript: 'Grüße'}\n".encode("latin-1"))
    assert_one_line_failure(trivial_cli("validate", latin), "latin.yaml line 1: not UTF-8", "save the file as UTF-8")
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * 200_000)
    t0 = time.perf_counter()
    assert_one_line_failure(trivial_cli("validate", big), "above the limit of 1048576")
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
              f"*a{i - 1}, *a{i - 1}]" for i in range(1, 9)]
    lines.append("controler: *a8")  # a misspelt key whose value (10^9 items) would be formatted
    bomb.write_text("\n".join(lines) + "\n")
    err = assert_one_line_failure(trivial_cli("validate", bomb), "expands to more than 100000 values")
    assert len(err) < 400
    recursive = tmp_path / "loop.yaml"
    recursive.write_text("encoder: &e [*e]\n")
    assert_one_line_failure(trivial_cli("validate", recursive), "expands to more than")
    bomb_emotion = "{happy: 1, au: &a [[*a]]}"
    assert_one_line_failure(trivial_cli("validate", big.with_name("latin.yaml"), "--emotion", bomb_emotion))
    assert time.perf_counter() - t0 < 30


def test_oversized_portrait_is_downscaled_with_a_notice(work, tmp_path, kit_portrait_path):  # case: 8000x8000
    from emoavatar.media import read_image, video_info

    pipe, out = work
    r = trivial_cli("run", pipe, "-o", out / "o.mp4", "--set", "inputs.max_portrait_side=128", "-q")
    assert r.returncode == 0, r.stderr
    assert "notice: portrait" in r.stderr and "256x256; downscaled to 128x128" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    info = video_info(out / "o.mp4")
    assert (info.width, info.height) == (128, 128)
    assert read_image(kit_portrait_path).shape == (256, 256, 3)  # the input file is untouched


def test_evaluate_refuses_a_still_image(tmp_path, kit_portrait_path, kit_speech_path):  # case: evaluate on a PNG
    r = trivial_cli("evaluate", kit_portrait_path, "--metrics", "jitter", "--audio", kit_speech_path)
    assert_one_line_failure(r, "is a still image, not a video")
    png = tmp_path / "clip.mp4"  # a PNG under a video name is still refused
    write_image(tmp_path / "x.png", np.zeros((32, 32, 3), np.uint8))
    png.write_bytes((tmp_path / "x.png").read_bytes())
    assert_one_line_failure(trivial_cli("evaluate", png, "--metrics", "jitter"), "is a still image")


# -- EMOAVATAR_STRICT --------------------------------------------------------------------------------
def _crashy_site(tmp_path, kind: str) -> dict:
    site = tmp_path / "site"
    dist = site / "emoavatar_plugin_crashy-9.9.9.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: emoavatar-plugin-crashy\nVersion: 9.9.9\n")
    (dist / "entry_points.txt").write_text(f"[emoavatar.{kind}]\ncrashy = crashy_spec:SPEC\n")
    (site / "crashy_spec.py").write_text('raise ImportError("needs libcrash, which is not installed")\n')
    return {"PYTHONPATH": str(site)}


@pytest.fixture
def broken_plugin(tmp_path) -> dict:
    """A distribution on PYTHONPATH whose renderer entry point fails to import."""
    return _crashy_site(tmp_path, "renderers")


@pytest.fixture
def broken_face_plugin(tmp_path) -> dict:
    """The same broken distribution, as a face analyzer (a kind whose installed plugins import in about a second)."""
    return _crashy_site(tmp_path, "faces")


def test_strict_values_are_parsed_once_and_unknown_ones_refused(work, broken_plugin):
    pipe, _ = work
    r = trivial_cli("validate", pipe, env={**broken_plugin, "EMOAVATAR_STRICT": "maybe"})
    assert_one_line_failure(r, "EMOAVATAR_STRICT='maybe' is not understood", "1, true, yes, on", "off")
    assert trivial_cli("validate", pipe, env={**broken_plugin, "EMOAVATAR_STRICT": "Off"}).returncode == 0
    strict = trivial_cli("validate", pipe, env={**broken_plugin, "EMOAVATAR_STRICT": "on"})
    err = assert_one_line_failure(strict, "plugin renderers/crashy (emoavatar-plugin-crashy 9.9.9) is broken", "libcrash")
    assert err.count("crashy (") == 1 and "encoder" not in err and "renderer.use" not in err


def test_doctor_prints_its_table_in_strict_mode(broken_face_plugin):
    # --kind faces: the doctor imports only the face analyzers' code, not every plugin's (the diffusion renderer's
    # import alone is ~14 s of CPU); test_plugins_cli runs the full doctor
    r = trivial_cli("plugins", "--doctor", "--kind", "faces", env={**broken_face_plugin, "EMOAVATAR_STRICT": "1"})
    assert "emoavatar plugins" in r.stdout and "crashy" in r.stdout and "broken" in r.stdout
    assert_one_line_failure(r, "EMOAVATAR_STRICT is on", "crashy")


def test_strict_parser_accepts_only_documented_values():
    from emoavatar.errors import ConfigError
    from emoavatar.strict import strict_mode

    for value in ("1", "true", "YES", " on "):
        assert strict_mode({"EMOAVATAR_STRICT": value}) is True
    for value in ("", "0", "false", "No", "off"):
        assert strict_mode({"EMOAVATAR_STRICT": value}) is False
    assert strict_mode({}) is False
    for value in ("maybe", "2", "enable"):
        with pytest.raises(ConfigError, match="is not understood"):
            strict_mode({"EMOAVATAR_STRICT": value})

import numpy as np
import pytest
from emoavatar.errors import MediaError
from emoavatar.media import VideoWriter, decode_audio, probe_duration, read_image, read_video, write_wav
from emoavatar.types import Audio


def test_decode_resamples_and_probes(kit_speech_path, tmp_path):
    x16 = decode_audio(kit_speech_path, 16000)
    x8 = decode_audio(kit_speech_path, 8000)
    assert x16.dtype == np.float32 and len(x16) == 32000 and abs(len(x8) - 16000) <= 64
    assert probe_duration(kit_speech_path) == pytest.approx(2.0, abs=1e-3)
    a = Audio.load(kit_speech_path)
    assert a._samples is None and a.n_frames(25) == 50  # probing did not decode
    tone = np.sin(np.arange(24000) / 24000 * 2 * np.pi * 440).astype(np.float32) * 0.5
    write_wav(tmp_path / "t.wav", tone, 24000)
    back = decode_audio(tmp_path / "t.wav", 24000)
    assert np.abs(back - tone).max() < 1e-3


def test_media_errors_are_one_liners(tmp_path):
    (tmp_path / "x.png").write_bytes(b"not an image")
    for fn, arg in [(read_image, tmp_path / "x.png"), (read_image, tmp_path / "missing.png"),
                    (decode_audio, tmp_path / "x.png"), (lambda p: list(read_video(p)), tmp_path / "x.png")]:
        with pytest.raises(MediaError) as e:
            fn(arg)
        assert "\n" not in str(e.value)


def test_video_without_audio_roundtrip(tmp_path):
    yy, xx = np.mgrid[0:48, 0:64]
    img = np.stack([xx * 4, yy * 5, 255 - xx * 2], -1).astype(np.uint8)  # smooth: survives 4:2:0
    frames = np.stack([np.roll(img, k, axis=1) for k in range(10)])
    with VideoWriter(tmp_path / "v.mp4", 25, crf=0) as w:
        w.write(frames[:4])
        w.write(frames[4:])
    back = np.concatenate(list(read_video(tmp_path / "v.mp4")))
    assert back.shape == frames.shape
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 3

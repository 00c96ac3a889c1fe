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


def test_a_pcm_wav_opens_from_its_header_with_what_a_full_probe_finds(kit_speech_path, tmp_path):
    """issue 11: a PCM WAV is opened without FFmpeg's stream probing (its header is complete);
    rate, channels, length and samples are what the fully probed open gives, and a file named
    .wav that is not a PCM WAV (here FLAC) is opened the usual way."""
    import av
    from emoavatar.media import audio as audio_mod

    stereo = tmp_path / "f32_stereo.wav"
    with av.open(str(stereo), "w") as c:
        s = c.add_stream("pcm_f32le", rate=44100)
        s.layout = "stereo"
        fr = av.AudioFrame.from_ndarray(np.random.default_rng(0).uniform(-0.5, 0.5, (1, 2 * 44100)).astype(np.float32),
                                        format="flt", layout="stereo")
        fr.sample_rate = 44100
        for pkt in [*s.encode(fr), *s.encode(None)]:
            c.mux(pkt)
    flac = tmp_path / "flac_inside.wav"
    with av.open(str(flac), "w", format="flac") as c:
        s = c.add_stream("flac", rate=16000)
        s.layout = "mono"
        fr = av.AudioFrame.from_ndarray((np.sin(np.arange(16000) / 9) * 9000).astype(np.int16)[None], format="s16",
                                        layout="mono")
        fr.sample_rate = 16000
        for pkt in [*s.encode(fr), *s.encode(None)]:
            c.mux(pkt)
    for path, fast in ((kit_speech_path, True), (stereo, True), (flac, False)):
        probed, ours = av.open(str(path)), audio_mod._open(path)
        try:
            a, b = probed.streams.audio[0], ours.streams.audio[0]
            assert audio_mod._pcm_wav(ours) is fast
            assert (b.rate, b.channels, b.codec_context.name, b.duration, b.time_base, ours.duration) == \
                   (a.rate, a.channels, a.codec_context.name, a.duration, a.time_base, probed.duration)
            x = np.concatenate([f.to_ndarray().reshape(-1) for f in probed.decode(a)])
            y = np.concatenate([f.to_ndarray().reshape(-1) for f in ours.decode(b)])
            assert x.dtype == y.dtype and np.array_equal(x, y) and len(x) > 0
        finally:
            probed.close()
            ours.close()
    assert probe_duration(stereo) == pytest.approx(1.0) and probe_duration(flac) == pytest.approx(1.0, abs=0.01)


def test_a_mono_pcm16_wav_at_the_asked_rate_is_read_directly_with_pyavs_samples(kit_speech_path, tmp_path):
    """issue 11 (speed): a mono 16-bit WAV at the asked rate skips PyAV's decode loop; the samples
    are bit-identical to PyAV's, and every other WAV (another rate, stereo, truncated, not a WAV)
    still goes through PyAV."""
    import wave

    from emoavatar.media import audio as audio_mod
    from emoavatar.media.audio import iter_audio

    def pyav(path, rate):
        return np.concatenate([c.reshape(-1) for c in iter_audio(path, rate)])

    odd = tmp_path / "odd.wav"  # full-scale extremes and an odd sample count
    write_wav(odd, np.concatenate([[-1.0, 1.0, 0.0], np.random.default_rng(1).uniform(-1, 1, 16001)]), 16000)
    for path in (kit_speech_path, odd):
        direct = audio_mod._read_pcm16_mono(path, 16000)
        assert direct is not None and direct.dtype == np.float32
        assert np.array_equal(direct, pyav(path, 16000)), path
        assert np.array_equal(decode_audio(path, 16000), direct)
    assert audio_mod._read_pcm16_mono(odd, 8000) is None  # resampled by PyAV
    assert len(decode_audio(odd, 8000)) == pytest.approx(len(direct) / 2, abs=64)
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(np.zeros(200, "<i2").tobytes())
    assert audio_mod._read_pcm16_mono(stereo, 16000) is None and len(decode_audio(stereo, 16000)) == 100
    cut = tmp_path / "cut.wav"  # header promises more than the file holds: what is there, as PyAV reads it
    cut.write_bytes(kit_speech_path.read_bytes()[:20001])
    assert np.array_equal(decode_audio(cut, 16000), pyav(cut, 16000))
    fake = tmp_path / "fake.wav"
    fake.write_bytes(b"RIFF" + b"\0" * 40)
    with pytest.raises(MediaError):
        decode_audio(fake, 16000)

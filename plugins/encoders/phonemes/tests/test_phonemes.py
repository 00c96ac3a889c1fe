"""Tests of the phonemes encoder on real speech (kit clip, examples/speech.wav, an espeak-ng clip
with a known transcript) and on synthetic edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from emoavatar.errors import ConfigError
from emoavatar.interfaces import RunContext
from emoavatar.media.audio import resample
from emoavatar.testing.contracts import check_encoder
from emoavatar.types import Audio
from emoavatar.visemes import VISEMES
from emoavatar_phonemes.coarticulation import viseme_weights
from emoavatar_phonemes.encoder import PhonemeEncoder
from emoavatar_phonemes.spec import SPEC, PhonemesConfig
from pydantic import ValidationError

HERE = Path(__file__).parent
HELLO = HERE / "data" / "hello_world.wav"  # espeak-ng 1.51: "hello world, how are you today?"
HELLO_TEXT = "Hello world, how are you today?"
SPEECH = HERE.parents[3] / "examples" / "speech.wav"
SIL = VISEMES.index("sil")
VOWELS = {"aa", "E", "ih", "oh", "ou"}

# examples/speech.wav, measured from its 10 ms RMS (digital silence at -96 dBFS):
# speech 0.50-1.35, 1.70-2.87, 4.05-4.60, 4.75-6.25 s; silence elsewhere (7.11 s long).
SPEECH_SILENCES = [(0.0, 0.40), (1.45, 1.60), (3.00, 3.90), (6.40, 7.10)]
SPEECH_WORDS = [(0.60, 1.25), (1.80, 2.75), (4.15, 4.50), (4.85, 6.15)]


@pytest.fixture(scope="module")
def encoder() -> PhonemeEncoder:
    return SPEC.build({})


def _ctx(audio: Audio, fps: float = 25.0, transcript: str | None = None) -> RunContext:
    ports = {"input:transcript": transcript} if transcript else {}
    return RunContext(fps=fps, n_frames=audio.n_frames(fps), seed=0, ports=ports)


def _frames(span: tuple[float, float], fps: float = 25.0) -> slice:
    return slice(int(np.ceil(span[0] * fps)), int(np.floor(span[1] * fps)))


def _dominant(values: np.ndarray) -> list[str]:
    return [VISEMES[i] for i in values.argmax(1)]


@pytest.fixture(scope="module")
def speech_features(encoder):
    if not SPEECH.is_file():
        pytest.skip("examples/speech.wav not present")
    audio = Audio.load(SPEECH)
    return encoder.encode(audio, _ctx(audio))


def test_contract_on_kit_clip(encoder, kit_audio, run_context):
    out = check_encoder(encoder, kit_audio, run_context)
    assert out.kind == "visemes" and out.names == VISEMES
    assert out.values.shape == (run_context.n_frames, 15)
    assert np.allclose(out.values.sum(1), 1.0, atol=1e-5) and (out.values >= 0).all()
    assert out.meta["phones"], "the kit clip contains speech"
    # the kit clip is silent for its first 0.5 s and speaks 0.5-1.05 s and 1.2-1.85 s
    dom = _dominant(out.values)
    assert set(dom[:10]) == {"sil"}
    assert sum(d != "sil" for d in dom[14:26]) >= 9


def test_speech_rows_are_distributions(speech_features):
    v = speech_features.values
    assert v.shape == (178, 15)  # round(7.109 s * 25)
    assert np.allclose(v.sum(1), 1.0, atol=1e-5) and (v >= 0).all()


def test_silences_close_the_mouth(speech_features):
    v = speech_features.values
    for span in SPEECH_SILENCES:
        assert (v[_frames(span), SIL] > 0.9).all(), f"sil must dominate in {span}"


def test_words_open_the_mouth(speech_features):
    dom = _dominant(speech_features.values)
    for span in SPEECH_WORDS:
        part = dom[_frames(span)]
        assert sum(d != "sil" for d in part) >= 0.8 * len(part), f"speech visemes must dominate in {span}"
    assert len(VOWELS & set(dom)) >= 4, f"vowel visemes expected, got {sorted(set(dom))}"
    assert speech_features.meta["method"] == "recognise"


def test_silence_and_tones_are_all_sil(encoder):
    sr = 16000
    t = np.arange(int(1.5 * sr)) / sr
    for name, x in {"zeros": np.zeros_like(t), "440 Hz": 0.3 * np.sin(2 * np.pi * 440 * t),
                    "1 kHz": 0.3 * np.sin(2 * np.pi * 1000 * t), "-70 dBFS noise":
                    3e-4 * np.random.default_rng(0).standard_normal(len(t))}.items():
        audio = Audio.from_array(x, sr)
        out = encoder.encode(audio, _ctx(audio))
        assert np.allclose(out.values[:, SIL], 1.0, atol=1e-6), name


def test_audio_shorter_than_a_frame(encoder):
    audio = Audio.from_array(np.zeros(160, np.float32) + 0.1, 16000)  # 10 ms
    out = encoder.encode(audio, _ctx(audio))
    assert out.values.shape == (1, 15)
    assert out.values[0, SIL] == pytest.approx(1.0)


def test_frames_past_the_audio_are_sil(encoder):
    audio = Audio.load(HELLO)
    out = encoder.encode(audio, RunContext(fps=25.0, n_frames=75))  # 3 s for 2 s of audio
    assert out.values.shape == (75, 15)
    assert (out.values[52:, SIL] > 0.99).all()


def test_forced_alignment_finds_the_words(encoder):
    audio = Audio.load(HELLO)
    out = encoder.encode(audio, _ctx(audio, transcript=HELLO_TEXT))
    assert out.meta["method"] == "align"
    words = [w for w, _, _ in out.meta["words"] if not w.startswith("<")]
    assert words == ["hello", "world", "how", "are", "you", "today"]
    assert [w for w, _, _ in out.ports["words"]] == words  # the `words` port: real words only
    seq = " ".join(p for p, _, _ in out.meta["phones"])
    assert "HH AH L OW" in seq or "HH EH L OW" in seq
    assert "W ER L D" in seq and "T AH D EY" in seq
    starts = [s for _, s, _ in out.meta["phones"]]
    assert starts == sorted(starts)
    # the clip is silent from 1.75 s: "today" must end there, not be swallowed by <sil>
    today = next(w for w in out.meta["words"] if w[0] == "today")
    assert 1.4 < today[2] < 1.85


def test_transcript_from_config_equals_per_call(encoder):
    audio = Audio.load(HELLO)
    per_call = encoder.encode(audio, _ctx(audio, transcript=HELLO_TEXT))
    configured = PhonemeEncoder(PhonemesConfig(transcript=HELLO_TEXT)).encode(audio, _ctx(audio))
    assert configured.meta["method"] == "align"
    assert np.allclose(per_call.values, configured.values)


def test_unknown_word_falls_back_or_raises(encoder):
    audio = Audio.load(HELLO)
    out = encoder.encode(audio, _ctx(audio, transcript="hello qwzxv world"))
    assert out.meta["method"] == "recognise" and "qwzxv" in out.meta["alignment_error"]
    strict = PhonemeEncoder(PhonemesConfig(transcript="hello qwzxv", on_alignment_failure="error"))
    with pytest.raises(ConfigError, match="qwzxv"):
        strict.encode(audio, _ctx(audio))


def test_other_sample_rates_give_the_same_visemes(encoder):
    base = Audio.load(HELLO)
    ref = encoder.encode(base, _ctx(base, transcript=HELLO_TEXT))
    hi = Audio.from_array(resample(base.samples, 16000, 44100), 44100)
    out = encoder.encode(hi, _ctx(hi, transcript=HELLO_TEXT))
    assert out.values.shape == ref.values.shape
    agree = np.mean(np.array(_dominant(out.values)) == np.array(_dominant(ref.values)))
    assert agree > 0.85
    assert check_encoder(encoder, hi).values.shape[1] == 15


def test_coarticulation_anticipates_and_keeps_short_phones():
    phones = [("SIL", 0.0, 0.3), ("M", 0.3, 0.32), ("AA", 0.32, 0.6), ("SIL", 0.6, 1.0)]
    t = np.arange(0, 1.0, 0.005) + 0.0025
    w = viseme_weights(phones, t, anticipation=0.06, carryover=0.05, min_phone=0.05)
    assert np.allclose(w.sum(1), 1.0)
    pp, aa = VISEMES.index("PP"), VISEMES.index("aa")
    # the 20 ms "M" is widened to 50 ms and dominates its centre
    assert w[np.argmin(abs(t - 0.31)), pp] == w[np.argmin(abs(t - 0.31))].max()
    # anticipation: "aa" already shows 40 ms before it starts, and lingers after it ends
    assert w[np.argmin(abs(t - 0.28)), aa] > 0.05
    assert w[np.argmin(abs(t - 0.63)), aa] > 0.1
    assert w[np.argmin(abs(t - 0.75)), aa] == 0.0
    no_ramps = viseme_weights(phones, t, anticipation=0.0, carryover=0.0, min_phone=0.0)
    assert no_ramps[np.argmin(abs(t - 0.28)), aa] == 0.0


def test_dominance_override_shifts_the_balance():
    phones = [("AA", 0.0, 0.2), ("M", 0.2, 0.3)]
    t = np.array([0.2])
    pp = VISEMES.index("PP")
    soft = viseme_weights(phones, t, anticipation=0.05, carryover=0.05, min_phone=0.0, dominance={"PP": 0.5})
    hard = viseme_weights(phones, t, anticipation=0.05, carryover=0.05, min_phone=0.0, dominance={"PP": 4.0})
    assert hard[0, pp] > soft[0, pp]


def test_config_is_strict():
    with pytest.raises(ValidationError):
        PhonemesConfig(anticipation=10)  # typo of anticipation_ms
    with pytest.raises(ValidationError):
        PhonemesConfig(dominance={"XX": 1.0})
    with pytest.raises(ValidationError):
        PhonemesConfig(on_alignment_failure="ignore")
    assert SPEC.produces == ("features:visemes", "words") and SPEC.kind == "encoders"
    assert SPEC.optional == ("input:transcript",)


def test_bad_phone_lm_path_is_a_config_error():
    enc = PhonemeEncoder(PhonemesConfig(phone_lm="/nonexistent/phone.lm"))
    audio = Audio.load(HELLO)
    with pytest.raises(ConfigError, match="phone_lm"):
        enc.encode(audio, _ctx(audio))


def test_spec_is_light_and_decoders_load_lazily():
    import subprocess
    import sys

    code = "import sys, emoavatar_phonemes.spec; print('pocketsphinx' in sys.modules, 'av' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    enc = PhonemeEncoder(PhonemesConfig())
    assert enc._sphinx._recogniser is None and enc._sphinx._aligner is None


def test_decoders_are_loaded_once_per_process_and_decode_as_fresh_ones(monkeypatch):
    import emoavatar_phonemes.sphinx as sphinx

    audio = Audio.load(HELLO)
    monkeypatch.setattr(sphinx, "_DECODERS", {})  # a freshly loaded decoder
    fresh = PhonemeEncoder(PhonemesConfig()).encode(audio, _ctx(audio))
    first, second = PhonemeEncoder(PhonemesConfig()), PhonemeEncoder(PhonemesConfig())
    first.encode(audio, _ctx(audio))  # the shared decoder's cepstral mean has now adapted to this speech
    again = second.encode(audio, _ctx(audio))
    assert first._sphinx._recogniser is second._sphinx._recogniser  # loaded once
    assert again.meta["phones"] == fresh.meta["phones"] and np.array_equal(again.values, fresh.values)
    other = PhonemeEncoder(PhonemesConfig(language_weight=5.0))
    other.encode(audio, _ctx(audio))
    assert other._sphinx._recogniser is not first._sphinx._recogniser  # other options, other decoder


def test_narrow_phone_beam_reaches_the_decoder_and_keeps_the_phones(kit_audio, run_context):
    """The default phone-transition beam (1e-10, issue 11's speed work) is the recogniser's -pbeam and
    recognises the kit speech exactly as pocketsphinx's own default (1e-48) does."""
    narrow = PhonemeEncoder(PhonemesConfig(parallel=False))
    wide = PhonemeEncoder(PhonemesConfig(parallel=False, phone_beam=1e-48))
    assert narrow._sphinx.options["phone_beam"] == 1e-10  # the helper process builds the same decoder
    assert narrow._sphinx.recogniser.config["pbeam"] == pytest.approx(1e-10)
    assert wide._sphinx.recogniser.config["pbeam"] == pytest.approx(1e-48)
    a, b = narrow.encode(kit_audio, run_context), wide.encode(kit_audio, run_context)
    assert a.meta["phones"] == b.meta["phones"] and np.array_equal(a.values, b.values)

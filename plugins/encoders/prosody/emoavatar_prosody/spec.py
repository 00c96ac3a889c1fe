"""Light entry-point object: the config model and the ComponentSpec (imports pydantic only)."""

from __future__ import annotations

from emoavatar.spec import ComponentSpec
from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Columns of ``features:prosody``.
PROSODY_NAMES: tuple[str, ...] = ("rms", "loudness", "pitch", "voicing", "speech")


class ProsodyConfig(BaseModel):
    """Options of the ``prosody`` encoder (analysis at 16 kHz with a 10 ms hop)."""

    model_config = ConfigDict(extra="forbid")

    fmin: float = Field(60.0, ge=30, le=400, description="lowest F0 searched (Hz)")
    fmax: float = Field(500.0, ge=80, le=1000, description="highest F0 searched (Hz)")
    window_ms: float = Field(40.0, ge=20, le=100, description="YIN integration window (ms)")
    yin_threshold: float = Field(0.15, gt=0, lt=1, description="YIN absolute threshold on d'(τ) (step 4)")
    voiced_aperiodicity: float = Field(
        0.35, gt=0, lt=1, description="frames whose best d'(τ) exceeds this are unvoiced (pitch 0)")
    dynamic_range_db: float = Field(
        40.0, gt=0, le=100, description="loudness maps [speech level - range, speech level] to [0, 1]")
    vad_range_db: float = Field(
        35.0, gt=0, le=100, description="frames quieter than speech level minus this are not speech")
    silence_floor_dbfs: float = Field(-60.0, le=0, description="frames below this level are silence")
    hangover_ms: float = Field(120.0, ge=0, le=1000, description="speech gaps shorter than this stay speech")
    min_speech_ms: float = Field(40.0, ge=0, le=500, description="speech bursts shorter than this are dropped")

    @model_validator(mode="after")
    def _range(self) -> ProsodyConfig:
        if self.fmin >= self.fmax:
            raise ValueError(f"fmin ({self.fmin}) must be below fmax ({self.fmax})")
        return self


SPEC = ComponentSpec(
    name="prosody",
    kind="encoders",
    factory="emoavatar_prosody.encoder:ProsodyEncoder",
    config=ProsodyConfig,
    produces=("features:prosody",),
    summary="RMS, loudness, YIN pitch (semitones re. speaker median), voicing and voice activity [T,5]",
)

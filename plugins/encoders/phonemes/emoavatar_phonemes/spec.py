"""Light entry-point object: the config model and the ComponentSpec (imports pydantic only)."""

from __future__ import annotations

from emoavatar.spec import ComponentSpec, PathOrId
from emoavatar.visemes import VISEMES
from pydantic import BaseModel, ConfigDict, Field, field_validator


class PhonemesConfig(BaseModel):
    """Options of the ``phonemes`` encoder.

    ``transcript`` switches from free phone recognition to forced alignment of the given
    words (more accurate). The timing options shape the coarticulation bumps; the energy
    gate forces ``sil`` where the audio is quiet so the mouth closes in pauses.
    """

    model_config = ConfigDict(extra="forbid")

    transcript: str | None = Field(
        None, description="words spoken in the audio; enables forced alignment (the run's transcript, "
                          "port input:transcript, takes precedence)")
    on_alignment_failure: str = Field(
        "recognise", pattern="^(recognise|error)$",
        description="when the transcript cannot be aligned (unknown word, mismatch): fall back to phone "
                    "recognition ('recognise') or raise ('error')")
    phone_lm: str = Field(
        "en-us-phone", min_length=1,
        description="phone language model for recognition: 'en-us-phone' (bundled), 'uniform' (none), or a path")
    language_weight: float = Field(2.0, gt=0, le=30, description="phone LM weight (pocketsphinx -lw)")
    phone_beam: float = Field(
        1e-10, gt=0, lt=1, description="recognition: pocketsphinx's phone-transition beam (-pbeam; its own default "
                                       "1e-48); 1e-10 needs ~0.77x the CPU and keeps >= 99.4 % of the phones (README)")
    acoustic_model: PathOrId | None = Field(None, description="acoustic model folder; default: pocketsphinx's en-us")
    dictionary: PathOrId | None = Field(None, description="pronunciation dictionary; default: pocketsphinx's CMUdict")
    anticipation_ms: float = Field(60.0, ge=0, le=400, description="a phone's shape starts this early (ramp-in)")
    carryover_ms: float = Field(50.0, ge=0, le=400, description="a phone's shape lingers this long (ramp-out)")
    min_phone_ms: float = Field(50.0, ge=0, le=300, description="shorter phones are widened to this duration")
    energy_gate: float | None = Field(
        45.0, gt=0, le=120, description="frames this many dB below the clip's speech level become 'sil' (None: off)")
    silence_floor_dbfs: float = Field(-60.0, le=0, description="frames below this absolute level are always 'sil'")
    max_utterance_s: float = Field(
        30.0, ge=5, le=3600,
        description="recognition decodes longer audio as utterances of at most this length, cut at the quietest "
                    "10 ms near each limit, so memory stays flat however long the speech")
    parallel: bool = Field(
        True, description="recognition cuts speech of 4 s or more in two at the pause nearest its middle and "
                          "decodes the parts in helper processes (pocketsphinx holds the GIL; the run's face analysis goes on "
                          "meanwhile); the phones do not depend on whether those processes are ready, only the speed does")
    dominance: dict[str, float] = Field(
        default_factory=dict, description="per-viseme dominance overrides (Cohen & Massaro), e.g. {PP: 2.0}")

    @field_validator("dominance")
    @classmethod
    def _known_visemes(cls, v: dict[str, float]) -> dict[str, float]:
        bad = sorted(set(v) - set(VISEMES))
        if bad:
            raise ValueError(f"unknown viseme(s) {bad}; known: {list(VISEMES)}")
        if any(x <= 0 for x in v.values()):
            raise ValueError("dominance values must be > 0")
        return v


SPEC = ComponentSpec(
    name="phonemes",
    kind="encoders",
    factory="emoavatar_phonemes.encoder:PhonemeEncoder",
    config=PhonemesConfig,
    optional=("input:transcript",),
    produces=("features:visemes", "words"),
    summary="PocketSphinx phone recognition / forced alignment -> coarticulated viseme weights [T,15]",
)

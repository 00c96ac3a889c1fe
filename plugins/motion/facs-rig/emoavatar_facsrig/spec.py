"""Light spec of the ``facs-rig`` motion generator: options and ports (no numpy imports)."""

from __future__ import annotations

from emoavatar.emotions import canonical_au, canonical_emotion
from emoavatar.errors import EmotionError
from emoavatar.spec import ComponentSpec
from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Extra rig channels beyond FACS's AU list: one-sided AUs (subject's right), used by contempt.
UNILATERAL_AUS: tuple[str, ...] = ("AU12R", "AU14R")


def rig_au(name: str | int) -> str:
    """``'au12r'`` -> ``'AU12R'``; otherwise :func:`emoavatar.emotions.canonical_au`."""
    key = str(name).strip().upper().replace(" ", "")
    if key in UNILATERAL_AUS:
        return key
    return canonical_au(name)


class FacsRigConfig(BaseModel):
    """Options of ``facs-rig``.

    - ``expression_scale``: gain on the emotion experts' AU targets and on AU overrides.
      1.6 by default: the prototypes' amplitudes are a clear, not extreme expression, and at 1.0
      an independent expression classifier read most requests as neutral (issue 11).
    - ``mouth_scale``: gain on the viseme mouth shapes (lip-sync amplitude).
    - ``retarget``: drive the face to the requested *absolute* expression from the portrait's
      own (estimated from its landmarks): a smiling portrait asked ``sad`` loses its smile and
      closes its lips; intensity 0 keeps the portrait's face. ``false``: add the emotion's AU
      offsets on top of the portrait's expression (the rig before issue 11).
    - ``speech_dominance``: how much mouth AUs that close or tighten the lips (AU23, AU24) yield
      while speaking (0: not at all, 1: fully replaced by the visemes).
    - ``jaw_yield``: how much the emotional jaw drop (AU26, AU27) is reduced while speaking; the
      rest stays as a baseline the visemes ride on (bilabials still close the lips).
    - ``lip_yield``: the same for the lip parting without the jaw (AU25). 0 by default: the lips'
      own posture is held while speaking (a parting that yielded would be wider in pauses than in
      speech and invert the lips' correlation with speech); only bilabials close it.
    - ``pause_hold``: pauses shorter than this (seconds) count as speaking for that yield.
    - ``blink_rate_per_min``: mean spontaneous blink rate (0 disables blinks).
    - ``head_motion``: gain on idle head sway and speech nods (0 keeps the head still).
    - ``smoothing``: std (seconds) of the Gaussian smoothing of AU activations.
    - ``mouth_smoothing``: std (seconds) for the viseme weights (short: keeps lip-sync crisp).
    - ``prototypes``: ``{emotion: {AUn: weight}}`` replacing the built-in expert of that
      emotion, e.g. ``{happy: {AU6: 1.0, AU12: 1.0, AU25: 0.5}}``; AU names as in FACS
      (``AU12``, ``12``) or the one-sided ``AU12R``/``AU14R``; weights in [0, 2].
    """

    model_config = ConfigDict(extra="forbid")

    expression_scale: float = Field(1.6, ge=0.0, le=3.0)
    mouth_scale: float = Field(1.0, ge=0.0, le=3.0)
    retarget: bool = True
    speech_dominance: float = Field(0.9, ge=0.0, le=1.0)
    jaw_yield: float = Field(0.2, ge=0.0, le=1.0)
    lip_yield: float = Field(0.0, ge=0.0, le=1.0)
    pause_hold: float = Field(1.5, ge=0.0, le=5.0)
    blink_rate_per_min: float = Field(17.0, ge=0.0, le=60.0)
    head_motion: float = Field(1.0, ge=0.0, le=3.0)
    smoothing: float = Field(0.05, ge=0.0, le=2.0)
    mouth_smoothing: float = Field(0.03, ge=0.0, le=1.0)
    prototypes: dict[str, dict[str, float]] = Field(default_factory=dict)

    @field_validator("prototypes")
    @classmethod
    def _check_prototypes(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for emotion, aus in value.items():
            try:
                key = canonical_emotion(emotion)
                proto = {}
                for au, w in aus.items():
                    w = float(w)
                    if not 0.0 <= w <= 2.0:
                        raise ValueError(f"prototypes.{emotion}.{au}: weight must be in [0, 2], got {w}")
                    proto[rig_au(au)] = w
            except EmotionError as e:
                raise ValueError(f"prototypes.{emotion}: {e}") from None
            out[key] = proto
        return out


SPEC = ComponentSpec(
    name="facs-rig",
    kind="motion",
    factory="emoavatar_facsrig.generator:FacsRigGenerator",
    config=FacsRigConfig,
    consumes=("features:visemes", "emotion"),
    optional=("features:prosody",),
    produces=("motion:landmarks68",),
    summary="weight-free mixture of FACS emotion experts + viseme mouth shapes + blinks + head motion on 68 landmarks",
)

"""The emotion experts: one FACS prototype per basic emotion (docs/architecture.md, "Default pipeline").

``activation(t) = Σ_e w_e(t) · intensity(t) · PROTOTYPES[e]`` is the weight-free analogue of
MoEE's soft-gated mixture of emotion experts: the gate is the controller's per-frame emotion
distribution, each expert a fixed AU pattern, so compound emotions are mixtures. Weights are
hand-set (Ekman & Friesen's EMFACS-style prototypes), not learned; happy parts the lips (AU25)
and drops the jaw a little (AU26, a laughing mouth that shows the teeth while speaking) and
angry raises the chin (AU17) and upper lip a little (AU10) beyond the minimal prototypes,
because an independent expression classifier read the minimal ones as neutral (issue 11).
"""

from __future__ import annotations

PROTOTYPES: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"AU6": 1.0, "AU12": 1.2, "AU25": 0.8, "AU26": 0.3},
    "sad": {"AU1": 1.0, "AU4": 0.6, "AU15": 0.9, "AU17": 0.3},
    "surprised": {"AU1": 1.0, "AU2": 1.0, "AU5": 0.9, "AU26": 0.8},
    "angry": {"AU4": 1.0, "AU5": 0.5, "AU7": 0.8, "AU10": 0.2, "AU17": 0.6, "AU23": 0.9},
    "fearful": {"AU1": 0.9, "AU2": 0.6, "AU4": 0.6, "AU5": 1.0, "AU20": 0.9, "AU26": 0.5},
    "disgusted": {"AU9": 1.0, "AU15": 0.6, "AU16": 0.6},
    "contempt": {"AU12R": 0.7, "AU14R": 0.8},
}

#: Mouth AUs that close or tighten the lips: they yield to speech by ``speech_dominance`` (lip-sync
#: dominates while talking).
SPEECH_YIELDING = ("AU23", "AU24")
#: The emotional jaw and lip parting: a baseline that speech rides on top of, reduced by ``jaw_yield``
#: while speaking and closed by bilabial visemes (``PP``), so it neither swallows nor fights the visemes.
JAW_OPENING = ("AU25", "AU26", "AU27")

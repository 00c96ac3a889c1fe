"""The emotion experts: one FACS prototype per basic emotion (docs/architecture.md, "Default pipeline").

``activation(t) = Σ_e w_e(t) · intensity(t) · PROTOTYPES[e]`` is the weight-free analogue of
MoEE's soft-gated mixture of emotion experts: the gate is the controller's per-frame emotion
distribution, each expert a fixed AU pattern, so compound emotions are mixtures. Weights started
hand-set (Ekman & Friesen's EMFACS-style prototypes) and were then chosen by a systematic search
(issue 11, ``benchmarks/readability_search.py``): only each emotion's FACS-valid AUs (EMFACS
prototypes and major variants), scored by emotion-acc's facex classifier on single frames of
facs-rig + warp2d in several mouth states on the readability test's four portraits, with
penalties for identity distance and lost lip motion, then checked on two held-out public-domain
faces and in ``tests/test_emotion_readability.py``'s videos (README, "Emotion readability"):

* happy (6 + 7 + 12): a broad closed-lip smile with the lids tightened (AU7, a Duchenne
  variant) and no emotional jaw: AU12 1.25 (x ``expression_scale`` 1.6 = 2.0, the rig's clip);
  the old laughing jaw (AU25 0.8, AU26 0.3) and strong AU6 read *less* happy on every search
  portrait (the open mouth reads fearful or surprised); the search's objective 0.29 -> 0.51 on the
  test portraits, 0.42 -> 1.00 on the two held-out faces.
* sad (1 + 4 + 6 + 15 + 17): the old prototype plus AU6 0.5 (EMFACS's 6 + 15 variant) and
  AU1 1.2: the turned face asked sad 0.45 -> 0.62 (now top-1). The search's best single frames
  (AU1 1.5, AU6 0.8, AU17 1.1, little AU15) closed the lips over the visemes (lip/energy r 0.19
  on the neutral face) and were not kept.
* surprised (1 + 2 + 5 + 26): the inner brow raise halved (AU1 0.5, AU2 0.8, AU5 1.0): the smile
  asked surprised is top-1 (0.55 vs happy 0.40; was 0.47 vs 0.48). The search's wider jaw
  (AU26 0.7 + AU27 0.25) read surprised on more frames but dlib's lips then stopped following
  speech (r 0.08 on the neutral face), so the jaw stays at 0.8.
* angry: unchanged. No closed- or narrow-mouthed FACS-valid angry (AU4, 5, 7, 10, 16, 17, 23, 24,
  25, 26; about 200 random vectors with weights up to 2.0) reaches p(angry) 0.02 on a frame of the
  test portraits; only an open snarl (AU4 1.5, AU10 1.5, AU16 0.9, AU25 1.0, AU26 0.8 + AU5, AU7)
  is read angry (0.73-0.92 on two portraits' open frames, 0.99 on a held-out face), and it holds
  the mouth open in pauses: lip/energy r -0.37 and -0.34 on those two portraits' videos. Angry
  raises the chin (AU17) and upper lip a little (AU10) beyond the minimal prototype (issue 11's
  first round).
"""

from __future__ import annotations

PROTOTYPES: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"AU6": 0.4, "AU7": 0.5, "AU12": 1.25},
    "sad": {"AU1": 1.2, "AU4": 0.6, "AU6": 0.5, "AU15": 0.9, "AU17": 0.3},
    "surprised": {"AU1": 0.5, "AU2": 0.8, "AU5": 1.0, "AU26": 0.8},
    "angry": {"AU4": 1.0, "AU5": 0.5, "AU7": 0.8, "AU10": 0.2, "AU17": 0.6, "AU23": 0.9},
    "fearful": {"AU1": 0.9, "AU2": 0.6, "AU4": 0.6, "AU5": 1.0, "AU20": 0.9, "AU26": 0.5},
    "disgusted": {"AU9": 1.0, "AU15": 0.6, "AU16": 0.6},
    "contempt": {"AU12R": 0.7, "AU14R": 0.8},
}

#: Mouth AUs that close or tighten the lips: they yield to speech by ``speech_dominance`` (lip-sync
#: dominates while talking).
SPEECH_YIELDING = ("AU23", "AU24")
#: The emotional jaw drop: a baseline that speech rides on top of, reduced by ``jaw_yield`` while
#: speaking (the visemes move the same mandible) and closed by bilabial visemes (``PP``), so it neither
#: swallows nor fights the visemes.
JAW_OPENING = ("AU26", "AU27")
#: Lips parted without the jaw (AU25, depressor labii / relaxed mentalis): the lips' own posture, not
#: the mandible the visemes drive, so by default it does not yield while speaking (``lip_yield`` 0: a
#: yielding parting would be wider in pauses than in speech and invert the lips' correlation with
#: speech); bilabials close it.
LIP_PARTING = ("AU25",)

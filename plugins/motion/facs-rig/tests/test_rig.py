"""facs-rig: expert mixture, visemes, blinks, head motion, geometry invariance, config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from emoavatar.emotions import EMOTIONS
from emoavatar.errors import PortError
from emoavatar.interfaces import RunContext
from emoavatar.types import AudioFeatures, EmotionState, Face, Portrait
from emoavatar.visemes import VISEMES
from emoavatar_facsrig.action_units import au_fields
from emoavatar_facsrig.face_frame import FaceFrame
from emoavatar_facsrig.generator import utterance
from emoavatar_facsrig.own_expression import estimate, inside_polygon, measures
from emoavatar_facsrig.spec import SPEC, FacsRigConfig
from pydantic import ValidationError

# Hand-made mean face in face units (IOD = 1, origin between the eyes, y down).
_JAW = [(-0.98 * np.cos(np.pi * k / 16), 0.05 + 1.5 * np.sin(np.pi * k / 16)) for k in range(17)]
_BROWS = list(zip([-0.85, -0.68, -0.5, -0.33, -0.17], [-0.35, -0.47, -0.52, -0.5, -0.44])) + list(
    zip([0.17, 0.33, 0.5, 0.68, 0.85], [-0.44, -0.5, -0.52, -0.47, -0.35]))
_NOSE = [(0, 0.0), (0, 0.2), (0, 0.4), (0, 0.6), (-0.2, 0.72), (-0.1, 0.75), (0, 0.77), (0.1, 0.75), (0.2, 0.72)]
_EYES = [(-0.72, 0), (-0.58, -0.08), (-0.42, -0.08), (-0.28, 0), (-0.42, 0.06), (-0.58, 0.06),
         (0.28, 0), (0.42, -0.08), (0.58, -0.08), (0.72, 0), (0.58, 0.06), (0.42, 0.06)]
_LIPS = [(-0.4, 1.05), (-0.26, 0.98), (-0.12, 0.94), (0, 0.96), (0.12, 0.94), (0.26, 0.98), (0.4, 1.05),
         (0.27, 1.15), (0.13, 1.2), (0, 1.21), (-0.13, 1.2), (-0.27, 1.15),
         (-0.33, 1.05), (-0.12, 1.03), (0, 1.04), (0.12, 1.03), (0.33, 1.05), (0.12, 1.06), (0, 1.07), (-0.12, 1.06)]
MEAN_FACE = np.array(_JAW + _BROWS + _NOSE + _EYES + _LIPS, np.float64)
assert MEAN_FACE.shape == (68, 2)


def template_portrait(iod: float = 64.0, centre=(128.0, 112.0), angle_deg: float = 0.0,
                      face: np.ndarray = MEAN_FACE) -> Portrait:
    from emoavatar.media import read_image

    image = read_image(_kit_png())
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    lm = (face * iod) @ rot.T + np.asarray(centre)
    box = (*lm.min(0), *lm.max(0))
    return Portrait(image=image, face=Face(box=tuple(float(v) for v in box), landmarks=lm.astype(np.float32)))


def _kit_png():
    import emoavatar.testing

    return Path(emoavatar.testing.__file__).parent / "data" / "portrait_256.png"


def visemes(names_per_frame: list[str]) -> AudioFeatures:
    v = np.zeros((len(names_per_frame), len(VISEMES)), np.float32)
    for t, name in enumerate(names_per_frame):
        v[t, VISEMES.index(name)] = 1.0
    return AudioFeatures(v, "visemes", 25.0, names=VISEMES)


def emotion(mix: dict[str, float], n: int, intensity: float = 1.0, au: dict[str, float] | None = None) -> EmotionState:
    w = np.zeros((n, len(EMOTIONS)), np.float32)
    for k, x in mix.items():
        w[:, EMOTIONS.index(k)] = x
    names, track = (), None
    if au:
        names = tuple(au)
        track = np.tile(np.array([au[k] for k in names], np.float32), (n, 1))
    return EmotionState(w, np.full(n, intensity, np.float32), au=track, au_names=names)


STILL = {"head_motion": 0.0, "blink_rate_per_min": 0.0}
N = 12


@pytest.fixture
def portrait(request) -> Portrait:
    """The kit's portrait (68 detected landmarks) when the kit provides it, else the template."""
    try:
        p = request.getfixturevalue("kit_portrait")
    except Exception:  # noqa: BLE001 - kit data not there yet / no face analyzer installed
        return template_portrait()
    return p if np.asarray(p.face.landmarks).shape == (68, 2) else template_portrait()


def ctx(n: int = N, seed: int = 0) -> RunContext:
    return RunContext(fps=25.0, n_frames=n, seed=seed)


def face_shape(motion, portrait, t: int = N // 2) -> np.ndarray:
    """Frame t's landmarks in the portrait's face units (IOD = 1, y down the face)."""
    return FaceFrame.from_landmarks(portrait.face.landmarks).to_face(motion.tracks["landmarks68"][t])


def run(portrait, mix, vis="sil", cfg=None, n=N, **kw):
    gen = SPEC.build({**STILL, **(cfg or {})})
    names = vis if isinstance(vis, list) else [vis] * n
    return gen.generate({"features:visemes": visemes(names)}, emotion(mix, len(names), **kw), portrait, ctx(len(names)))


def corners_up(s: np.ndarray) -> float:
    return -float(s[[48, 54], 1].mean())


def brows_up(s: np.ndarray) -> float:
    return -float(s[17:27, 1].mean())


def inner_gap(s: np.ndarray) -> float:
    return float(s[66, 1] - s[62, 1])


def test_contract(portrait):
    from emoavatar.testing.contracts import check_motion

    gen = SPEC.build({})
    m = check_motion(gen, portrait, {"features:visemes": visemes(["sil", "aa", "E", "PP", "oh"] * 6)})
    assert m.space == "landmarks68" and m.tracks["landmarks68"].shape == (30, 68, 2)
    assert m.tracks["pose"].shape == (30, 6) and m.tracks["blink"].shape == (30,)
    assert m.tracks["mouth_open"].shape == (30,)
    assert m.meta["au"].shape == (30, len(m.meta["au_names"]))


def test_happy_raises_lip_corners_surprised_raises_brows(portrait):
    neutral = face_shape(run(portrait, {"neutral": 1}), portrait)
    happy = face_shape(run(portrait, {"happy": 1}), portrait)
    surprised = face_shape(run(portrait, {"surprised": 1}), portrait)
    assert corners_up(happy) - corners_up(neutral) > 0.06  # face units (IOD)
    assert brows_up(surprised) - brows_up(neutral) > 0.05
    assert abs(brows_up(happy) - brows_up(neutral)) < 0.01
    own = face_shape(run(portrait, {"happy": 1}, intensity=0.0), portrait)
    np.testing.assert_allclose(own, FaceFrame.from_landmarks(portrait.face.landmarks).to_face(
        portrait.face.landmarks), atol=1e-4)  # intensity 0 + silence + no idle motion = the portrait itself
    additive = face_shape(run(portrait, {"neutral": 1}, cfg={"retarget": False}), portrait)
    np.testing.assert_allclose(additive, own, atol=1e-4)  # the pre-retargeting rig: neutral adds nothing


def test_compound_emotion_lies_between_its_parts(portrait):
    happy = face_shape(run(portrait, {"happy": 1}), portrait)
    surprised = face_shape(run(portrait, {"surprised": 1}), portrait)
    both = face_shape(run(portrait, {"happy": 0.5, "surprised": 0.5}), portrait)
    for measure in (corners_up, brows_up, inner_gap):
        lo, hi = sorted((measure(happy), measure(surprised)))
        assert lo - 1e-6 <= measure(both) <= hi + 1e-6
        assert measure(both) == pytest.approx(0.5 * (measure(happy) + measure(surprised)), abs=0.01)


def test_intensity_scales_expression(portrait):
    own = corners_up(face_shape(run(portrait, {"sad": 1}, intensity=0.0), portrait))
    full = corners_up(face_shape(run(portrait, {"sad": 1}), portrait)) - own
    half = corners_up(face_shape(run(portrait, {"sad": 1}, intensity=0.5), portrait)) - own
    assert full < -0.03 and half == pytest.approx(0.5 * full, rel=0.05)  # from the portrait's face to the target


def test_contempt_is_one_sided(portrait):
    neutral = face_shape(run(portrait, {"neutral": 1}), portrait)
    contempt = face_shape(run(portrait, {"contempt": 1}), portrait)
    right_up, left_up = neutral[48, 1] - contempt[48, 1], neutral[54, 1] - contempt[54, 1]
    assert right_up > 0.04 and abs(left_up) < 0.005


def test_viseme_aa_opens_sil_rests(portrait):
    rest_gap = inner_gap(FaceFrame.from_landmarks(portrait.face.landmarks).to_face(portrait.face.landmarks))
    aa = run(portrait, {"neutral": 1}, "aa", intensity=0.0)
    sil = run(portrait, {"neutral": 1}, "sil", intensity=0.0)
    assert inner_gap(face_shape(aa, portrait)) > max(rest_gap, 0.0) + 0.15
    assert inner_gap(face_shape(sil, portrait)) == pytest.approx(rest_gap, abs=1e-4)
    assert aa.tracks["mouth_open"][N // 2] == pytest.approx(inner_gap(face_shape(aa, portrait)), abs=1e-4)
    pp = run(portrait, {"neutral": 1}, "PP")
    assert inner_gap(face_shape(pp, portrait)) < max(rest_gap, 0.0) * 0.5 + 1e-3  # lips pressed


def test_mouth_closes_in_silence_unless_surprised(portrait):
    seq = ["aa"] * 10 + ["sil"] * 40  # a pause longer than pause_hold
    neutral = run(portrait, {"neutral": 1}, seq)
    assert neutral.tracks["mouth_open"][5] > 0.25  # from the neutral face's closed lips
    assert neutral.tracks["mouth_open"][-1] < 0.02  # a neutral face closes its lips in silence
    surprised = run(portrait, {"surprised": 1}, seq)
    assert surprised.tracks["mouth_open"][-1] > neutral.tracks["mouth_open"][-1] + 0.1  # AU26's jaw drop in silence
    # while speaking the emotional jaw is reduced (jaw_yield) and the viseme rides on top of the rest
    extra_speaking = surprised.tracks["mouth_open"][5] - neutral.tracks["mouth_open"][5]
    extra_silent = surprised.tracks["mouth_open"][-1] - neutral.tracks["mouth_open"][-1]
    assert 0.1 < extra_speaking < 0.9 * extra_silent
    full = run(portrait, {"surprised": 1}, seq, cfg={"jaw_yield": 1.0})  # the old behaviour: fully replaced
    assert full.tracks["mouth_open"][5] - neutral.tracks["mouth_open"][5] < 0.3 * extra_silent


def test_lip_parting_is_held_under_speech_the_jaw_yields(portrait):
    """AU25 (lips apart, no jaw) is the lips' posture: it stays while speaking (a parting that yielded
    would be wider in pauses than in speech) and only bilabials close it; the jaw drop AU26 yields."""
    seq = ["aa"] * 10 + ["PP"] * 4 + ["aa"] * 6 + ["sil"] * 40
    m = run(portrait, {"angry": 1}, seq, cfg={"jaw_yield": 1.0, "prototypes": {"angry": {"AU25": 1.0, "AU26": 1.0}}})
    au = m.meta["au"]
    a25, a26 = au[:, m.meta["au_names"].index("AU25")], au[:, m.meta["au_names"].index("AU26")]
    np.testing.assert_allclose([a25[5], a25[-1]], 1.6, atol=0.02)  # speaking and silent alike (x expression_scale)
    assert a25[12] < 0.25 * a25[5]  # the bilabial closes it (its weight, smoothed over 0.03 s)
    assert a26[5] < 0.05 and a26[-1] > 1.5  # the jaw drop yields fully while speaking (jaw_yield 1)
    old = run(portrait, {"angry": 1}, seq, cfg={"jaw_yield": 1.0, "lip_yield": 1.0,
                                                "prototypes": {"angry": {"AU25": 1.0}}})
    assert old.meta["au"][5, m.meta["au_names"].index("AU25")] < 0.05  # lip_yield 1: the rig before (yields too)


def test_au_override_replaces_channel(portrait):
    neutral = face_shape(run(portrait, {"neutral": 1}), portrait)
    m = run(portrait, {"neutral": 1}, au={"AU12": 1.0})
    names = m.meta["au_names"]
    np.testing.assert_allclose(m.meta["au"][:, names.index("AU12")], 1.6, atol=1e-5)  # x expression_scale (1.6)
    assert corners_up(face_shape(m, portrait)) - corners_up(neutral) > 0.06
    sad_no_brows = run(portrait, {"sad": 1}, au={"AU1": 0.0})
    assert np.allclose(sad_no_brows.meta["au"][:, names.index("AU1")], 0.0)
    closed = face_shape(run(portrait, {"neutral": 1}, au={"AU43": 1.0}), portrait)
    assert abs(closed[41, 1] - closed[37, 1]) < 0.02


def test_blinks_close_eyelids_at_a_plausible_rate(portrait):
    gen = SPEC.build({"head_motion": 0.0})
    n = 25 * 120
    feats = {"features:visemes": visemes(["sil"] * n)}
    m = gen.generate(feats, emotion({"neutral": 1}, n), portrait, ctx(n, seed=3))
    blink = m.tracks["blink"]
    per_min = ((blink[1:] > 0.5) & (blink[:-1] <= 0.5)).sum() / 2.0
    assert 8 <= per_min <= 28
    frame = FaceFrame.from_landmarks(portrait.face.landmarks)
    lm = frame.to_face(m.tracks["landmarks68"])
    opening = lm[:, 41, 1] - lm[:, 37, 1]
    closed, open_ = np.argmax(blink), np.argmin(blink)
    assert blink[closed] == pytest.approx(1.0) and opening[closed] < 0.25 * opening[open_]
    durations = np.diff(np.flatnonzero(np.diff(np.r_[0, (blink > 0.05).astype(int), 0])))[::2] / 25.0
    assert durations.min() >= 0.08 and durations.max() <= 0.3
    again = gen.generate(feats, emotion({"neutral": 1}, n), portrait, ctx(n, seed=3))
    other = gen.generate(feats, emotion({"neutral": 1}, n), portrait, ctx(n, seed=4))
    np.testing.assert_array_equal(blink, again.tracks["blink"])
    assert not np.array_equal(blink, other.tracks["blink"])


def test_head_motion_small_smooth_and_seeded(portrait):
    gen = SPEC.build({"blink_rate_per_min": 0.0})
    n = 250
    feats = {"features:visemes": visemes(["sil"] * n)}
    a = gen.generate(feats, emotion({"neutral": 1}, n), portrait, ctx(n, seed=1))
    pose = a.tracks["pose"]
    assert np.degrees(np.abs(pose[:, :3])).max() <= 3.0 + 1e-4
    assert np.abs(pose[:, :3]).max() > np.radians(0.2)  # it does move
    face_size = a.meta["face_size"]
    assert np.abs(pose[:, 3:5]).max() <= 0.015 * face_size + 1e-4
    assert np.abs(np.diff(pose[:, :3], 2, axis=0)).max() < np.radians(0.1)  # no jitter
    loud = np.r_[np.full(50, 0.2), np.full(10, 0.9), np.full(190, 0.3)].astype(np.float32)
    prosody = AudioFeatures(np.stack([loud, loud, np.zeros(n), np.ones(n), np.ones(n)], 1), "prosody", 25.0,
                            names=("rms", "loudness", "pitch", "voicing", "speech"))
    b = gen.generate({**feats, "features:prosody": prosody}, emotion({"neutral": 1}, n), portrait, ctx(n, seed=1))
    nod = b.tracks["pose"][:, 1] - pose[:, 1]
    assert nod[50:65].max() > np.radians(0.5) and abs(nod[200:]).max() < np.radians(0.1)


def test_rotated_scaled_portrait_gives_rotated_scaled_displacements():
    base = template_portrait(iod=60.0, centre=(120.0, 110.0))
    turned = template_portrait(iod=90.0, centre=(130.0, 120.0), angle_deg=25.0)
    mix = {"happy": 0.6, "surprised": 0.4}
    seq = ["aa", "E", "sil", "oh"] * 3
    d0 = run(base, mix, seq).tracks["landmarks68"] - base.face.landmarks
    d1 = run(turned, mix, seq).tracks["landmarks68"] - turned.face.landmarks
    a = np.radians(25.0)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    np.testing.assert_allclose(d1, 1.5 * d0 @ rot.T, atol=1e-3)
    assert np.abs(d0).max() > 5.0  # pixels: something moved


def test_lengths_and_missing_port(portrait):
    gen = SPEC.build({})
    m = gen.generate({"features:visemes": visemes(["aa"] * 7)}, emotion({"happy": 1}, 9), portrait, ctx(10))
    assert all(len(v) == 10 for v in m.tracks.values()) and np.isfinite(m.tracks["landmarks68"]).all()
    with pytest.raises(PortError, match="visemes"):
        gen.generate({}, emotion({"happy": 1}, 10), portrait, ctx(10))
    bad = Portrait(portrait.image, Face((0, 0, 1, 1), np.zeros((5, 2), np.float32)))
    with pytest.raises(PortError):
        gen.generate({"features:visemes": visemes(["aa"] * 3)}, emotion({"happy": 1}, 3), bad, ctx(3))


def test_config_prototypes_and_validation(portrait):
    cfg = FacsRigConfig(prototypes={"joy": {"1": 1.0, "au2": 0.5}, "contempt": {"AU12r": 1.0}})
    assert cfg.prototypes == {"happy": {"AU1": 1.0, "AU2": 0.5}, "contempt": {"AU12R": 1.0}}
    neutral = face_shape(run(portrait, {"neutral": 1}), portrait)
    happy = face_shape(run(portrait, {"happy": 1}, cfg={"prototypes": {"happy": {"AU1": 1.0}}}), portrait)
    assert brows_up(happy) - brows_up(neutral) > 0.02 and abs(corners_up(happy) - corners_up(neutral)) < 1e-3
    for bad in ({"prototypes": {"bored": {"AU1": 1}}}, {"prototypes": {"happy": {"AU99": 1}}},
                {"prototypes": {"happy": {"AU12": 5}}}, {"blink_rate_per_min": -1}, {"wobble": 1}):
        with pytest.raises(ValidationError):
            FacsRigConfig(**bad)
    scaled, normal, zero = (face_shape(run(portrait, {"sad": 1}, cfg={"expression_scale": g}), portrait) for g in (2, 1, 0))
    # the gain scales the target expression (0: the neutral face), linearly
    assert corners_up(scaled) - corners_up(zero) == pytest.approx(2 * (corners_up(normal) - corners_up(zero)), rel=0.02)
    np.testing.assert_allclose(zero, face_shape(run(portrait, {"neutral": 1}), portrait), atol=1e-6)


def test_spec():
    assert SPEC.name == "facs-rig" and SPEC.kind == "motion"
    assert set(SPEC.consumes) == {"features:visemes", "emotion"} and SPEC.produces == ("motion:landmarks68",)


# -- expression-aware retargeting (issue 11): own expression, absolute targets, speech on top ----------

#: the template with brows at the height dlib finds on real neutral faces (about 0.3 IOD above the eyes)
NEUTRAL_FACE = MEAN_FACE.copy()
NEUTRAL_FACE[17:27, 1] += 0.15


def rest_of(portrait) -> np.ndarray:
    return FaceFrame.from_landmarks(portrait.face.landmarks).to_face(portrait.face.landmarks)


def test_neutral_face_has_no_own_expression():
    own = estimate(NEUTRAL_FACE, au_fields(NEUTRAL_FACE))
    assert all(v < 0.15 for v in own.au.values()), own.au
    assert not own.mouth_open


def test_estimate_recovers_applied_action_units():
    fields = au_fields(NEUTRAL_FACE)
    smiling_open = NEUTRAL_FACE + 0.9 * fields["AU12"] + 0.8 * fields["AU26"]
    own = estimate(smiling_open, fields)
    assert own.au.get("AU12", 0) == pytest.approx(0.9, abs=0.3)
    assert own.au.get("AU25", 0) + own.au.get("AU26", 0) > 0.5 and own.mouth_open
    raised = estimate(NEUTRAL_FACE + 1.5 * fields["AU1"] + 1.5 * fields["AU2"], fields)
    assert raised.au.get("AU1", 0) > 0.4 and "AU4" not in raised.au
    sad = estimate(NEUTRAL_FACE + 1.5 * fields["AU15"], fields)
    assert sad.au.get("AU15", 0) > 0.3 and "AU12" not in sad.au


def test_brow_shape_gives_inner_and_outer_raise_and_lowering_separately():
    """Issue 11: the brows' shape, not their mean height: raised inner ends (the oblique "sad"
    brow) are own AU1 without AU2, raised outer ends AU2 without AU1, a whole brow lowered AU4."""
    fields = au_fields(NEUTRAL_FACE)
    brow_aus = lambda face: {k: v for k, v in estimate(face, fields).au.items() if k in ("AU1", "AU2", "AU4")}  # noqa: E731
    assert brow_aus(NEUTRAL_FACE) == {}  # flat, relaxed brows: nothing of their own
    oblique = NEUTRAL_FACE.copy()
    oblique[[21, 22], 1] -= 0.07  # inner ends up by 0.07 IOD, outer ends and mean brow about unchanged
    inner = brow_aus(oblique)
    assert inner.get("AU1", 0) > 0.8 and set(inner) == {"AU1"}, inner
    assert abs(measures(oblique)["brow"] - measures(NEUTRAL_FACE)["brow"]) < 0.05  # the mean-height estimate missed it
    outer = NEUTRAL_FACE.copy()
    outer[[17, 26], 1] -= 0.07
    assert set(brow_aus(outer)) == {"AU2"} and brow_aus(outer)["AU2"] > 0.5
    lowered = brow_aus(NEUTRAL_FACE + 3.0 * fields["AU4"])  # beyond the mean height's dead band (0.05 IOD)
    assert lowered.get("AU4", 0) > 0.8 and "AU1" not in lowered and "AU2" not in lowered, lowered
    # the estimate is continuous at the dead band's edge (no jump from 0 to a whole raise)
    edge = NEUTRAL_FACE.copy()
    edge[[21, 22], 1] -= 0.02 + 1e-4  # inner 0.31 + 1e-4: just beyond the band
    assert brow_aus(edge).get("AU1", 0) < 0.02


def test_raised_inner_brows_come_down_unless_the_emotion_asks_for_them():
    """Retargeting removes the portrait's own inner raise for emotions whose prototype does not
    ask for it (happy, neutral), keeps it at intensity 0, and sad sets its own absolute AU1."""
    fields = au_fields(NEUTRAL_FACE)
    p = template_portrait(face=NEUTRAL_FACE + 1.2 * fields["AU1"])
    inner = lambda s: measures(s)["inner"]  # noqa: E731
    rest = inner(rest_of(p))
    assert run(p, {"happy": 1}).meta["own_au"].get("AU1", 0) > 0.8
    for asked in ("happy", "neutral"):
        assert inner(face_shape(run(p, {asked: 1}), p)) == pytest.approx(0.27, abs=0.01), asked  # NEUTRAL["inner"]
    assert inner(face_shape(run(p, {"happy": 1}, intensity=0.0), p)) == pytest.approx(rest, abs=1e-3)
    assert inner(face_shape(run(p, {"sad": 1}), p)) > inner(face_shape(run(p, {"happy": 1}), p)) + 0.08


def test_polygon_mask():
    ys, xs = np.mgrid[0:10, 0:10]
    sq = np.array([[2.0, 2], [7, 2], [7, 7], [2, 7]])
    assert inside_polygon(sq, xs + 0.5, ys + 0.5).sum() == 25


def test_smiling_portrait_asked_sad_loses_its_smile_and_closes_its_lips(kit_portrait):
    rest = rest_of(kit_portrait)
    gen_meta = run(kit_portrait, {"sad": 1}).meta
    assert gen_meta["own_au"].get("AU12", 0) > 0.3, gen_meta["own_au"]  # the kit portrait smiles
    assert measures(rest)["gap"] > 0.03 and gen_meta["own_teeth"] > 0.2  # with parted lips and teeth
    sad = face_shape(run(kit_portrait, {"sad": 1}), kit_portrait)
    neutral = face_shape(run(kit_portrait, {"neutral": 1}), kit_portrait)
    lift = lambda s: measures(s)["lift"]  # noqa: E731
    assert lift(neutral) < lift(rest) - 0.03  # neutral removes the smile
    assert lift(sad) < lift(neutral) - 0.03  # sad turns the corners down from there
    assert inner_gap(sad) < 0.01 and inner_gap(neutral) < 0.01  # lips closed over the teeth
    additive = face_shape(run(kit_portrait, {"sad": 1}, cfg={"retarget": False}), kit_portrait)
    assert lift(additive) > lift(sad) + 0.03  # the old rig kept most of the smile


def test_neutral_portrait_keeps_its_face_when_asked_neutral():
    p = template_portrait(face=NEUTRAL_FACE)
    neutral = face_shape(run(p, {"neutral": 1}), p)
    np.testing.assert_allclose(neutral, rest_of(p), atol=0.02)


def test_speech_rides_on_top_of_surprise():
    p = template_portrait()
    seq = (["aa"] * 6 + ["PP"] * 3 + ["sil"] * 2 + ["E"] * 6 + ["PP"] * 3) * 2 + ["sil"] * 25
    neutral = run(p, {"neutral": 1}, seq).tracks["mouth_open"]
    surprised = run(p, {"surprised": 1}, seq).tracks["mouth_open"]
    talk = slice(0, 40)
    # the visemes still open and close the mouth: the same rhythm on top of the surprised jaw
    assert np.corrcoef(neutral[talk], surprised[talk])[0, 1] > 0.9
    assert np.ptp(surprised[talk]) > 0.8 * np.ptp(neutral[talk])
    pp = [i for i, v in enumerate(seq[:40]) if v == "PP" and 0 < i and seq[i - 1] == "PP" == seq[i + 1]]
    assert surprised[pp].max() < 0.08  # bilabials close the lips over the emotional jaw too
    assert (surprised[talk] - neutral[talk]).mean() > 0.1  # the jaw drop stays as a baseline
    assert surprised[-1] - neutral[-1] > 0.1  # and in the long silence


def test_utterance_holds_through_short_pauses():
    s = np.array([1.0] * 20 + [0.0] * 5 + [1.0] * 20 + [0.0] * 50)
    u = utterance(s, 25.0, 0.4)
    assert u[20:25].min() > 0.8  # a 0.2 s pause is still speaking
    assert u[-20:].max() < 0.05  # a 2 s silence is not


def test_au_change_track_is_the_change_from_the_portraits_own_expression(kit_portrait):
    """``au_change [T, C]`` (for the renderer's expression shading): the activations minus the
    portrait's own, columns in ``meta["au_names"]`` order; the smile asked sad releases AU12."""
    m = run(kit_portrait, {"sad": 1})
    names, own = m.meta["au_names"], m.meta["own_au"]
    change = m.tracks["au_change"]
    assert change.shape == (len(m), len(names))
    expected = m.meta["au"] - np.array([own.get(c, 0.0) for c in names], np.float32)[None]
    np.testing.assert_allclose(change, expected, atol=1e-5)
    assert change[:, names.index("AU12")].max() < -0.3 and change[:, names.index("AU15")].min() > 0.5
    additive = run(kit_portrait, {"sad": 1}, cfg={"retarget": False})
    np.testing.assert_allclose(additive.tracks["au_change"], additive.meta["au"])  # nothing of its own removed

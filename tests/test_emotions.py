import pytest
from emoavatar.emotions import EMOTIONS, canonical_au, canonical_emotion, parse_emotion, parse_mix
from emoavatar.errors import EmotionError


@pytest.mark.parametrize("alias,canon", [("anger", "angry"), ("FEA", "fearful"), ("Disgust", "disgusted"),
                                         ("surprise", "surprised"), ("HAP", "happy"), ("NEU", "neutral")])
def test_aliases(alias, canon):
    assert canonical_emotion(alias) == canon


def test_label_mix_and_normalisation():
    assert parse_emotion("happy").segments[0].mix == {"happy": 1.0}
    mix = parse_emotion({"happy": 3, "surprise": 1}).segments[0].mix
    assert mix == pytest.approx({"happy": 0.75, "surprised": 0.25})
    assert parse_mix("happy:0.6,surprised:0.4") == pytest.approx({"happy": 0.6, "surprised": 0.4})
    assert parse_mix("happy+sad") == pytest.approx({"happy": 0.5, "sad": 0.5})


def test_yaml_text_forms_from_the_command_line():
    assert parse_emotion("{happy: .6, surprised: .4}").segments[0].mix["happy"] == pytest.approx(0.6)
    req = parse_emotion("[{at: 0, emotion: sad}, {at: 2.5, emotion: {happy: 1}}]")
    assert [s.start for s in req.segments] == [0.0, 2.5]
    assert parse_emotion("from_audio").from_audio
    assert parse_emotion("text: I won the lottery").text == "I won the lottery"


def test_timeline_starting_late_is_neutral_before():
    req = parse_emotion({"timeline": [{"at": 1.0, "emotion": "angry", "intensity": 0.5}]})
    assert req.segments[0].mix == {"neutral": 1.0} and req.segments[1].intensity == 0.5


def test_au_overrides_and_intensity():
    req = parse_emotion({"emotion": "happy", "au": {"au12": 0.8, 26: 0.2}, "intensity": 0.7})
    assert dict(req.au) == {"AU12": 0.8, "AU26": 0.2} and req.intensity == 0.7
    assert canonical_au("AU 4") == "AU4"


@pytest.mark.parametrize("bad,needle", [
    ("hapy", "unknown emotion 'hapy'"), ({"happy": -1}, "must be >= 0"), ({"emotion": "happy", "colour": 1}, "unknown key"),
    ({"emotion": "happy", "text": "x"}, "several sources"), ({"emotion": "happy", "au": {"AU99": 1}}, "unknown action unit"),
    ({"emotion": "happy", "intensity": 2}, "in [0, 1]"), ([{"at": 2, "emotion": "sad"}, {"at": 1, "emotion": "happy"}],
                                                           "increasing"), ("{happy: [", "cannot read emotion"),
])
def test_bad_requests_have_one_line_messages(bad, needle):
    with pytest.raises(EmotionError) as e:
        parse_emotion(bad)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_vocabulary_is_meads_eight():
    assert len(EMOTIONS) == 8 and EMOTIONS[0] == "neutral"


def test_timeline_tracks_cross_fade_centred_on_the_switch():
    from emoavatar.timeline import request_tracks

    req = parse_emotion({"timeline": [{"at": 0, "emotion": "happy"}, {"at": 2.0, "emotion": "sad", "intensity": 0.5}],
                         "transition": 0.4})
    w, inten = request_tracks(req, 100, 25.0)
    happy, sad = EMOTIONS.index("happy"), EMOTIONS.index("sad")
    assert w[:45, happy].min() == 1 and w[56:, sad].min() == 1
    assert w[50, sad] == pytest.approx(0.5)  # crosses one half exactly at the requested time
    assert inten[0] == 1 and inten[-1] == 0.5
    assert (abs(w.sum(1) - 1) < 1e-9).all()


def test_au_prompts_and_region_requests():
    from emoavatar.emotions import parse_au_prompt

    req = parse_emotion("AU6+AU12, strong")
    assert req.au == {"AU6": 0.85, "AU12": 0.85} and req.segments[0].mix == {"neutral": 1.0}
    assert parse_au_prompt("au1:0.6 + AU2 slight") == {"AU1": 0.6, "AU2": 0.35}
    assert parse_emotion({"emotion": "sad", "au": "AU12 weak"}).au == {"AU12": 0.35}
    req = parse_emotion("{regions: {mouth: happy, Brows: {surprised: 2}}}")
    assert req.regions == {"mouth": {"happy": 1.0}, "brows": {"surprised": 1.0}}
    assert req.segments[0].mix == {"neutral": 1.0} and "regions mouth" in req.describe()
    assert parse_emotion({"emotion": "sad", "regions": {"eyes": "happy"}}).segments[0].mix == {"sad": 1.0}
    assert parse_emotion("happy").regions == {}
    for bad in ("AU6+AU99", "AU6 hugely", {"regions": "mouth"}, {"regions": {"mouth": "glee"}}):
        with pytest.raises(EmotionError):
            parse_emotion(bad)


def test_region_weights_validate_and_default_to_global():
    import numpy as np
    from emoavatar.types import EmotionState

    w = np.tile(np.eye(len(EMOTIONS))[1], (4, 1))
    old = EmotionState(w, np.ones(4))
    assert old.region_weights is None and old.regions == () and np.array_equal(old.region("mouth"), old.weights)
    rw = np.stack([w, np.tile(np.eye(len(EMOTIONS))[6], (4, 1))], 1)
    st = EmotionState(w, np.ones(4), regions=("mouth", "brows"), region_weights=rw)
    assert st.region("brows")[0, 6] == 1.0 and st.region("eyes") is st.weights
    for bad in (rw[:, :1], rw * 2, rw[:3]):
        with pytest.raises(ValueError):
            EmotionState(w, np.ones(4), regions=("mouth", "brows"), region_weights=bad)

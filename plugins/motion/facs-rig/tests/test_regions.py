"""facs-rig honours region gates (EmotionState.region_weights): each region mixes its own experts."""

from __future__ import annotations

import numpy as np
import pytest
from emoavatar.emotions import EMOTIONS
from emoavatar.interfaces import RunContext
from emoavatar.types import AudioFeatures, EmotionState
from emoavatar.visemes import VISEMES
from emoavatar_facsrig.generator import CHANNELS
from emoavatar_facsrig.spec import SPEC


@pytest.fixture(scope="module")
def portrait():
    from emoavatar.testing.data import kit_portrait

    return kit_portrait()


def onehot(name: str, n: int) -> np.ndarray:
    return np.tile(np.eye(len(EMOTIONS))[EMOTIONS.index(name)], (n, 1)).astype(np.float32)


def aus(state: EmotionState, portrait, n: int = 20) -> dict[str, float]:
    gen = SPEC.build({"head_motion": 0.0, "blink_rate_per_min": 0.0})
    silence = np.zeros((n, len(VISEMES)), np.float32)
    silence[:, VISEMES.index("sil")] = 1.0
    features = {"features:visemes": AudioFeatures(silence, "visemes", 25.0, names=VISEMES)}
    motion = gen.generate(features, state, portrait, RunContext(fps=25.0, n_frames=n))
    return dict(zip(motion.meta["au_names"], motion.meta["au"][n // 2]))


def test_region_gates_mix_experts_per_region(portrait):
    n = 20
    neutral = onehot("neutral", n)
    rw = np.stack([onehot("surprised", n), neutral, onehot("happy", n)], 1)  # brows, eyes, mouth
    a = aus(EmotionState(neutral, np.ones(n), regions=("brows", "eyes", "mouth"), region_weights=rw), portrait)
    happy = aus(EmotionState(onehot("happy", n), np.ones(n)), portrait)
    surprised = aus(EmotionState(onehot("surprised", n), np.ones(n)), portrait)
    for au in ("AU1", "AU2"):  # brows like surprised
        assert a[au] == pytest.approx(surprised[au], rel=1e-3) and a[au] > 0.5
    assert a["AU12"] == pytest.approx(happy["AU12"], rel=1e-3) and a["AU12"] > 0.5  # mouth like happy
    assert a["AU5"] == pytest.approx(0.0, abs=1e-6) and a["AU6"] == pytest.approx(0.0, abs=1e-6)  # eyes neutral
    assert a["AU26"] == pytest.approx(happy["AU26"], abs=1e-6)  # surprise's jaw drop stays off the mouth


def test_without_region_weights_and_unknown_regions_follow_the_global_weights(portrait):
    n = 20
    w = onehot("happy", n)
    base = aus(EmotionState(w, np.ones(n)), portrait)
    same = aus(EmotionState(w, np.ones(n), regions=("brows", "eyes", "mouth"), region_weights=np.stack([w] * 3, 1)), portrait)
    assert all(base[c] == pytest.approx(same[c], abs=1e-6) for c in CHANNELS)
    with pytest.warns(UserWarning, match="unknown face region"):
        other = aus(EmotionState(w, np.ones(n), regions=("ears",), region_weights=onehot("sad", n)[:, None]), portrait)
    assert all(base[c] == pytest.approx(other[c], abs=1e-6) for c in CHANNELS)

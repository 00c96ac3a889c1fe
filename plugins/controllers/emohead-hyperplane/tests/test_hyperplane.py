import numpy as np
import pytest
from emoavatar.emotions import EMOTIONS, parse_emotion
from emoavatar.errors import WeightsNotFoundError
from emoavatar.interfaces import RunContext
from emoavatar.testing.contracts import check_controller
from emoavatar_emohead_hyperplane.controller import HyperplaneController, request_weights
from emoavatar_emohead_hyperplane.hyperplane import Hyperplanes, balanced_indices, fit_hyperplanes, mar_groups
from emoavatar_emohead_hyperplane.spec import HYPERPLANE_SPEC

EMOS = ("neutral", "happy", "sad", "angry")


def clusters(n=400, k=10, seed=0):
    """Per-emotion clusters in α plus a shared mouth-opening axis (dim 0) that MAR follows."""
    centers = np.random.default_rng(123).standard_normal((len(EMOS), k)) * 1.2
    rng = np.random.default_rng(seed)
    centers[:, 0] = 0
    labels = np.repeat(EMOS, n)
    # unbalanced mouth openings: most frames closed, a few wide open
    mouth = rng.exponential(0.5, len(labels))
    alpha = centers[np.repeat(np.arange(len(EMOS)), n)] + rng.standard_normal((len(labels), k))
    alpha[:, 0] = mouth * 2
    return alpha.astype(np.float32), labels, (0.05 + mouth / 4).astype(np.float32)


def test_mar_groups_and_balance():
    _, labels, mar = clusters()
    g = mar_groups(mar)
    assert g.min() == 0 and g.max() == 4
    assert np.bincount(g).max() > 5 * np.bincount(g).min()  # unbalanced input
    idx = balanced_indices(labels, mar, per_cell=30)
    counts = {(lab, gi): 0 for lab in EMOS for gi in range(5)}
    for i in idx:
        counts[(labels[i], g[i])] += 1
    nonempty = [c for c in counts.values() if c]
    assert set(nonempty) == {30}


def test_svm_separates_clusters_above_chance(tmp_path):
    alpha, labels, mar = clusters()
    hp = fit_hyperplanes(alpha, labels, mar, basis="landmark-pca")
    assert hp.emotions == EMOS and hp.w.shape == (4, 10)
    test_alpha, test_labels, _ = clusters(seed=1)
    scores = hp.decision(test_alpha)
    acc = (np.array(hp.emotions)[scores.argmax(1)] == test_labels).mean()
    assert acc > 0.6  # chance is 0.25
    for i, emo in enumerate(hp.emotions):  # each one-vs-rest plane beats the trivial rule
        assert ((scores[:, i] > 0) == (test_labels == emo)).mean() > 0.75
    again = Hyperplanes.load(hp.save(tmp_path / "hp.npz"))
    assert again.emotions == hp.emotions and again.basis == "landmark-pca"
    assert np.allclose(again.decision(test_alpha), scores, atol=1e-5)
    assert Hyperplanes.load(hp.save(tmp_path / "hp.safetensors")).w.shape == (4, 10)


def test_refine_increases_target_decision():
    alpha, labels, mar = clusters()
    hp = fit_hyperplanes(alpha, labels, mar)
    sad = alpha[labels == "sad"][:50]
    before = hp.decision(sad)[:, hp.emotions.index("happy")]
    after = hp.decision(hp.refine(sad, "happy", 1.5))[:, hp.emotions.index("happy")]
    assert np.all(after > before)
    assert np.allclose(after - before, 1.5 * np.linalg.norm(hp.w[hp.emotions.index("happy")]), atol=1e-4)
    assert (hp.decision(hp.refine(sad, "happy", 4.0)).argmax(1) == hp.emotions.index("happy")).mean() > 0.9


def test_switching_hyperplanes_mid_utterance(tmp_path):
    alpha, labels, mar = clusters()
    path = fit_hyperplanes(alpha, labels, mar).save(tmp_path / "hp.npz")
    ctrl = HYPERPLANE_SPEC.build({"hyperplanes": str(path), "strength": 2.0})
    ctx = RunContext(fps=25.0, n_frames=100, seed=0)
    req = parse_emotion({"timeline": [{"at": 0, "emotion": "happy"}, {"at": 2.0, "emotion": "sad"}],
                         "transition": 0.2})
    state = ctrl.control(req, {}, ctx)
    hp = ctrl.hyperplanes
    assert state.latent.shape == (100, 10)
    u = hp.unit
    # the 0.2 s cross-fade is centred on 2.0 s (frames 47.5-52.5), as in every controller
    assert np.allclose(state.latent[:47], 2.0 * u[hp.emotions.index("happy")], atol=1e-5)
    assert np.allclose(state.latent[53:], 2.0 * u[hp.emotions.index("sad")], atol=1e-5)
    mid = state.latent[50]  # inside the transition: a blend of both normals
    assert not np.allclose(mid, state.latent[46]) and not np.allclose(mid, state.latent[60])
    # refining a constant expression along the latent makes happy win first, then sad
    refined = np.zeros((100, 10), np.float32) + state.latent * 3
    dec = hp.decision(refined)
    assert dec[:50, hp.emotions.index("happy")].mean() > dec[:50, hp.emotions.index("sad")].mean()
    assert dec[60:, hp.emotions.index("sad")].mean() > dec[60:, hp.emotions.index("happy")].mean()
    assert state.dominant()[10] == "happy" and state.dominant()[90] == "sad"


def test_request_weights_mix_and_intensity():
    w, inten = request_weights(parse_emotion({"emotion": {"happy": 0.6, "surprised": 0.4}, "intensity": 0.5}), 10, 25)
    assert np.allclose(w[:, EMOTIONS.index("happy")], 0.6) and np.allclose(inten, 0.5)


def test_controller_contract_and_missing_file(tmp_path):
    alpha, labels, mar = clusters(n=100)
    path = fit_hyperplanes(alpha, labels, mar).save(tmp_path / "hp.npz")
    check_controller(HyperplaneController(HYPERPLANE_SPEC.config(hyperplanes=str(path))))
    with pytest.raises(WeightsNotFoundError, match="missing.npz"):
        HYPERPLANE_SPEC.build({"hyperplanes": str(tmp_path / "missing.npz")}).control(
            parse_emotion("happy"), {}, RunContext(n_frames=5))

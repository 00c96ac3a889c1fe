import math

import numpy as np
import pytest
import torch
from emoavatar_emohead.a2e import build_model, default_arch
from emoavatar_emohead.fusedattn import AudioExpressionModel, refine


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def loop_reference(model: AudioExpressionModel, feats: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Direct transcription of eq. 1–8, one frame at a time, with plain numpy loops."""
    w = {n: p.detach().double().numpy() for n, p in model.named_parameters()}
    sil = {n: b.detach().double().numpy() for n, b in model.named_buffers()}
    n, dh = model.window, model.attn.dh
    t_len = len(next(iter(feats.values())))

    def raw(role, j):  # raw features of a role at frame j; silence before frame 0
        kinds = model.kinds[role]
        if not kinds:
            return None
        if j < 0:
            return sil[f"silence_{role}"]
        return np.concatenate([feats[k][j] for k in kinds])

    def proj(role, j):  # eq. 1: x E
        r = raw(role, j)
        return np.zeros(model.d) if r is None else w[f"proj.{role}.weight"] @ r

    def lin(name, x):
        return w[f"attn.{name}.weight"] @ x

    alphas, taus = [], []
    for i in range(t_len):
        win = list(range(i - n, i + 1))
        u = [proj("audio", j) for j in win]
        e = [proj("emotion", j) for j in win]
        g = [proj("text", j) for j in win]
        fused = [u[a] + e[a] for a in range(len(win))]  # F(υ, e)
        size = len(win)
        c_ue = np.zeros((size, size))
        c_g = np.zeros((size, size))
        for a in range(size):
            for b in range(size):
                c_ue[a, b] = lin("w_q1", fused[a]) @ lin("w_k1", fused[b])  # eq. 2
                c_g[a, b] = lin("w_q2", g[a]) @ lin("w_k2", g[b])  # eq. 3
        h_u = np.zeros((size, model.d))
        h_e = np.zeros((size, model.d))
        h_g = np.zeros((size, model.d))
        for a in range(size):
            a_u = _softmax((c_ue[a] + c_g[a]) / math.sqrt(dh))  # eq. 5
            a_e = _softmax(c_ue[a] / math.sqrt(dh))  # eq. 6
            a_g = _softmax(c_g[a] / math.sqrt(dh))  # eq. 7
            for b in range(size):
                h_u[a] += a_u[b] * lin("w_v1", u[b])
                h_e[a] += a_e[b] * lin("w_v2", fused[b])
                h_g[a] += a_g[b] * lin("w_v3", g[b])
        h = np.concatenate([h_u[-1], h_e[-1], h_g[-1]])  # the current frame's row

        def mlp(prefix, x):
            layers = sorted({int(k.split(".")[1]) for k in w if k.startswith(prefix + ".")})
            for li, idx in enumerate(layers):
                x = w[f"{prefix}.{idx}.weight"] @ x + w[f"{prefix}.{idx}.bias"]
                if li < len(layers) - 1:
                    x = np.maximum(x, 0)
            return x

        alphas.append(mlp("ffn_alpha", h))  # eq. 8
        taus.append(mlp("ffn_tau", h))
    return np.array(alphas), np.array(taus)


@pytest.mark.parametrize("kinds", [("hubert", "audio_emotion", "text"), ("hubert", "visemes"), ("hubert",)])
def test_fusedattn_matches_loop_transcription(kinds):
    torch.manual_seed(0)
    dims = {"hubert": 12, "audio_emotion": 6, "text": 9, "visemes": 5}
    arch = default_arch({k: dims[k] for k in kinds}, d=16, dh=8, window=3, k=10, ffn_hidden=[20, 12])
    model = build_model(arch).double()
    with torch.no_grad():
        for b in model.buffers():  # non-zero silence rows, so the padding is exercised
            b.uniform_(-1, 1)
    rng = np.random.default_rng(0)
    feats = {k: rng.standard_normal((7, dims[k])) for k in kinds}
    alpha, tau = model({k: torch.as_tensor(v)[None] for k, v in feats.items()})
    ref_alpha, ref_tau = loop_reference(model, feats)
    assert np.allclose(alpha[0].detach().numpy(), ref_alpha, atol=1e-9)
    assert np.allclose(tau[0].detach().numpy(), ref_tau, atol=1e-9)


def test_table_v_shapes_at_default_settings():
    arch = default_arch({"hubert": 768, "audio_emotion": 768, "text": 4096})
    assert arch["roles"] == {"hubert": "audio", "audio_emotion": "emotion", "text": "text"}
    model = build_model(arch)
    assert model.proj["audio"].weight.shape == (512, 768)  # E1: 768 -> d = 512
    assert model.proj["emotion"].weight.shape == (512, 768)  # E2
    assert model.proj["text"].weight.shape == (512, 4096)  # E3
    assert model.attn.w_q1.weight.shape == (512, 512) and model.attn.w_v1.weight.shape == (512, 512)  # d x d_h, d x d
    widths = [m.out_features for m in model.ffn_alpha if isinstance(m, torch.nn.Linear)]
    assert widths == [512, 256, 256, 128, 10] and model.ffn_alpha[0].in_features == 3 * 512
    assert [m.out_features for m in model.ffn_tau if isinstance(m, torch.nn.Linear)][-1] == 1
    assert model.window == 5
    feats = {"hubert": torch.randn(2, 9, 768), "audio_emotion": torch.randn(2, 9, 768), "text": torch.randn(2, 9, 4096)}
    alpha, tau = model(feats)
    assert alpha.shape == (2, 9, 10) and tau.shape == (2, 9, 1)


def test_refine_eq9():
    alpha, tau, w = torch.zeros(1, 3, 10), torch.tensor([[[1.0], [2.0], [0.0]]]), torch.eye(10)[0]
    out = refine(alpha, tau, w)
    assert out[0, :, 0].tolist() == [1.0, 2.0, 0.0] and out[..., 1:].abs().sum() == 0


def test_silence_padding_only_affects_first_frames():
    torch.manual_seed(0)
    model = build_model(default_arch({"hubert": 4}, d=8, dh=8, window=2, ffn_hidden=[8]))
    x = torch.randn(1, 6, 4)
    a0, _ = model({"hubert": x})
    with torch.no_grad():
        model.silence_audio.fill_(3.0)
    a1, _ = model({"hubert": x})
    assert not torch.allclose(a0[0, :2], a1[0, :2]) and torch.allclose(a0[0, 2:], a1[0, 2:])

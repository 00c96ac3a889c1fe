"""blocks.attend: diffusers' attention without its per-call signature inspection, bit for bit."""

from __future__ import annotations


def test_attend_matches_diffusers_attention_and_defers_to_other_processors():
    import torch
    from diffusers.models.attention_processor import Attention, AttnProcessor
    from emoavatar_diffusion.blocks import TemporalAttention, _attn, attend

    torch.manual_seed(0)
    x, ctx = torch.randn(3, 10, 16), torch.randn(3, 5, 8)
    for attn, c in ((_attn(16, 4), None), (_attn(16, 4, 8), ctx)):
        ref = attn(x, encoder_hidden_states=c)
        out = attend(attn, x, c)
        assert torch.equal(out, ref)
        # gradients too: the same operations run
        gx = torch.autograd.grad(attend(attn, x.requires_grad_(), c).square().sum(), x)[0]
        assert torch.equal(gx, torch.autograd.grad(attn(x, encoder_hidden_states=c).square().sum(), x)[0])
        x = x.detach()
    t = TemporalAttention(16, 4, 32)
    assert torch.equal(t(x), Attention.forward(t, t.pos_encoder(x)))
    # a layer attend does not cover (another processor, e.g. one set for a GPU, or other options: here an output
    # rescale of 2) runs as diffusers runs it
    odd = Attention(query_dim=16, heads=4, dim_head=4, bias=False, rescale_output_factor=2.0)
    assert torch.equal(attend(odd, x), odd(x))
    odd.set_processor(AttnProcessor())
    assert torch.equal(attend(odd, x), odd(x))

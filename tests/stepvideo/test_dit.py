"""DiT behaviour: fused layouts against a per-head reference, RoPE, masks, quirks, bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from generators.stepvideo.config import get_preset
from generators.stepvideo.dit import StepVideoModel, sdpa_attention
from generators.stepvideo.rope import apply_rope_3d, grid_positions
from stepeval.errors import UserError


def _tiny():
    torch.manual_seed(0)
    return StepVideoModel(get_preset("tiny").dit).eval()


def _inputs(model, b=2, f=2, h=4, w=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    c = model.config
    x = torch.randn(b, f, c.in_channels, h, w, generator=g)
    return dict(
        hidden_states=x,
        encoder_hidden_states=torch.randn(b, 320, c.caption_channels[0], generator=g),
        encoder_hidden_states_2=torch.randn(b, 77, c.caption_channels[1], generator=g),
        timestep=torch.tensor([0.1, 0.7])[:b],
        encoder_attention_mask=torch.cat([torch.ones(b, 77), torch.zeros(b, 320)], 1),
        motion_score=5.0,
        condition_hidden_states=torch.randn(x.shape, generator=g),
    )


def _ref_rms(x, weight, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def _ref_rope(x, pos, split, theta=10000.0):
    """Independent rotate-half RoPE: for each axis chunk of size d, pair i with i + d/2."""
    out, start = x.clone(), 0
    for axis, d in enumerate(split):
        for i in range(d // 2):
            freq = theta ** (-2 * i / d)
            ang = pos[:, axis].double() * freq
            cos, sin = torch.cos(ang).float()[:, None], torch.sin(ang).float()[:, None]
            a, b = x[..., start + i], x[..., start + i + d // 2]  # [S, H]
            out[..., start + i] = a * cos - b * sin
            out[..., start + i + d // 2] = b * cos + a * sin
        start += d
    return out


def test_wqkv_per_head_interleaved_layout_matches_reference():
    model = _tiny()
    cfg = model.config
    H, Dh, d = cfg.num_attention_heads, cfg.attention_head_dim, cfg.inner_dim
    attn = model.transformer_blocks[0].attn1
    g = torch.Generator().manual_seed(3)
    Wq, Wk, Wv = (torch.randn(H, Dh, d, generator=g) / math.sqrt(d) for _ in range(3))
    Wo = torch.randn(d, d, generator=g) / math.sqrt(d)
    qn, kn = torch.rand(Dh, generator=g) + 0.5, torch.rand(Dh, generator=g) + 0.5
    # The official file interleaves per head: [q_h0; k_h0; v_h0; q_h1; ...].
    packed = torch.cat([torch.cat([Wq[h], Wk[h], Wv[h]]) for h in range(H)])
    with torch.no_grad():
        attn.wqkv.weight.copy_(packed)
        attn.wo.weight.copy_(Wo)
        attn.q_norm.weight.copy_(qn)
        attn.k_norm.weight.copy_(kn)
    S = 2 * 3 * 4
    pos = grid_positions(2, 3, 4)
    x = torch.randn(1, S, d, generator=g)
    out = attn(x, pos, tuple(cfg.rope_split), cfg.rope_theta, sdpa_attention, False)

    heads = []
    for h in range(H):
        q = _ref_rope(_ref_rms(x[0] @ Wq[h].T, qn)[:, None], pos, cfg.rope_split)[:, 0]
        k = _ref_rope(_ref_rms(x[0] @ Wk[h].T, kn)[:, None], pos, cfg.rope_split)[:, 0]
        v = x[0] @ Wv[h].T
        heads.append(torch.softmax(q @ k.T / math.sqrt(Dh), dim=-1) @ v)
    ref = torch.cat(heads, dim=-1) @ Wo.T
    torch.testing.assert_close(out[0], ref, rtol=1e-4, atol=1e-5)
    # The [Q_all; K_all; V_all] reading of the same matrix is a different function.
    with torch.no_grad():
        attn.wqkv.weight.copy_(torch.cat([Wq.reshape(-1, d), Wk.reshape(-1, d), Wv.reshape(-1, d)]))
    wrong = attn(x, pos, tuple(cfg.rope_split), cfg.rope_theta, sdpa_attention, False)
    assert not torch.allclose(wrong[0], ref, atol=1e-3)


def test_wkv_per_head_layout_and_mask_match_reference():
    model = _tiny()
    cfg = model.config
    H, Dh, d = cfg.num_attention_heads, cfg.attention_head_dim, cfg.inner_dim
    attn = model.transformer_blocks[0].attn2
    g = torch.Generator().manual_seed(4)
    Wq, Wk, Wv = (torch.randn(H, Dh, d, generator=g) / math.sqrt(d) for _ in range(3))
    with torch.no_grad():
        attn.wq.weight.copy_(Wq.reshape(-1, d))
        attn.wkv.weight.copy_(torch.cat([torch.cat([Wk[h], Wv[h]]) for h in range(H)]))
    x, text = torch.randn(1, 5, d, generator=g), torch.randn(1, 7, d, generator=g)
    valid = 4
    mask = (torch.arange(7) < valid)[None, None, None]
    out = attn(x, text, mask)
    heads = []
    for h in range(H):
        q = _ref_rms(x[0] @ Wq[h].T, attn.q_norm.weight)
        k = _ref_rms(text[0, :valid] @ Wk[h].T, attn.k_norm.weight)
        heads.append(torch.softmax(q @ k.T / math.sqrt(Dh), -1) @ (text[0, :valid] @ Wv[h].T))
    ref = torch.cat(heads, -1) @ attn.wo.weight.T
    torch.testing.assert_close(out[0], ref, rtol=1e-4, atol=1e-5)


def test_rope_matches_reference_and_position_chunks():
    split = (16, 8, 8)
    pos = grid_positions(3, 4, 5)
    x = torch.randn(1, pos.shape[0], 2, 32)
    full = apply_rope_3d(x, pos, split)
    torch.testing.assert_close(full[0], _ref_rope(x[0], pos, split), rtol=1e-5, atol=1e-5)
    # A sequence-parallel rank passes only its chunk of positions and gets the same rows.
    part = apply_rope_3d(x[:, 20:40], pos[20:40], split)
    torch.testing.assert_close(part, full[:, 20:40])
    assert pos[:6].tolist() == [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 0, 3], [0, 0, 4], [0, 1, 0]]


def test_tokens_beyond_mask_cannot_change_output():
    model = _tiny()
    inp = _inputs(model)
    inp["encoder_attention_mask"][0, 77:77 + 10] = 1
    inp["encoder_attention_mask"][1, 77:77 + 25] = 1
    with torch.no_grad():
        base = model(**inp)
        again = model(**inp)
        changed = dict(inp, encoder_hidden_states=inp["encoder_hidden_states"].clone())
        changed["encoder_hidden_states"][0, 10:] = 100.0  # beyond row 0's valid length
        changed["encoder_hidden_states"][1, 25:] = -7.0
        out_pad = model(**changed)
        valid = dict(inp, encoder_hidden_states=inp["encoder_hidden_states"].clone())
        valid["encoder_hidden_states"][0, 3] = torch.randn(model.config.caption_channels[0])  # valid
        out_valid = model(**valid)
        clip = dict(inp, encoder_hidden_states_2=inp["encoder_hidden_states_2"].clone())
        clip["encoder_hidden_states_2"][1, 76] += 1.0  # CLIP padding positions count as valid
        out_clip = model(**clip)
    assert torch.equal(base, again)
    torch.testing.assert_close(out_pad, base, rtol=0, atol=1e-6)
    assert not torch.allclose(out_valid[0], base[0], atol=1e-4)
    torch.testing.assert_close(out_valid[1], base[1], rtol=0, atol=1e-6)  # rows independent
    assert not torch.allclose(out_clip[1], base[1], atol=1e-4)


def test_conditions_and_embeddings_change_output():
    model = _tiny()
    inp = _inputs(model)
    with torch.no_grad():
        base = model(**inp)
        assert not torch.allclose(model(**dict(inp, motion_score=10.0)), base, atol=1e-4)
        assert not torch.allclose(model(**dict(inp, timestep=torch.tensor([0.2, 0.7]))), base,
                                  atol=1e-4)
        cond = inp["condition_hidden_states"].clone()
        cond[:, 1:] = 0
        assert not torch.allclose(model(**dict(inp, condition_hidden_states=cond)), base, atol=1e-4)
        # Swapping two frames of the input is not the same as swapping the output frames: RoPE.
        x = inp["hidden_states"][:, [1, 0]]
        c = inp["condition_hidden_states"][:, [1, 0]]
        out = model(**dict(inp, hidden_states=x, condition_hidden_states=c))
        assert not torch.allclose(out[:, [1, 0]], base, atol=1e-4)


def test_run_blocks_with_custom_attention_function_matches_default():
    model = _tiny()
    inp = _inputs(model)
    calls = []

    def attn_fn(q, k, v):
        calls.append(q.shape)
        scores = torch.einsum("bshd,bthd->bhst", q, k) / math.sqrt(q.shape[-1])
        return torch.einsum("bhst,bthd->bshd", scores.softmax(-1), v)

    with torch.no_grad():
        ref = model(**inp)
        out = model(**inp, attn_fn=attn_fn)
    assert len(calls) == model.config.num_layers and calls[0][2] == model.config.num_attention_heads
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_bf16_precision_quirks():
    model = _tiny().to(torch.bfloat16)
    inp = _inputs(model, b=1)
    inp["encoder_attention_mask"] = torch.ones(1, 397)
    with torch.no_grad():
        e = model.embed(**{k: v for k, v in inp.items()})
        assert e.text.shape[1] == 396  # 397 summed through bf16
        model.official_precision = False
        assert model.embed(**inp).text.shape[1] == 397
    t = torch.tensor([0.79032]).to(torch.bfloat16) * 1000
    assert t.item() == 788.0  # the documented rounding the quirk reproduces
    # In fp32 the quirks are no-ops.
    m32 = _tiny()
    inp32 = _inputs(m32, b=1)
    inp32["encoder_attention_mask"] = torch.ones(1, 397)
    assert m32.embed(**inp32).text.shape[1] == 397


def test_bad_inputs_raise_user_errors():
    model = _tiny()
    inp = _inputs(model)
    with pytest.raises(UserError, match="channels"):
        model(**dict(inp, hidden_states=torch.randn(2, 2, 5, 4, 6)))
    with pytest.raises(UserError, match="condition_hidden_states"):
        model(**dict(inp, condition_hidden_states=None))
    with pytest.raises(UserError, match="encoder_attention_mask"):
        model(**dict(inp, encoder_attention_mask=torch.ones(2, 300)))
    with pytest.raises(UserError, match="encoder_hidden_states"):
        model(**dict(inp, encoder_hidden_states=torch.randn(2, 320, 7)))

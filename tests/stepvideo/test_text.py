"""Text encoders: Step-1 tokenizer rules, GQA layout, ALiBi, the conditioner and magic prompts."""

import math

import pytest
import torch

from generators.stepvideo.checkpoint import load_model_dir
from generators.stepvideo.config import StepLLMConfig
from generators.stepvideo.step_llm import GQAttention, StepLLM, alibi_bias, alibi_slopes
from generators.stepvideo.text_conditioner import TI2V_NEG_MAGIC, TI2V_POS_MAGIC, cfg_prompts


@pytest.fixture(scope="module")
def parts(tiny_dir):
    return load_model_dir(tiny_dir, dtype="fp32", components=("text",))


def test_tokenizer_layout(parts):
    tok = parts.text_module.tokenizer
    ids, mask = tok(["", "a cat runs", "猫" * 1000])
    assert ids[0, :2].tolist() == [1, 2] and mask[0].sum() == 2
    assert (ids[0, 2:] == 2).all()  # PAD = 2
    n = int(mask[1].sum())
    assert ids[1, 0] == 1 and ids[1, n - 1] == 2 and (mask[1, :n] == 1).all() and (mask[1, n:] == 0).all()
    assert ids.shape == (3, 320) and mask[2].sum() == 320 and ids[2, -1] == 2  # 318 tokens + BOS/EOS


def test_conditioner_outputs_and_mask(parts):
    y, mask, clip = parts.encode_text(["一只猫在草地上奔跑", "a cat"])
    _, llm_mask = parts.text_module.tokenizer(["一只猫在草地上奔跑", "a cat"])
    assert (mask[:, :77] == 1).all()  # all CLIP positions count, padding included
    assert torch.equal(mask[:, 77:], llm_mask)
    assert y.shape == (2, 320, 64) and clip.shape == (2, 77, 32)
    # Padding after EOS cannot reach valid tokens (causal attention): a prompt's valid states
    # are the same alone and in a batch with a longer prompt.
    alone, _, _ = parts.encode_text(["a cat"])
    n = int(llm_mask[1].sum())
    torch.testing.assert_close(alone[0, :n], y[1, :n])


def test_magic_prompt_rules():
    assert cfg_prompts(["猫"]) == ["猫" + TI2V_POS_MAGIC, TI2V_NEG_MAGIC]
    assert cfg_prompts(["a", "b"], negative_prompt="bad") == [
        "a" + TI2V_POS_MAGIC, "b" + TI2V_POS_MAGIC, "bad", "bad"]
    assert cfg_prompts(["a"], magic=False) == ["a", ""]
    assert cfg_prompts(["a"], negative_prompt="n", magic=False) == ["a", "n"]


def test_condition_batches_cond_then_uncond(parts):
    both = parts.text_module.condition(["一只猫"])
    cond, uncond = parts.text_module.encode(["一只猫" + TI2V_POS_MAGIC]), parts.text_module.encode([TI2V_NEG_MAGIC])
    torch.testing.assert_close(both.y[0], cond.y[0])
    torch.testing.assert_close(both.y[1], uncond.y[0])
    assert parts.text_module.condition(["x"], cfg=False).y.shape[0] == 1


def test_alibi_slopes_and_bias():
    s = alibi_slopes(48)
    assert torch.allclose(s[:32], torch.tensor([2 ** (-k / 4) for k in range(1, 33)]))
    assert torch.allclose(s[32:], torch.tensor([2 ** (-(2 * j - 1) / 8) for j in range(1, 17)]))
    b = alibi_bias(2, 4)
    assert b[0, 3, 0].item() == pytest.approx(-alibi_slopes(2)[0].item() * math.sqrt(3))
    assert torch.isinf(b[:, 0, 1]).all() and (b[:, 2, 2] == 0).all()


def test_gqa_wqkv_layout_matches_per_head_reference():
    cfg = StepLLMConfig(hidden_size=32, num_layers=1, num_attention_heads=4, kv_channels=8,
                        num_attention_groups=2, ffn_hidden_size=16, padded_vocab_size=50)
    attn = GQAttention(cfg)
    g = torch.Generator().manual_seed(0)
    H, G, Dh, d = 4, 2, 8, 32
    Wq = torch.randn(H, Dh, d, generator=g) / math.sqrt(d)
    Wk, Wv = (torch.randn(G, Dh, d, generator=g) / math.sqrt(d) for _ in range(2))
    with torch.no_grad():  # Q head-major, then per group [k_g; v_g]
        attn.wqkv.weight.copy_(torch.cat([Wq.reshape(-1, d)] + [torch.cat([Wk[j], Wv[j]]) for j in range(G)]))
    x = torch.randn(1, 6, d, generator=g)
    bias = alibi_bias(H, 6)
    out = attn(x, bias)
    heads = []
    for h in range(H):
        j = h // (H // G)
        q, k, v = x[0] @ Wq[h].T, x[0] @ Wk[j].T, x[0] @ Wv[j].T
        heads.append(torch.softmax(q @ k.T / math.sqrt(Dh) + bias[h], -1) @ v)
    torch.testing.assert_close(out[0], torch.cat(heads, -1) @ attn.wo.weight.T, rtol=1e-4, atol=1e-5)


def test_llm_is_causal_and_positional():
    cfg = StepLLMConfig(hidden_size=32, num_layers=2, num_attention_heads=4, kv_channels=8,
                        num_attention_groups=2, ffn_hidden_size=16, padded_vocab_size=50)
    llm = StepLLM(cfg).eval()
    ids = torch.tensor([[1, 5, 6, 7, 2, 2, 2]])
    other = ids.clone()
    other[0, 5:] = 9
    a, b = llm(ids), llm(other)
    assert torch.equal(a[0, :5], b[0, :5])
    # ALiBi makes order matter: the same tokens in another order give other states.
    swapped = torch.tensor([[1, 6, 5, 7, 2, 2, 2]])
    assert not torch.allclose(llm(swapped)[0, 3], a[0, 3], atol=1e-5)

"""Step-LLM (Step-1) text encoder, checkpoint-compatible with the release's `step_llm/` folder.

Pre-norm decoder: token embedding -> N x [x + Attn(RMSNorm x); h + SwiGLU(RMSNorm h)], no final
norm; the output is the last block's hidden states. Attention is causal GQA. The official code runs
a proprietary kernel and has no positional encoding in Python; following the MindSpore port (and
Step-Audio's Step1 code) the kernel is taken to be ALiBi with bias -slope_h * sqrt(i - j)
(docs/stepvideo-architecture.md section 3; inferred, not verifiable).

Tokenizer: SentencePiece `step1_chat_tokenizer.model`; [BOS=1] + tokens[:318] + [EOS=2], right
padded with PAD=2 to 320; the mask covers BOS..EOS.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from stepeval.errors import UserError

from .config import StepLLMConfig

BOS_ID, EOS_ID, PAD_ID = 1, 2, 2
LLM_TOKENIZER_NAME = "step1_chat_tokenizer.model"


def alibi_slopes(heads: int) -> torch.Tensor:
    """Standard ALiBi slopes; 48 heads: 2^(-k/4), k=1..32, then 2^(-(2j-1)/8), j=1..16."""
    p = 2 ** math.floor(math.log2(heads))
    slopes = [2 ** (-8 * k / p) for k in range(1, p + 1)]
    extra = [2 ** (-8 * k / (2 * p)) for k in range(1, 2 * p + 1, 2)]
    return torch.tensor(slopes + extra[: heads - p], dtype=torch.float32)


def alibi_bias(heads: int, length: int, device=None) -> torch.Tensor:
    """[H, L, L] additive bias: -slope_h * sqrt(i - j) for j <= i, -inf above the diagonal."""
    i = torch.arange(length, device=device)
    dist = (i[:, None] - i[None, :]).float()
    bias = -alibi_slopes(heads).to(device)[:, None, None] * dist.clamp_min(0).sqrt()
    return bias.masked_fill(dist < 0, float("-inf"))


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return xf.to(x.dtype) * self.weight


class WordEmbeddings(nn.Module):
    def __init__(self, vocab: int, dim: int):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, dim)

    def forward(self, ids):
        return self.word_embeddings(ids)


class GQAttention(nn.Module):
    """wqkv rows: Q (all heads, head-major), then per KV group [k_g; v_g]."""

    def __init__(self, cfg: StepLLMConfig):
        super().__init__()
        self.heads, self.groups, self.head_dim = (cfg.num_attention_heads,
                                                  cfg.num_attention_groups, cfg.kv_channels)
        q_dim = self.heads * self.head_dim
        self.wqkv = nn.Linear(cfg.hidden_size, q_dim + 2 * self.groups * self.head_dim, bias=False)
        self.wo = nn.Linear(q_dim, cfg.hidden_size, bias=False)

    def forward(self, x, bias):
        b, s, _ = x.shape
        q_dim = self.heads * self.head_dim
        qkv = self.wqkv(x)
        q = qkv[..., :q_dim].view(b, s, self.heads, self.head_dim)
        kv = qkv[..., q_dim:].view(b, s, self.groups, 2, self.head_dim)
        k, v = kv[:, :, :, 0], kv[:, :, :, 1]
        # Query head h uses KV group h // (heads / groups).
        rep = self.heads // self.groups
        k = k.repeat_interleave(rep, dim=2)
        v = v.repeat_interleave(rep, dim=2)
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=bias.to(q.dtype)
        )
        return self.wo(out.transpose(1, 2).reshape(b, s, q_dim))


class SwiGLU(nn.Module):
    """w1 rows: [gate; up]; out = w2(silu(gate) * up)."""

    def __init__(self, cfg: StepLLMConfig):
        super().__init__()
        self.w1 = nn.Linear(cfg.hidden_size, 2 * cfg.ffn_hidden_size, bias=False)
        self.w2 = nn.Linear(cfg.ffn_hidden_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        gate, up = self.w1(x).chunk(2, dim=-1)
        return self.w2(F.silu(gate) * up)


class Step1Layer(nn.Module):
    def __init__(self, cfg: StepLLMConfig):
        super().__init__()
        self.attention_norm = RMSNorm(cfg.hidden_size, cfg.layernorm_epsilon)
        self.attention = GQAttention(cfg)
        self.ffn_norm = RMSNorm(cfg.hidden_size, cfg.layernorm_epsilon)
        self.feed_forward = SwiGLU(cfg)

    def forward(self, x, bias):
        x = x + self.attention(self.attention_norm(x), bias)
        return x + self.feed_forward(self.ffn_norm(x))


class _Layers(nn.Module):
    def __init__(self, cfg: StepLLMConfig):
        super().__init__()
        self.layers = nn.ModuleList(Step1Layer(cfg) for _ in range(cfg.num_layers))


class StepLLM(nn.Module):
    """Returns the last block's hidden states [B, L, hidden] (no final norm)."""

    def __init__(self, config: StepLLMConfig | None = None):
        super().__init__()
        cfg = config or StepLLMConfig()
        cfg.validate()
        self.config = cfg
        self.tok_embeddings = WordEmbeddings(cfg.padded_vocab_size, cfg.hidden_size)
        self.transformer = _Layers(cfg)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.tok_embeddings(input_ids)
        # Padding comes after EOS, so causality keeps valid tokens clean; no padding mask needed.
        bias = alibi_bias(self.config.num_attention_heads, input_ids.shape[1], x.device)
        for layer in self.transformer.layers:
            x = layer(x, bias)
        return x


class Step1Tokenizer:
    """SentencePiece with the official BOS/EOS/PAD/320 layout."""

    def __init__(self, model_file: str | Path, max_length: int = 320):
        path = Path(model_file)
        if not path.is_file():
            raise UserError("Step-LLM tokenizer model not found", path=path,
                            hint="the model folder needs step_llm/step1_chat_tokenizer.model")
        import sentencepiece as spm  # noqa: PLC0415 - optional heavy dependency

        self.sp = spm.SentencePieceProcessor(model_file=str(path))
        self.max_length = max_length

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def __call__(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """input_ids [B, max_length] and mask [B, max_length] (1 for BOS..EOS)."""
        ids = torch.full((len(prompts), self.max_length), PAD_ID, dtype=torch.long)
        mask = torch.zeros((len(prompts), self.max_length), dtype=torch.long)
        for row, text in enumerate(prompts):
            tokens = self.sp.encode(text) if text else []
            seq = [BOS_ID] + tokens[: self.max_length - 2] + [EOS_ID]
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        return ids, mask

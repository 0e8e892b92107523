"""The tiny preset's own text encoder: a closed-vocabulary word tokenizer + a small transformer.

The official model conditions on Step-LLM (6144-d) and HunyuanCLIP (1024-d) states. A tiny model
trained for minutes on the synthetic world needs neither: its prompts come from a fixed phrase
book in Chinese and English, so a greedy longest-match tokenizer over that phrase book plus a
2-layer transformer gives the DiT exactly what the official encoders give it, in the same places:
LLM-like states [B, L, llm_dim] (through caption_norm/caption_projection) and CLIP-like states
[B, K, clip_dim] (through clip_projection), with the [CLIP ; LLM] mask convention.
"""

from __future__ import annotations

import torch
from torch import nn

from stepeval.benchmark import synthetic as world

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]


def phrase_book() -> list[str]:
    """Every word the synthetic world's prompts use, both languages (order fixed: ids are saved)."""
    words: list[str] = []
    for _, zh in world.COLOURS.values():
        words.append(zh)
    words += list(world.COLOURS)
    words += list(world.SHAPES.values()) + list(world.SHAPES)
    for zh, en in world.SPEED_WORDS.values():
        words += [zh, en]
    words += list(world.DIRECTION_ZH.values()) + list(world.DIRECTIONS)
    # Whole phrases for subject motion, so 向左移动 is not read as the camera verb 左移 + 动.
    words += [f"向{zh}移动" for zh in world.DIRECTION_ZH.values()]
    words += list(world.CAMERA_ZH.values())
    words += ["的", "向", "移动", "固定镜头", "静止不动", "镜头", "，", "。", ",", ".",
              "a", "moves", "static", "camera", "stays", "still", "the", "pans", "pushes", "pulls", "in", "out"]
    seen, out = set(), []
    for w in words:
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


class PhraseTokenizer:
    """Greedy longest match over a phrase book; spaces separate nothing but are skipped, case folds."""

    def __init__(self, vocab: list[str], max_length: int = 24):
        self.vocab = list(vocab)
        self.max_length = max_length
        self.index = {w: i + len(SPECIALS) for i, w in enumerate(self.vocab)}
        self.longest = max(len(w) for w in self.vocab)

    @property
    def size(self) -> int:
        return len(SPECIALS) + len(self.vocab)

    def tokenize(self, text: str) -> list[int]:
        text = text.lower()
        ids, i = [], 0
        while i < len(text):
            if text[i].isspace():
                i += 1
                continue
            for n in range(min(self.longest, len(text) - i), 0, -1):
                tok = self.index.get(text[i:i + n])
                if tok is not None:
                    ids.append(tok)
                    i += n
                    break
            else:
                # Unknown character: one <unk> per unknown run, so foreign text cannot flood the context.
                if not ids or ids[-1] != UNK:
                    ids.append(UNK)
                i += 1
        return ids

    def __call__(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """ids [B, max_length] = BOS + tokens (truncated) + EOS, right-padded; mask 1 on BOS..EOS."""
        ids = torch.full((len(prompts), self.max_length), PAD, dtype=torch.long)
        mask = torch.zeros((len(prompts), self.max_length), dtype=torch.long)
        for b, p in enumerate(prompts):
            toks = [BOS] + self.tokenize(p)[: self.max_length - 2] + [EOS]
            ids[b, : len(toks)] = torch.tensor(toks)
            mask[b, : len(toks)] = 1
        return ids, mask

    def to_json(self) -> dict:
        return {"type": "phrase_book", "specials": SPECIALS, "vocab": self.vocab, "max_length": self.max_length}

    @classmethod
    def from_json(cls, d: dict) -> "PhraseTokenizer":
        return cls(d["vocab"], int(d["max_length"]))


class TinyTextEncoder(nn.Module):
    """Token embedding + a 2-layer pre-norm transformer (no positional encoding beyond what the
    causal order gives, like Step-LLM); returns (llm_states, clip_states, mask [B, K + L])."""

    def __init__(self, vocab_size: int, llm_dim: int = 64, clip_dim: int = 32, layers: int = 2, heads: int = 4):
        super().__init__()
        self.config = {"vocab_size": vocab_size, "llm_dim": llm_dim, "clip_dim": clip_dim, "layers": layers, "heads": heads}
        self.embed = nn.Embedding(vocab_size, llm_dim)
        self.pos = nn.Parameter(torch.zeros(64, llm_dim))
        layer = nn.TransformerEncoderLayer(llm_dim, heads, 2 * llm_dim, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.clip_head = nn.Linear(llm_dim, clip_dim)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor):
        x = self.embed(ids) + self.pos[: ids.shape[1]]
        x = self.blocks(x, src_key_padding_mask=mask == 0)
        x = x * mask[..., None]
        # One pooled "CLIP" token, always valid (the official CLIP positions are all valid too).
        pooled = (x.sum(1) / mask.sum(1, keepdim=True).clamp_min(1))[:, None]
        clip = self.clip_head(pooled)
        full_mask = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        return x, clip, full_mask

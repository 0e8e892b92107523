"""HunyuanCLIP text tower: a BERT encoder loaded through `transformers`.

`hunyuan_clip/clip_text_encoder` holds a BertModel, `hunyuan_clip/tokenizer` a BertTokenizer.
Prompts are padded/truncated to 77 tokens and the last hidden state [B, 77, 1024] is used (the
pooler output is discarded). All 77 positions count as valid for the DiT, padding included.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from stepeval.errors import UserError

MAX_LENGTH = 77


class HunyuanCLIP(nn.Module):
    def __init__(self, bert: nn.Module, tokenizer, max_length: int = MAX_LENGTH):
        super().__init__()
        self.bert = bert
        self.tokenizer = tokenizer
        self.max_length = max_length

    @property
    def hidden_size(self) -> int:
        return self.bert.config.hidden_size

    def tokenize(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        enc = self.tokenizer(list(prompts), padding="max_length", max_length=self.max_length,
                             truncation=True, return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"]

    def forward(self, prompts: list[str]) -> torch.Tensor:
        ids, mask = self.tokenize(prompts)
        device = next(self.bert.parameters()).device
        out = self.bert(input_ids=ids.to(device), attention_mask=mask.to(device))
        return out.last_hidden_state

    @classmethod
    def from_folder(cls, folder: str | Path, dtype: torch.dtype | None = None) -> "HunyuanCLIP":
        """Load `<folder>/clip_text_encoder` and `<folder>/tokenizer` (the hub's hunyuan_clip/).

        dtype None keeps the official behaviour: fp32 (transformers' default)."""
        folder = Path(folder)
        enc_dir, tok_dir = folder / "clip_text_encoder", folder / "tokenizer"
        for d in (enc_dir, tok_dir):
            if not d.is_dir():
                raise UserError("HunyuanCLIP folder is missing", path=d,
                                hint="expected hunyuan_clip/clip_text_encoder and hunyuan_clip/tokenizer")
        from transformers import BertModel, BertTokenizer  # noqa: PLC0415 - heavy import

        try:
            bert, info = BertModel.from_pretrained(
                str(enc_dir), output_loading_info=True, add_pooling_layer=True,
                **({"dtype": dtype} if dtype is not None else {}),
            )
            tokenizer = BertTokenizer.from_pretrained(str(tok_dir))
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot load HunyuanCLIP: {exc}", path=folder) from exc
        missing = [k for k in info.get("missing_keys", []) if not k.startswith("pooler.")]
        bad = missing + list(info.get("mismatched_keys", []))
        if bad:
            raise UserError(
                f"HunyuanCLIP checkpoint does not match its config: {len(bad)} missing or "
                f"mis-shaped tensors, e.g. {bad[:5]}",
                path=enc_dir,
            )
        return cls(bert.eval(), tokenizer)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        self.bert.save_pretrained(str(folder / "clip_text_encoder"))
        self.tokenizer.save_pretrained(str(folder / "tokenizer"))

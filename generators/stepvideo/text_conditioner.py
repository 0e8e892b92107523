"""Prompts -> exactly what the DiT consumes: (y [B, 320, D_llm], y_mask [B, 397], clip [B, 77, D_clip]).

Reproduces the official caption server: Step-LLM states for 320 tokens, HunyuanCLIP last hidden
state for 77 tokens, and a mask of 77 ones (every CLIP position counts, padding included) followed
by the LLM mask. The conditioner can stay on the CPU while the DiT runs elsewhere; outputs are
cast to `out_dtype` (the official server returns bf16) on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from stepeval.benchmark.items import T2V, TI2V

from .clip_encoder import HunyuanCLIP
from .step_llm import Step1Tokenizer, StepLLM

# Official TI2V magic prompts (docs/stepvideo-architecture.md section 3).
TI2V_POS_MAGIC = ("画面中的主体动作表现生动自然、画面流畅、生动细节、光线统一柔和、超真实动态捕捉、"
                  "大师级运镜、整体不变形、超高清、画面稳定、逼真的细节、专业级构图、超细节、清晰。")
TI2V_NEG_MAGIC = ("动画、模糊、变形、毁容、低质量、拼贴、粒状、标志、抽象、插图、计算机生成、扭曲、"
                  "动作不流畅、面部有褶皱、表情僵硬、畸形手指")
# Official T2V magic prompts (same section).
T2V_POS_MAGIC = ("超高清、HDR 视频、环境光、杜比全景声、画面稳定、流畅动作、逼真的细节、专业级构图、超现实主义、"
                 "自然、生动、超细节、清晰。")
T2V_NEG_MAGIC = "画面暗、低分辨率、不良手、文本、缺少手指、多余的手指、裁剪、低质量、颗粒状、签名、水印、用户名、模糊。"
#: task -> (positive, negative) magic prompt of that model's official pipeline
MAGIC_PROMPTS = {TI2V: (TI2V_POS_MAGIC, TI2V_NEG_MAGIC), T2V: (T2V_POS_MAGIC, T2V_NEG_MAGIC)}


def cfg_prompts(prompts: list[str], negative_prompt: str | None = None, magic: bool = True,
                pos_magic: str = TI2V_POS_MAGIC, neg_magic: str = TI2V_NEG_MAGIC) -> list[str]:
    """[cond prompts..., uncond prompts...]. Official: cond = prompt + pos_magic (no separator),
    uncond = neg_magic only. A user negative prompt replaces neg_magic; magic=False uses the plain
    prompt and the negative prompt (default empty)."""
    if magic:
        cond = [p + pos_magic for p in prompts]
        neg = neg_magic if negative_prompt is None else negative_prompt
    else:
        cond = list(prompts)
        neg = negative_prompt or ""
    return cond + [neg] * len(prompts)


@dataclass
class TextConditioning:
    y: torch.Tensor  # [B, 320, D_llm]
    y_mask: torch.Tensor  # [B, 77 + 320]
    clip: torch.Tensor  # [B, 77, D_clip]

    def to(self, device=None, dtype=None) -> "TextConditioning":
        return TextConditioning(self.y.to(device, dtype), self.y_mask.to(device),
                                self.clip.to(device, dtype))

    def astuple(self):
        return self.y, self.y_mask, self.clip


class TextConditioner(nn.Module):
    def __init__(self, llm: StepLLM, tokenizer: Step1Tokenizer, clip: HunyuanCLIP,
                 out_dtype: torch.dtype | None = torch.bfloat16):
        super().__init__()
        self.llm = llm
        self.clip = clip
        self.tokenizer = tokenizer
        self.out_dtype = out_dtype

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> TextConditioning:
        prompts = list(prompts)
        ids, llm_mask = self.tokenizer(prompts)
        device = next(self.llm.parameters()).device
        y = self.llm(ids.to(device))
        clip = self.clip(prompts)
        ones = torch.ones(len(prompts), clip.shape[1], dtype=llm_mask.dtype)
        y_mask = torch.cat([ones, llm_mask], dim=1)
        dtype = self.out_dtype or y.dtype
        return TextConditioning(y.to("cpu", dtype), y_mask, clip.to("cpu", dtype))

    def forward(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The pipeline's `encode_text(prompts) -> (y, y_mask, clip)`."""
        return self.encode(prompts).astuple()

    def condition(self, prompts: list[str], negative_prompt: str | None = None,
                  magic: bool = True, cfg: bool = True) -> TextConditioning:
        """Batched [cond; uncond] conditioning (cond only when cfg=False)."""
        texts = cfg_prompts(prompts, negative_prompt, magic)
        return self.encode(texts if cfg else texts[: len(prompts)])

"""The Step-Video DiT (`StepVideoModel`), checkpoint-compatible with the official release.

Module names and parameter shapes mirror the official state dict exactly (see
docs/stepvideo-architecture.md section 1), so the released `transformer/` weights load
unchanged. Per block: AdaLN-modulated self-attention (fused per-head-interleaved wqkv, RMS QK-norm,
3D RoPE) -> unmodulated cross-attention to [CLIP ; LLM] text tokens -> AdaLN-modulated GELU-tanh
FFN.

Sequence parallelism (parallel.py) plugs in through `attn_fn(q, k, v)` on [B, S, H, D] tensors and
explicit RoPE `positions`; the forward is split into `embed` / `run_blocks` / `finalize` so a
wrapper can shard the token sequence between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from stepeval.errors import UserError

from .config import DiTConfig
from .rope import apply_rope_3d, grid_positions

AttnFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Full non-causal attention on [B, S, H, D]; scale 1/sqrt(D)."""
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2)


def timestep_sinusoid(t: torch.Tensor, dim: int = 256) -> torch.Tensor:
    """[cos(t w), sin(t w)] with w_k = exp(-ln(1e4) k / (dim/2)); always computed in fp32."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    )
    args = t.to(torch.float32)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) computed in fp32, cast back, then times the learned weight."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return xf.to(x.dtype) * self.weight


class TimestepEmbedding(nn.Module):
    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


class TimeMotionEmbedding(nn.Module):
    """c = e_t + e_m (TI2V) or c = e_t (T2V)."""

    def __init__(self, dim: int, sinusoid_dim: int, with_motion: bool):
        super().__init__()
        self.sinusoid_dim = sinusoid_dim
        self.timestep_embedder = TimestepEmbedding(sinusoid_dim, dim)
        self.motion_score_embedder = TimestepEmbedding(sinusoid_dim, dim) if with_motion else None

    def forward(self, t_scaled: torch.Tensor, motion: torch.Tensor | None) -> torch.Tensor:
        dtype = self.timestep_embedder.linear_1.weight.dtype
        c = self.timestep_embedder(timestep_sinusoid(t_scaled, self.sinusoid_dim).to(dtype))
        if self.motion_score_embedder is not None:
            # The motion score is embedded raw (no x1000), through its own MLP.
            c = c + self.motion_score_embedder(timestep_sinusoid(motion, self.sinusoid_dim).to(dtype))
        return c


class AdaLayerNormSingle(nn.Module):
    """Returns (m [B, 6d] block modulation, c [B, d] final-layer conditioning)."""

    def __init__(self, dim: int, sinusoid_dim: int, with_motion: bool):
        super().__init__()
        self.emb = TimeMotionEmbedding(dim, sinusoid_dim, with_motion)
        self.linear = nn.Linear(dim, 6 * dim)

    def forward(self, t_scaled, motion):
        c = self.emb(t_scaled, motion)
        return self.linear(F.silu(c)), c


class PatchEmbed(nn.Module):
    """Conv2d with kernel = stride = p applied per frame; tokens in frame-major raster order."""

    def __init__(self, in_channels: int, dim: int, patch_size: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, f = x.shape[:2]
        x = self.proj(x.flatten(0, 1))  # [(b f), d, h, w]
        x = x.flatten(2).transpose(1, 2)  # [(b f), h w, d]
        return x.reshape(b, -1, x.shape[-1])


class CaptionProjection(nn.Module):
    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.gelu(self.linear_1(x), approximate="tanh"))


class SelfAttention(nn.Module):
    """wqkv rows are interleaved per head: [q_h0; k_h0; v_h0; q_h1; ...] (official layout)."""

    def __init__(self, dim: int, heads: int, head_dim: int):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.wqkv = nn.Linear(dim, 3 * dim, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)
        self.q_norm = RMSNorm(head_dim)
        self.k_norm = RMSNorm(head_dim)

    def forward(self, x, positions, rope_split, rope_theta, attn_fn: AttnFn, rope_quirk: bool):
        b, s, _ = x.shape
        qkv = self.wqkv(x).view(b, s, self.heads, 3 * self.head_dim)
        q, k, v = qkv.split(self.head_dim, dim=-1)
        # QK-norm comes before RoPE, as in the official block.
        q = apply_rope_3d(self.q_norm(q), positions, rope_split, rope_theta, rope_quirk)
        k = apply_rope_3d(self.k_norm(k), positions, rope_split, rope_theta, rope_quirk)
        out = attn_fn(q, k, v)
        return self.wo(out.reshape(b, s, -1))


class CrossAttention(nn.Module):
    """Queries from video tokens, keys/values from text; wkv rows per head: [k_h; v_h]."""

    def __init__(self, dim: int, heads: int, head_dim: int):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.wq = nn.Linear(dim, dim, bias=False)
        self.wkv = nn.Linear(dim, 2 * dim, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)
        self.q_norm = RMSNorm(head_dim)
        self.k_norm = RMSNorm(head_dim)

    def forward(self, x, text, mask: torch.Tensor | None):
        b, s, _ = x.shape
        q = self.q_norm(self.wq(x).view(b, s, self.heads, self.head_dim))
        kv = self.wkv(text).view(b, text.shape[1], self.heads, 2 * self.head_dim)
        k, v = kv.split(self.head_dim, dim=-1)
        k = self.k_norm(k)
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask
        )
        return self.wo(out.transpose(1, 2).reshape(b, s, -1))


class GELUProj(nn.Module):
    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out, bias=False)

    def forward(self, x):
        return F.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    """net.0 = Linear+GELU(tanh), net.1 = Identity (dropout slot, no parameters), net.2 = Linear."""

    def __init__(self, dim: int, mult: int):
        super().__init__()
        self.net = nn.ModuleList([GELUProj(dim, mult * dim), nn.Identity(),
                                  nn.Linear(mult * dim, dim, bias=False)])

    def forward(self, x):
        for layer in self.net:
            x = layer(x)
        return x


class StepVideoTransformerBlock(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        d = cfg.inner_dim
        self.norm1 = nn.LayerNorm(d, eps=1e-5, elementwise_affine=True)
        self.attn1 = SelfAttention(d, cfg.num_attention_heads, cfg.attention_head_dim)
        self.norm2 = nn.LayerNorm(d, eps=1e-5, elementwise_affine=True)
        self.attn2 = CrossAttention(d, cfg.num_attention_heads, cfg.attention_head_dim)
        self.ff = FeedForward(d, cfg.ffn_mult)
        self.scale_shift_table = nn.Parameter(torch.randn(6, d) / d**0.5)
        self._rope = (tuple(cfg.rope_split), cfg.rope_theta)

    def forward(self, x, text, modulation, positions, cross_mask, attn_fn, rope_quirk=False):
        b, _, d = x.shape
        # Rows: shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp.
        mod = (self.scale_shift_table[None] + modulation.view(b, 6, d)).unsqueeze(2)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mod.unbind(1)
        h = self.norm1(x) * (1 + scale_msa) + shift_msa
        x = x + gate_msa * self.attn1(h, positions, *self._rope, attn_fn, rope_quirk)
        # Cross-attention: no norm, no modulation, no gate (official).
        x = x + self.attn2(x, text, cross_mask)
        h = self.norm2(x) * (1 + scale_mlp) + shift_mlp
        return x + gate_mlp * self.ff(h)


@dataclass
class DiTInputs:
    """Everything the blocks need, produced by `StepVideoModel.embed`."""

    tokens: torch.Tensor  # [B, S, d]
    text: torch.Tensor  # [B, K, d], K trimmed to the longest valid prefix
    cross_mask: torch.Tensor | None  # bool [B, 1, 1, K] or None when every key is valid
    modulation: torch.Tensor  # [B, 6d]
    conditioning: torch.Tensor  # [B, d]
    positions: torch.Tensor  # [S, 3]
    grid: tuple[int, int, int]  # (F, h/p, w/p)
    quirks: bool


class StepVideoModel(nn.Module):
    """The Step-Video transformer: Step-Video-TI2V, or Step-Video-T2V with
    `config.use_additional_conditions=False` (no image channels in the patch embed, no motion
    embedder: `condition_hidden_states` is refused and `motion_score` unused).

    `official_precision` (default True) reproduces the official bf16 precision quirks when the
    model runs in bf16: timestep*1000 rounded in bf16, cross-attention key length summed through
    bf16 (397 -> 396), RoPE angles cast to bf16 before cos/sin. In fp32 the quirks are no-ops.
    """

    def __init__(self, config: DiTConfig | None = None):
        super().__init__()
        cfg = config or DiTConfig()
        cfg.validate()
        self.config = cfg
        self.official_precision = True
        d = cfg.inner_dim
        llm_dim, clip_dim = cfg.caption_channels
        self.pos_embed = PatchEmbed(cfg.patch_in_channels, d, cfg.patch_size)
        self.transformer_blocks = nn.ModuleList(
            StepVideoTransformerBlock(cfg) for _ in range(cfg.num_layers)
        )
        self.norm_out = nn.LayerNorm(d, eps=cfg.norm_eps, elementwise_affine=False)
        self.scale_shift_table = nn.Parameter(torch.randn(2, d) / d**0.5)
        self.proj_out = nn.Linear(d, cfg.patch_size**2 * cfg.out_channels)
        self.adaln_single = AdaLayerNormSingle(d, cfg.sinusoid_dim, cfg.use_additional_conditions)
        self.caption_norm = nn.LayerNorm(llm_dim, eps=cfg.norm_eps, elementwise_affine=False)
        self.caption_projection = CaptionProjection(llm_dim, d)
        self.clip_projection = nn.Linear(clip_dim, d)

    # -- input checks -------------------------------------------------------------------------
    def _check_inputs(self, x, cond, y, clip, mask):
        cfg = self.config
        if x.dim() != 5:
            raise UserError(f"DiT hidden_states must be [B, F, C, h, w], got shape {tuple(x.shape)}")
        if x.shape[2] != cfg.in_channels:
            raise UserError(
                f"DiT expects latents with {cfg.in_channels} channels on axis 2, got "
                f"{x.shape[2]} (shape {tuple(x.shape)})",
                hint="latents are [B, F, C, h, w]; check the VAE's z_channels matches the DiT",
            )
        p = cfg.patch_size
        if x.shape[3] % p or x.shape[4] % p:
            raise UserError(f"latent h, w {tuple(x.shape[3:])} must be multiples of patch {p}")
        if not cfg.use_additional_conditions and cond is not None:
            raise UserError(
                "this DiT is text-to-video (use_additional_conditions is false): it takes no "
                "condition_hidden_states (image latent)",
                hint="leave the image latent out, or load a TI2V checkpoint for image conditioning",
            )
        if cfg.use_additional_conditions and not cfg.concatenates_image and cond is not None:
            raise UserError(
                f"this DiT takes the first image by {cfg.image_conditioning}: latent frame 0 of "
                "hidden_states is the image latent, there is no condition_hidden_states",
                hint="pass the noisy latent with frame 0 replaced (image_conditioning.branch_inputs)",
            )
        if cfg.concatenates_image:
            if cond is None:
                raise UserError("TI2V DiT needs condition_hidden_states (the image latent)")
            if cond.shape != x.shape:
                raise UserError(
                    f"condition_hidden_states shape {tuple(cond.shape)} != latent shape "
                    f"{tuple(x.shape)}"
                )
        if y.dim() != 3 or y.shape[-1] != cfg.caption_channels[0] or y.shape[0] != x.shape[0]:
            raise UserError(
                f"encoder_hidden_states must be [B={x.shape[0]}, L, {cfg.caption_channels[0]}], "
                f"got {tuple(y.shape)}"
            )
        if clip is None or clip.dim() != 3 or clip.shape[-1] != cfg.caption_channels[1]:
            got = None if clip is None else tuple(clip.shape)
            raise UserError(
                f"encoder_hidden_states_2 (CLIP) must be [B, 77, {cfg.caption_channels[1]}], got {got}"
            )
        if mask is not None and mask.shape != (x.shape[0], clip.shape[1] + y.shape[1]):
            raise UserError(
                f"encoder_attention_mask must be [B, {clip.shape[1] + y.shape[1]}] "
                f"(CLIP tokens then LLM tokens), got {tuple(mask.shape)}"
            )

    # -- forward pieces -----------------------------------------------------------------------
    def embed(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        encoder_hidden_states_2: torch.Tensor | None,
        timestep: torch.Tensor | float,
        encoder_attention_mask: torch.Tensor | None = None,
        motion_score: torch.Tensor | float = 5.0,
        condition_hidden_states: torch.Tensor | None = None,
    ) -> DiTInputs:
        cfg = self.config
        x, y, clip = hidden_states, encoder_hidden_states, encoder_hidden_states_2
        self._check_inputs(x, condition_hidden_states, y, clip, encoder_attention_mask)
        b, f, _, h, w = x.shape
        dtype = self.pos_embed.proj.weight.dtype
        device = x.device
        quirks = self.official_precision and dtype == torch.bfloat16

        if cfg.concatenates_image:
            x = torch.cat([x, condition_hidden_states], dim=2)  # [x_t ; cond] on channels
        tokens = self.pos_embed(x.to(dtype))

        t = torch.as_tensor(timestep, device=device)
        t = t.reshape(-1).expand(b) if t.numel() == 1 else t.reshape(b)
        # Official: t * 1000 happens in the timestep's dtype, which the pipeline makes bf16.
        t = t.to(dtype) * cfg.time_step_rescale if quirks else t.float() * cfg.time_step_rescale
        motion = None
        if cfg.use_additional_conditions:
            motion = torch.as_tensor(motion_score, device=device)
            motion = motion.reshape(-1).expand(b) if motion.numel() == 1 else motion.reshape(b)
            motion = motion.to(dtype) if quirks else motion.float()
        modulation, conditioning = self.adaln_single(t, motion)

        y = self.caption_projection(self.caption_norm(y.to(dtype)))
        text = torch.cat([self.clip_projection(clip.to(dtype)), y], dim=1)

        cross_mask = None
        if encoder_attention_mask is not None:
            sums = encoder_attention_mask.to(device).float().sum(dim=1)
            if quirks:
                sums = sums.to(torch.bfloat16)  # official sums a bf16 mask: 397 -> 396
            kv_len = sums.to(torch.int64)
            max_len = int(kv_len.max())
            text = text[:, :max_len]
            if int(kv_len.min()) < max_len:
                keep = torch.arange(max_len, device=device)[None] < kv_len[:, None]
                cross_mask = keep[:, None, None, :]

        positions = grid_positions(f, h // cfg.patch_size, w // cfg.patch_size, device=device)
        return DiTInputs(tokens, text, cross_mask, modulation, conditioning, positions,
                         (f, h // cfg.patch_size, w // cfg.patch_size), quirks)

    def run_blocks(self, tokens, inputs: DiTInputs, positions=None, attn_fn: AttnFn | None = None):
        """Apply all blocks; `positions` / `attn_fn` let a sequence-parallel wrapper run a shard."""
        positions = inputs.positions if positions is None else positions
        attn_fn = attn_fn or sdpa_attention
        for block in self.transformer_blocks:
            tokens = block(tokens, inputs.text, inputs.modulation, positions, inputs.cross_mask,
                           attn_fn, inputs.quirks)
        return tokens

    def finalize(self, tokens: torch.Tensor, inputs: DiTInputs) -> torch.Tensor:
        cfg = self.config
        b = tokens.shape[0]
        f, hp, wp = inputs.grid
        p, c = cfg.patch_size, cfg.out_channels
        shift, scale = (self.scale_shift_table[None] + inputs.conditioning[:, None]).unbind(1)
        x = self.norm_out(tokens) * (1 + scale[:, None]) + shift[:, None]
        x = self.proj_out(x)  # [B, S, p*p*C]
        x = x.view(b, f, hp, wp, p, p, c).permute(0, 1, 6, 2, 4, 3, 5)
        return x.reshape(b, f, c, hp * p, wp * p)

    def forward(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        encoder_hidden_states_2: torch.Tensor | None = None,
        timestep: torch.Tensor | float = 0.0,
        encoder_attention_mask: torch.Tensor | None = None,
        motion_score: torch.Tensor | float = 5.0,
        condition_hidden_states: torch.Tensor | None = None,
        attn_fn: AttnFn | None = None,
    ) -> torch.Tensor:
        """Velocity prediction [B, F, C, h, w] for latents [B, F, C, h, w].

        timestep is the flow time in [0, 1) (0 = pure noise); it is scaled by 1000 inside.
        """
        inputs = self.embed(hidden_states, encoder_hidden_states, encoder_hidden_states_2,
                            timestep, encoder_attention_mask, motion_score,
                            condition_hidden_states)
        tokens = self.run_blocks(inputs.tokens, inputs, attn_fn=attn_fn)
        return self.finalize(tokens, inputs)

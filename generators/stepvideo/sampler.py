"""Flow-matching Euler sampler of Step-Video(-TI2V), with classifier-free guidance.

Conventions follow the official scheduler (docs/stepvideo-architecture.md section 4):
flow time sigma runs from 0 (pure noise) to 1 (data), x_sigma = sigma * x_data + (1 - sigma) * eps,
the model predicts v ~ x_data - eps, and one Euler step is x += v * (sigma_next - sigma).

Where this sampler departs from the official code, on purpose:
- Seeded noise. Upstream draws the initial noise from a fresh, *unseeded* `torch.Generator`
  (default seed 67280421310721), so its `--seed` changes nothing and every run starts from the same
  noise. Here the noise comes from `torch.Generator("cpu").manual_seed(seed)`: different seeds give
  different videos, and the noise is identical on every device and every parallel rank.
- cfg_scale <= 1 runs the conditional branch only (batch of one, no negative prompt), as diffusers
  does; upstream always batches cond + uncond and its guidance code breaks for such scales.
- Precision. The sigma grid is float64 and guidance is combined in fp32. Upstream keeps its grid in
  fp32, combines guidance in the model dtype (bf16) and, even in fp32 runs, rounds the initial noise
  (and the image latent, and every VAE GroupNorm output) through bf16. `numerics="official"`
  (`NUMERICS`) mirrors those casts, so a run can be compared with an official one bit for bit; the
  networks themselves are the same either way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from stepeval.errors import UserError

# v = velocity(x_in_model_dtype, sigma) for one model evaluation; returns the guided velocity.
VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
StepCallback = Callable[[int, int], None]


def check_steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise UserError(f"steps must be a positive integer, got {steps!r}",
                        hint="use e.g. steps=50 (official) or 30 for faster drafts")
    return steps


def check_shift(shift: float) -> float:
    shift = float(shift)
    if not math.isfinite(shift) or shift <= 0:
        raise UserError(f"time_shift must be a positive number, got {shift!r}",
                        hint="the official TI2V value is 13.0")
    return shift


def check_cfg_scale(scale: float) -> float:
    scale = float(scale)
    if not math.isfinite(scale) or scale < 0:
        raise UserError(f"cfg_scale must be a finite number >= 0, got {scale!r}",
                        hint="the official value is 9.0; 1.0 (or less) disables guidance")
    return scale


STEPEVAL, OFFICIAL = "stepeval", "official"
NUMERICS = (STEPEVAL, OFFICIAL)


def check_numerics(numerics: str) -> str:
    if numerics not in NUMERICS:
        raise UserError(f"numerics must be one of {', '.join(NUMERICS)}, got {numerics!r}",
                        hint="'official' mirrors the upstream code's casts (to compare with an official run bit for bit)")
    return numerics


def flow_sigmas(steps: int, shift: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The official sigma grid: steps + 1 values rising from 0 (noise) to 1 (data), in `dtype`
    (float64 here; upstream computes it in fp32).

    u_i = 1 - i/N, s(u) = k u / (1 + (k - 1) u), sigma_i = 1 - s(u_i). A large shift k crowds the
    steps near the noise end (k = 13, N = 50: 0, 0.00157, ..., 0.6487, 0.7903, 1).
    """
    steps, k = check_steps(steps), check_shift(shift)
    u = 1.0 - torch.arange(steps + 1, dtype=dtype) / steps
    return 1.0 - k * u / (1.0 + (k - 1.0) * u)


def euler_step(x: torch.Tensor, v: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
    """One Euler step in fp32, whatever dtype the model answered in."""
    return x.float() + v.float() * float(sigma_next - sigma)


def initial_noise(shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float32,
                  device: torch.device | str = "cpu", numerics: str = STEPEVAL) -> torch.Tensor:
    """fp32 noise that depends on `seed` only (drawn on the CPU, then moved).

    When the model runs in bf16 the noise is rounded through bf16, as upstream draws it in bf16;
    the latent state itself stays fp32 from here on. With official numerics it is rounded in fp32
    runs too (upstream draws it in bf16 whatever the model dtype).
    """
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    noise = torch.randn(shape, generator=gen, dtype=torch.float32)
    if dtype == torch.bfloat16 or check_numerics(numerics) == OFFICIAL:
        noise = noise.to(torch.bfloat16).float()
    return noise.to(device)


def guided(v_cond: torch.Tensor, v_uncond: torch.Tensor, scale: float, numerics: str = STEPEVAL) -> torch.Tensor:
    """v = v_u + w (v_c - v_u), computed in fp32 (official numerics: in the model's dtype, as upstream)."""
    if check_numerics(numerics) == OFFICIAL:
        return (v_uncond + scale * (v_cond - v_uncond)).float()
    v_cond, v_uncond = v_cond.float(), v_uncond.float()
    return v_uncond + scale * (v_cond - v_uncond)


def uses_guidance(cfg_scale: float) -> bool:
    return check_cfg_scale(cfg_scale) > 1.0


@dataclass
class SamplerSettings:
    steps: int = 50
    time_shift: float = 13.0
    cfg_scale: float = 9.0

    def validate(self) -> "SamplerSettings":
        check_steps(self.steps)
        check_shift(self.time_shift)
        check_cfg_scale(self.cfg_scale)
        return self

    @property
    def guidance(self) -> bool:
        return uses_guidance(self.cfg_scale)


def euler_sample(velocity: VelocityFn, noise: torch.Tensor, sigmas: torch.Tensor,
                 model_dtype: torch.dtype, callback: StepCallback | None = None) -> torch.Tensor:
    """Integrate from sigma_0 to sigma_N. The state stays fp32; the model sees `model_dtype`.

    `velocity(x, sigma)` gets the latent cast to the model dtype and sigma as a 0-d fp32 tensor
    (the DiT itself reproduces the official bf16 rounding of sigma * 1000).
    """
    x = noise.float()
    n = len(sigmas) - 1
    for i in range(n):
        sigma, sigma_next = float(sigmas[i]), float(sigmas[i + 1])
        t = torch.tensor(sigma, dtype=torch.float32, device=x.device)
        v = velocity(x.to(model_dtype), t)
        x = euler_step(x, v, sigma, sigma_next)
        if callback is not None:
            callback(i + 1, n)
    return x

"""The flow-matching sampler: official schedule, Euler arithmetic, seeds, guidance arithmetic."""

from __future__ import annotations

import math

import pytest
import torch

from generators.stepvideo import sampler
from stepeval.errors import UserError


def test_schedule_matches_the_official_list_for_shift_13_and_50_steps():
    s = sampler.flow_sigmas(50, 13.0)
    assert s.shape == (51,)
    # docs/stepvideo-architecture.md section 4: 0, 0.00157, 0.00319, ..., 0.6487, 0.7903, 1.0
    assert s[0].item() == 0.0 and s[-1].item() == 1.0
    assert s[1].item() == pytest.approx(0.00157, abs=5e-6)
    assert s[2].item() == pytest.approx(0.00319, abs=6e-6)
    assert s[-3].item() == pytest.approx(0.6487, abs=1e-4)  # 0.648649: the official list rounds up
    assert s[-2].item() == pytest.approx(0.7903, abs=5e-5)
    assert bool((s[1:] > s[:-1]).all()), "sigma must rise strictly from noise (0) to data (1)"
    # Shift 13 crowds the steps near the noise end: half the steps are spent below sigma 0.08.
    assert s[25].item() < 0.08


def test_shift_one_is_the_uniform_grid():
    assert torch.allclose(sampler.flow_sigmas(4, 1.0), torch.tensor([0, 0.25, 0.5, 0.75, 1.0],
                                                                     dtype=torch.float64))


def test_one_euler_step_matches_hand_computation():
    s = sampler.flow_sigmas(50, 13.0)
    sigma1 = 1 - 13 * 0.98 / (1 + 12 * 0.98)  # = 0.02 / 12.76
    assert s[1].item() == pytest.approx(sigma1, rel=1e-12)
    x = torch.tensor([[1.0, -2.0]])
    v = torch.tensor([[0.5, 4.0]], dtype=torch.bfloat16)  # the model may answer in bf16
    out = sampler.euler_step(x, v, s[0].item(), s[1].item())
    assert out.dtype == torch.float32
    assert out.tolist()[0] == pytest.approx([1 + 0.5 * sigma1, -2 + 4 * sigma1], rel=1e-6)


def test_sampler_keeps_fp32_state_and_feeds_the_model_its_dtype():
    seen = []

    def velocity(x, t):
        seen.append((x.dtype, t.dtype, t.item()))
        return torch.full_like(x, 0.25)  # constant velocity: the sum telescopes to 0.25 * (1 - 0)

    noise = torch.zeros(1, 3, 2, 2, 2)
    out = sampler.euler_sample(velocity, noise, sampler.flow_sigmas(7, 13.0), torch.bfloat16)
    assert out.dtype == torch.float32
    assert torch.allclose(out, torch.full_like(out, 0.25), atol=1e-6)
    assert [d for d, _, _ in seen] == [torch.bfloat16] * 7
    assert seen[0][2] == 0.0 and all(t == torch.float32 for _, t, _ in seen)


def test_noise_depends_on_the_seed_only():
    a = sampler.initial_noise((1, 3, 4, 2, 2), seed=7)
    assert torch.equal(a, sampler.initial_noise((1, 3, 4, 2, 2), seed=7))
    assert not torch.allclose(a, sampler.initial_noise((1, 3, 4, 2, 2), seed=8))
    b = sampler.initial_noise((1, 3, 4, 2, 2), seed=7, dtype=torch.bfloat16)
    assert b.dtype == torch.float32 and torch.equal(b, a.to(torch.bfloat16).float())


def test_guidance_formula_and_scale_one_means_no_guidance():
    c, u = torch.tensor([3.0]), torch.tensor([1.0])
    assert sampler.guided(c, u, 9.0).item() == pytest.approx(1 + 9 * 2)
    assert not sampler.uses_guidance(1.0) and not sampler.uses_guidance(0.5)
    assert sampler.uses_guidance(1.5)


@pytest.mark.parametrize("steps", [0, -3, 2.5, True])
def test_bad_step_counts_are_user_errors(steps):
    with pytest.raises(UserError, match="steps must be a positive integer"):
        sampler.flow_sigmas(steps, 13.0)


@pytest.mark.parametrize("value", [math.nan, -1.0, math.inf])
def test_bad_cfg_scale_and_shift_are_user_errors(value):
    with pytest.raises(UserError, match="cfg_scale"):
        sampler.check_cfg_scale(value)
    with pytest.raises(UserError, match="time_shift"):
        sampler.flow_sigmas(10, value)

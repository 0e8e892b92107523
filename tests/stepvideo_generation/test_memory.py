"""The analytical planner: parameter counts and token counts of docs/stepvideo-architecture.md,
FLOPs, fit decisions."""

from __future__ import annotations

import pytest
import torch

from generators.stepvideo import memory
from generators.stepvideo.conditioning import resolve_geometry
from generators.stepvideo.config import get_preset
from stepeval.errors import UserError


@pytest.fixture(scope="module")
def official():
    return get_preset("official")


def test_parameter_counts_match_the_spec(official):
    assert memory.dit_params(official.dit) == 29_382_205_504
    assert memory.dit_block_params(official.dit) == 604_041_728
    assert memory.vae_params(official.vae) == 498_818_819
    assert memory.llm_params(official.llm) == pytest.approx(19.58e9, rel=2e-3)


@pytest.mark.parametrize("frames,h,w,tokens", [(102, 544, 992, 37_944), (204, 544, 992, 75_888),
                                               (204, 768, 768, 82_944)])
def test_latent_grid_matches_the_spec_table(frames, h, w, tokens):
    assert resolve_geometry(frames, h, w).tokens == tokens


def test_official_plan(official):
    plan = memory.plan_memory(official, latent_shape=(18, 34, 62), steps=50, guidance=True,
                              dtype=torch.bfloat16, free_bytes=80 * 10**9, device="cuda:0")
    assert plan.weights["DiT"] == 2 * 29_382_205_504
    assert plan.batch_per_rank == 2 and plan.tokens == 37_944
    # bf16 DiT + Step-LLM alone exceed 80 GB, so everything-resident cannot fit one H100 ...
    assert not plan.fits("none")
    # ... moving each network in for its stage does, and streaming blocks needs less still.
    assert plan.fits("model") and plan.peak("blocks") < plan.peak("model")
    assert "does NOT fit" in plan.render() and "37,944 tokens" in plan.render()
    # CFG parallel halves the per-rank batch; SP splits tokens and FLOPs per rank.
    par = memory.plan_memory(official, latent_shape=(18, 34, 62), steps=50, guidance=True,
                             dtype=torch.bfloat16, sp_degree=4, cfg_degree=2)
    assert par.batch_per_rank == 1 and par.tokens_per_rank == 9_486
    assert par.flops_per_step == pytest.approx(plan.flops_per_step / 8)
    assert par.flops_total == pytest.approx(plan.flops_total)


def test_flops_grow_with_attention(official):
    f1 = memory.dit_flops_per_forward(official.dit, 37_944)
    f2 = memory.dit_flops_per_forward(official.dit, 75_888)
    assert 2 < f2 / f1 < 4  # linear layers double, attention quadruples


def test_choose_offload_rejects_unknown_modes(official):
    plan = memory.plan_memory(get_preset("tiny"), latent_shape=(3, 3, 5), steps=2, guidance=True,
                              dtype=torch.float32, free_bytes=10**12)
    assert memory.choose_offload(plan, "auto") == "none"
    with pytest.raises(UserError, match="unknown offload"):
        memory.choose_offload(plan, "disk")
    plan.free_bytes = 10**6
    with pytest.raises(UserError, match="does not fit"):
        memory.choose_offload(plan, "auto")

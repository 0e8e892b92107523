"""The memory planner against the only published peaks (Step-Video-T2V README), and its terms."""

from __future__ import annotations

import pytest
import torch

from generators.stepvideo import memory
from generators.stepvideo.config import get_preset


@pytest.mark.parametrize("frames,h,w,published_gb,_secs", memory.PUBLISHED_T2V)
def test_planner_is_within_5_percent_of_each_published_peak(frames, h, w, published_gb, _secs):
    plan = memory.published_t2v_plan(frames, h, w)
    assert plan.device_peak("model") / 1e9 == pytest.approx(published_gb, rel=0.05)


def test_the_published_setting_is_the_dit_alone_on_four_gpus():
    plan = memory.published_t2v_plan(204, 768, 768)
    assert plan.weights["DiT"] == 2 * 29_342_478_400  # T2V count of the spec
    assert plan.tokens == 82_944 and plan.tokens_per_rank == 82_944 // 4 and plan.batch_per_rank == 2
    # The peak is the denoise stage: the text encoders and the VAE are not on these GPUs.
    stages = plan.stage_peaks["model"]
    assert max(stages, key=stages.get) == "denoise"


def test_cross_attention_mask_term_follows_upstream_shapes():
    cfg = get_preset("official").dit
    # [B, H, S, K] bool + additive bf16 + bf16 padded to 16: 1 + 2 bytes of K, 2 bytes of K rounded up.
    got = memory.official_cross_mask_bytes(cfg, batch=2, tokens_local=1000, text_tokens=397)
    assert got == 2 * 1000 * 48 * (397 * 3 + 400 * 2)
    # Already aligned: no padding beyond K.
    assert memory.official_cross_mask_bytes(cfg, 1, 1, 400) == 48 * 400 * 5
    official = memory.published_t2v_plan(136, 544, 992)
    assert official.cross_mask_bytes > 0
    # The in-repo DiT passes a [B, 1, 1, K] mask (or none), so its plan has no such term.
    import dataclasses

    from generators.stepvideo.conditioning import resolve_geometry

    t2v = get_preset("official")
    t2v.dit = dataclasses.replace(t2v.dit, use_additional_conditions=False)
    ours = memory.plan_memory(t2v, latent_shape=resolve_geometry(136, 544, 992).latent_shape, steps=50,
                              guidance=True, dtype=torch.bfloat16, sp_degree=4, device="cuda")
    assert ours.cross_mask_bytes == 0
    assert official.dit_activation_bytes - ours.dit_activation_bytes == official.cross_mask_bytes


@pytest.mark.parametrize("sp,cfg_degree,peers", [(1, 1, 0), (2, 1, 2), (4, 1, 5), (8, 1, 9), (4, 2, 6)])
def test_nccl_buffers_grow_with_the_peers_each_collective_reaches(sp, cfg_degree, peers):
    overhead = memory.process_overhead("cuda:0", sp * cfg_degree, sp, cfg_degree)
    assert overhead["CUDA context"] == memory.CUDA_CONTEXT_BYTES
    assert overhead.get("NCCL connections", 0) == peers * memory.NCCL_BYTES_PER_PEER
    assert memory.process_overhead("cpu", sp * cfg_degree, sp, cfg_degree) == {}


def test_fit_counts_nccl_buffers_but_not_the_context_already_outside_free_memory():
    plan = memory.published_t2v_plan(136, 544, 992)
    nccl = plan.overhead["NCCL init"] + plan.overhead["NCCL connections"]
    plan.free_bytes = int((plan.peak("model") + memory.RESERVE_BYTES + nccl) / (1 - memory.RESERVE_FRACTION)) + 10**6
    assert plan.fits("model")
    plan.free_bytes -= nccl
    assert not plan.fits("model")
    assert plan.device_peak("model") == plan.peak("model") + sum(plan.overhead.values())

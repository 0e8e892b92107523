"""benchmarks/protocol_estimate.py: the on-paper cost of the full protocol follows from its inputs
(the planner's FLOPs, a rate, the shard layout) the way the model says, and the script runs."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def est():
    spec = importlib.util.spec_from_file_location("protocol_estimate", REPO / "benchmarks" / "protocol_estimate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["protocol_estimate"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def video_and_plan(est):
    return est.per_video(8, rate_tflops=350.0, decode_flops=1.6e15, write_s=2.0, seconds_per_step=None)


def test_denoise_time_is_the_planners_flops_at_the_rate_and_a_measured_step_replaces_it(est, video_and_plan):
    video, plan = video_and_plan
    assert video.denoise == pytest.approx(est.STEPS * plan.flops_per_step / 350e12)
    assert plan.flops_per_step == pytest.approx(plan.flops_total / est.STEPS / 8)  # CFG batch split over SP=8
    measured, _ = est.per_video(8, rate_tflops=350.0, decode_flops=1.6e15, write_s=2.0, seconds_per_step=3.0)
    assert measured.denoise == est.STEPS * 3.0 and measured.vae_decode == video.vae_decode


def test_more_gpus_cut_the_wall_time_by_the_shard_count_and_leave_the_work_unchanged(est, video_and_plan):
    video, plan = video_and_plan
    runs = {g: est.estimate(g, 8, video, plan, read_gbps=2.0, startup_s=30.0, vbench_s=9.0) for g in (8, 64, 256)}
    videos = est.ITEMS * est.MOTION_SETTINGS
    for g, e in runs.items():
        assert e.groups == g // 8 and e.videos_per_group == math.ceil(videos / e.groups)
        assert e.stage_wall_s["denoise"] == pytest.approx(e.videos_per_group * video.denoise)
        assert e.wall_s == pytest.approx(sum(e.stage_wall_s.values()))
        assert e.stage_wall_s["load"] == runs[8].stage_wall_s["load"]  # every shard loads once, in parallel
    assert runs[8].wall_s > runs[64].wall_s > runs[256].wall_s
    # The videos cost the same GPU-hours however they are spread; only loading grows with the shards.
    for stage in ("denoise", "VAE decode", "write", "VBench"):
        assert runs[8].stage_gpu_hours[stage] == pytest.approx(runs[256].stage_gpu_hours[stage])
    assert runs[256].stage_gpu_hours["load"] == pytest.approx(32 * runs[8].stage_gpu_hours["load"])
    with pytest.raises(ValueError):
        est.estimate(12, 8, video, plan, read_gbps=2.0, startup_s=30.0, vbench_s=9.0)


@pytest.mark.slow
def test_the_script_prints_the_table_and_writes_the_numbers(est, tmp_path, capsys):
    out = tmp_path / "estimate.json"
    est.main(["--gpus", "8", "64", "--mfu", "0.35", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "| H100s |" in printed and "| 64 | 8 | 112 |" in printed
    numbers = json.loads(out.read_text())
    assert [e["gpus"] for e in numbers["estimates"]] == [8, 64]
    assert numbers["rate_tflops"] == pytest.approx(0.35 * est.H100_BF16_DENSE_TFLOPS)
    assert numbers["per_video_s"]["vae_decode"] > 0  # the decoder's FLOPs were counted, not assumed

"""The cost model behind `stepeval vbench check`: work per video from vbench's sampling rules, growth
with frame size, and the estimate on CPUs and GPUs (no VBench environment needed)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepeval.metrics.aggregate import DIMENSION_KEYS
from stepeval.metrics.vbench_cost import (
    REFERENCE_VIDEO,
    CostTable,
    Measured,
    Workload,
    estimate,
    estimate_all,
    load_costs,
    size_scale,
    units_per_video,
)

FIXED_INPUT = ("background_consistency", "aesthetic_quality", "i2v_background", "i2v_subject", "camera_motion")


def _table(**over) -> CostTable:
    dims = {d: Measured(load_s=10.0, cpu_s_per_unit=0.5, gflop_per_unit=20.0, peak_rss_mb=2048.0) for d in DIMENSION_KEYS}
    dims.update(over)
    return CostTable(size=(64, 64), fps=8.0, frames=5, uptime="", dimensions=dims, source=None)


def test_the_shipped_table_covers_all_nine_dimensions():
    table = load_costs()
    assert set(table.dimensions) == set(DIMENSION_KEYS)
    assert all(m.cpu_s_per_unit > 0 and m.peak_rss_mb > 0 for m in table.dimensions.values())
    assert all(m.gflop_per_unit is None or m.gflop_per_unit > 0 for m in table.dimensions.values())


def test_without_counted_flops_the_gpu_estimate_says_so():
    table = _table(dynamic_degree=Measured(1.0, 0.5, None, 1024.0))
    e = estimate("dynamic_degree", Workload(4, 544, 992, 102, 25.0), ["cuda:0"], table=table)
    assert e.seconds_per_video > 0 and "FLOPs not counted" in e.basis and math.isnan(e.gflop_per_video)


def test_units_follow_vbench_sampling():
    # 102 frames at 25 fps: RAFT sees every third frame (round(25 / 8) = 3), 34 frames, 33 pairs
    assert units_per_video("dynamic_degree", 102, 25.0) == 33
    # AMT interpolates between the 51 even frames: 50 pairs
    assert units_per_video("motion_smoothness", 102, 25.0) == 50
    assert units_per_video("i2v_subject", 102, 25.0) == 103  # the input image is embedded too
    assert units_per_video("aesthetic_quality", 102, 25.0) == 102


@given(st.sampled_from(DIMENSION_KEYS), st.integers(2, 400), st.floats(1.0, 60.0))
def test_units_never_shrink_with_more_frames(dim, frames, fps):
    assert 1 <= units_per_video(dim, frames, fps) <= units_per_video(dim, frames + 1, fps) <= frames + 2


@given(st.integers(16, 2048), st.integers(16, 2048))
def test_size_scale(h, w):
    for dim in FIXED_INPUT:
        assert size_scale(dim, h, w, (64, 64)) == 1.0
    assert size_scale("dynamic_degree", h, w, (64, 64)) == pytest.approx(h * w / 4096)
    # MUSIQ never sees more than 512 pixels on the long side, and has fixed 224 and 384 copies
    assert 0 < size_scale("imaging_quality", h, w, (64, 64)) <= (256 + 49 + 144) / (4 + 49 + 144) + 1e-9
    assert size_scale("subject_consistency", h, w, (64, 64)) == pytest.approx(max(h, w) / min(h, w))


def test_estimates_divide_over_devices_and_gpus_use_flops():
    table = _table()
    work = Workload(8, 544, 992, 102, 25.0)
    one = estimate("aesthetic_quality", work, ["cpu"], table=table)
    assert one.seconds_per_video == pytest.approx(0.5 * 102)
    two = estimate("aesthetic_quality", work, ["cuda:0", "cuda:1"], table=table, gpu_tflops=10.0)
    assert two.device == "cuda" and two.devices == 2
    assert two.seconds_per_video == pytest.approx(20.0 * 102 / 10_000)
    assert two.seconds < one.seconds
    four = estimate("aesthetic_quality", work, [f"cuda:{i}" for i in range(4)], table=table, gpu_tflops=10.0)
    assert four.seconds - four.seconds_per_video * 2 == pytest.approx(two.seconds - two.seconds_per_video * 4)
    assert "assumed 10 TFLOP/s" in two.basis
    assert estimate("aesthetic_quality", Workload(0), ["cpu"], table=table).seconds == 0


def test_needs_say_gpu_when_a_video_takes_long_on_cpu():
    fast = Measured(1.0, 0.001, 1.0, 512.0)
    slow = Measured(1.0, 5.0, 1.0, 9000.0)
    table = _table(dynamic_degree=fast, aesthetic_quality=slow)
    work = Workload(1, *REFERENCE_VIDEO)
    by = {e.dimension: e for e in estimate_all(["dynamic_degree", "aesthetic_quality"], work, ["cpu"], table=table)}
    assert by["dynamic_degree"].needs.startswith("CPU ok")
    assert by["aesthetic_quality"].needs.startswith("GPU advised") and "8.8 GB" in by["aesthetic_quality"].needs
    assert math.isfinite(by["aesthetic_quality"].gflop_per_video)

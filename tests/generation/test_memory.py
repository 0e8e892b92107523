"""The peak-memory meter measures each video on its own, never the process's lifetime peak."""

from __future__ import annotations

import numpy as np
import pytest

from stepeval.generation.memory import PeakMemory, reset_rss_peak

MIB = 2**20


def _touch(nbytes: int) -> int:
    # np.ones writes every page, so the pages are resident (np.empty would only reserve them).
    block = np.ones(nbytes // 8, dtype=np.float64)
    return int(block.sum())


def test_a_small_video_after_a_big_one_reports_a_small_peak():
    if not reset_rss_peak():
        pytest.skip("/proc/self/clear_refs is not writable here: a per-video CPU peak cannot be measured")
    with PeakMemory("cpu") as big:
        _touch(400 * MIB)
    with PeakMemory("cpu") as small:
        _touch(8 * MIB)
    assert big.bytes is not None and small.bytes is not None
    # The second peak is the resident set plus a little, not the first video's 400 MiB again.
    assert big.bytes - small.bytes > 300 * MIB


def test_bytes_is_fixed_when_the_stretch_ends():
    if not reset_rss_peak():
        pytest.skip("/proc/self/clear_refs is not writable here")
    with PeakMemory("cpu") as meter:
        _touch(32 * MIB)
    after = meter.bytes
    _touch(256 * MIB)
    assert meter.bytes == after


def test_no_per_video_measure_is_none(monkeypatch):
    import stepeval.generation.memory as memory

    monkeypatch.setattr(memory, "_CLEAR_REFS", "/nonexistent/clear_refs")
    with PeakMemory("cpu") as meter:
        _touch(MIB)
    assert meter.bytes is None
    with PeakMemory("mps") as other:
        pass
    assert other.bytes is None


def test_cuda_peaks_are_per_video():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    with PeakMemory("cuda") as big:
        block = torch.ones(256 * MIB // 4, device="cuda")
        del block
    with PeakMemory(torch.device("cuda", 0)) as small:
        block = torch.ones(4 * MIB // 4, device="cuda")
        del block
    assert big.bytes - small.bytes >= 200 * MIB

"""Shared fixtures: the real benchmark copy in ../shared, synthetic videos, a browser."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STEPEVAL_SHARED", REPO.parent / "shared"))
STEP_EVAL = SHARED / "benchmark" / "Step-Video-TI2V-Eval"
ARTIFACTS = Path(os.environ.get("STEPEVAL_TEST_ARTIFACTS", REPO / "test-artifacts"))


@pytest.fixture(scope="session")
def step_eval_root() -> Path:
    if not STEP_EVAL.is_dir():
        pytest.skip(f"shared benchmark copy not found at {STEP_EVAL} (set STEPEVAL_SHARED); CI always has it")
    return STEP_EVAL


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def smooth_pattern(frames: int, height: int, width: int) -> np.ndarray:
    """A smooth moving colour pattern: H.264 reproduces it closely, so pixel error is meaningful."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        out[t, ..., 0] = 127 + 100 * np.sin((x + 6 * t) / 45.0)
        out[t, ..., 1] = 127 + 100 * np.cos((y + 3 * t) / 60.0)
        out[t, ..., 2] = 127 + 60 * np.sin((x + y) / 90.0 + t / 5.0)
    return out


@pytest.fixture
def pattern():
    return smooth_pattern

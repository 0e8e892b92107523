"""The shared copy of Step-Video-T2V-Eval (../shared/benchmark/Step-Video-T2V-Eval) and writable copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SHARED

T2V_EVAL = SHARED / "benchmark" / "Step-Video-T2V-Eval"


@pytest.fixture(scope="session")
def t2v_root() -> Path:
    if not (T2V_EVAL / "Step-Video-T2V-Eval").is_file():
        pytest.skip(f"shared Step-Video-T2V-Eval copy not found at {T2V_EVAL} (set STEPEVAL_SHARED); CI always has it")
    return T2V_EVAL


@pytest.fixture
def t2v_copy(t2v_root, tmp_path) -> Path:
    """A writable copy of the shared folder (the shared one is read-only)."""
    dst = tmp_path / "Step-Video-T2V-Eval"
    dst.mkdir()
    for name in ("Step-Video-T2V-Eval", "categories-inferred.csv"):
        shutil.copyfile(t2v_root / name, dst / name)
    return dst

"""What the VBench tests share: the VBench environment (or why it is missing) and which dimensions
can run here.

camera_motion needs CoTracker's torch.hub code (github.com/facebookresearch/co-tracker at the commit
vbench_weights.json pins). No package registry ships it, this machine cannot reach GitHub, and its
licence (CC BY-NC 4.0) keeps a copy out of the repository: the tests run camera_motion when
$STEPEVAL_COTRACKER_HUB points at a copy of that commit, and the eight other dimensions always."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stepeval.errors import UserError
from stepeval.metrics.aggregate import DIMENSION_KEYS
from stepeval.metrics.testing import COTRACKER_HUB_ENV
from stepeval.metrics.vbench_env import VBenchEnv, load_env

COTRACKER_HUB = Path(os.environ[COTRACKER_HUB_ENV]) if os.environ.get(COTRACKER_HUB_ENV) else None
RUNNABLE_DIMS = tuple(d for d in DIMENSION_KEYS if COTRACKER_HUB or d != "camera_motion")
NO_HUB = f"camera_motion needs CoTracker's hub code: set {COTRACKER_HUB_ENV} to a copy of the pinned co-tracker commit"


def require_vbench_env(verify: bool = True) -> VBenchEnv:
    """The VBench environment (`verify`: its packages checked by running it); skipped without it,
    except under CI=true, where a missing one fails."""
    try:
        return load_env(verify=verify)
    except UserError as exc:
        msg = f"VBench environment not available ({exc}); create it with `bash scripts/ci_vbench.sh`"
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true: " + msg)
        pytest.skip(msg)

"""Shared fixtures: one tiny random hub-layout checkpoint per session (sharded, a few MB)."""

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    from generators.stepvideo.testing import write_random_checkpoint

    path = tmp_path_factory.mktemp("stepvideo_tiny")
    # Small shards so the sharded (index json) path is exercised.
    return write_random_checkpoint(path, preset="tiny", seed=0, max_shard_size="200KB")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)

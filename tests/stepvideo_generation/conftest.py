"""Fixtures: one tiny random Step-Video-TI2V checkpoint (hub layout) and a loaded generator,
shared by the whole sub-suite so the weights are written and read once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Small enough that a 3-step sample with CFG takes well under a second on 2 cores.
TINY = dict(frames=17, height=48, width=80, steps=3)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from generators.stepvideo.testing import write_random_checkpoint

    path = tmp_path_factory.mktemp("stepvideo") / "tiny"
    write_random_checkpoint(path, preset="tiny", seed=0)
    return path


@pytest.fixture(scope="session")
def first_image(tmp_path_factory) -> Path:
    """A 4:3 RGBA PNG, like the benchmark's images (resize-to-cover and crop both act on it)."""
    y, x = np.mgrid[0:120, 0:160].astype(np.float32)
    rgba = np.stack([127 + 100 * np.sin(x / 17), 127 + 100 * np.cos(y / 13),
                     (x + y) % 256, np.full_like(x, 255)], axis=-1).astype(np.uint8)
    path = tmp_path_factory.mktemp("images") / "first.png"
    Image.fromarray(rgba, "RGBA").save(path)
    return path


@pytest.fixture(scope="session")
def tiny_generator(tiny_model_dir):
    from generators.stepvideo.generator import StepVideoTI2V

    gen = StepVideoTI2V(tiny_model_dir, dtype="fp32", offload="none", steps=TINY["steps"],
                        sizes=((TINY["height"], TINY["width"]),), frame_counts=(TINY["frames"],),
                        verbose=False)
    gen.load("cpu")
    return gen

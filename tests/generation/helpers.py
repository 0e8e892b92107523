"""Small benchmarks and CLI runners shared by the generation tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from stepeval.generation.placeholders import placeholder_array

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--set", "height=48", "--set", "width=64", "--set", "num_frames=6"]


def textured_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Blobs plus fine texture: optical flow has something to lock onto everywhere."""
    return placeholder_array(f"texture-{seed}", width, height)


def make_folder_benchmark(root: Path, n: int, *, size=(96, 64), prompts=None) -> Path:
    """A folder benchmark (NAME.png + NAME.txt) of n items named item00, item01, ..."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(textured_image(*size, seed=i)).save(root / f"item{i:02d}.png")
        text = prompts[i] if prompts else f"prompt number {i}"
        (root / f"item{i:02d}.txt").write_text(text, encoding="utf-8")
    return root


def stepeval(*args, cwd=None, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stepeval.cli.main", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=timeout)  # fmt: skip

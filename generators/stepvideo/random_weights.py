"""`stepvideo-t2v-random`: Step-Video-T2V at a small preset with seeded random weights.

What it is for: running the whole text-to-video path of the in-repo model (hub-layout checkpoint on
disk, Step-LLM + HunyuanCLIP text stack, T2V DiT, VAE decode, the runner, scoring, reports) where no
released weights exist, e.g. the T2V smoke config and CI. Its videos are structured noise: a floor
that shows the path works, never a quality figure.

On first use it writes the checkpoint in the official layout (`generators.stepvideo.testing.
write_random_checkpoint`) into a cache folder and then loads it exactly as a download; the folder
is written beside its final name and renamed into place, so concurrent first uses never see half a
checkpoint.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from stepeval.benchmark.items import T2V
from stepeval.generation.protocol import Capabilities

from .config import OFFICIAL_PRESETS, PRESETS
from .generator import PER_REQUEST, T2V_UNUSED, StepVideoT2V

CACHE_ENV = "STEPEVAL_CACHE"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "stepeval") / "stepvideo-random"


def random_checkpoint(preset: str, seed: int, root: Path | None = None) -> Path:
    """The cached random-weight checkpoint of `preset` and `seed`, written on first use."""
    from stepeval.errors import UserError

    from .testing import write_random_checkpoint

    if preset not in PRESETS or preset in OFFICIAL_PRESETS:
        allowed = sorted(set(PRESETS) - OFFICIAL_PRESETS)
        raise UserError(f"no random-weight checkpoint for preset {preset!r}", hint=f"use one of {', '.join(allowed)}")
    root = root or cache_root()
    final = root / f"{preset}-seed{seed}"
    if (final / "model_index.json").is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=root))
    try:
        write_random_checkpoint(staging, preset=preset, seed=seed)
        try:
            staging.rename(final)
        except OSError:  # another process finished first: theirs is the same checkpoint
            if not (final / "model_index.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


class StepVideoT2VRandom(StepVideoT2V):
    name = "stepvideo-t2v-random"
    capabilities = Capabilities(
        sizes=((64, 64),), frame_counts=(17,), fps=8.0, request_params=PER_REQUEST - T2V_UNUSED,
        tasks=frozenset({T2V}),
        notes="random weights (seeded), written to a cache folder in the official layout: exercises the T2V path")

    def __init__(self, preset: str = "tiny-t2v", seed: int = 0, *, cache_dir: str | None = None,
                 sizes: tuple[tuple[int, int], ...] | None = None, frame_counts: tuple[int, ...] | None = None,
                 fps: float | None = None, steps: int = 4, cfg_scale: float = 9.0, time_shift: float = 13.0,
                 sp_degree: int = 1, cfg_degree: int = 1, verbose: bool = False):
        self.preset, self.weights_seed = preset, int(seed)
        self.cache_dir = Path(cache_dir) if cache_dir else None
        super().__init__(Path(cache_dir or cache_root()) / f"{preset}-seed{seed}", dtype="float32", offload="none",
                         sp_degree=sp_degree, cfg_degree=cfg_degree, sizes=sizes, frame_counts=frame_counts, fps=fps,
                         steps=steps, cfg_scale=cfg_scale, time_shift=time_shift, verbose=verbose)

    def load(self, device: str = "auto") -> None:
        if self.pipeline is None:
            self.model_dir = random_checkpoint(self.preset, self.weights_seed, self.cache_dir)
        super().load("cpu" if device == "auto" else device)

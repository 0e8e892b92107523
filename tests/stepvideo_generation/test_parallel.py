"""Sequence parallel, CFG parallel and both, under real `torchrun` with gloo on CPU: the final
latents must equal the single-process ones (fp32, max abs diff < 1e-5)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from generators.stepvideo.parallel import check_degrees
from stepeval.errors import UserError
from stepeval.generation.protocol import GenerationRequest

from .conftest import TINY

REPO = Path(__file__).resolve().parents[2]
PROMPT = "一只橘猫在窗台上伸懒腰，镜头缓慢推进"
SEED = 11


def _reference(gen, image, height, width):
    gen.generate(GenerationRequest("ref", PROMPT, image, SEED, num_frames=TINY["frames"],
                                   height=height, width=width), decode=False)
    return gen.pipeline.last_output.latents


def _torchrun(tmp_path, model_dir, image, nproc, sp, cfg, height, width) -> torch.Tensor:
    out = tmp_path / f"latents-sp{sp}-cfg{cfg}-{height}x{width}.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "-m", "generators.stepvideo.parallel_run",
           "--model-dir", str(model_dir), "--image", str(image), "--prompt", PROMPT,
           "--frames", str(TINY["frames"]), "--height", str(height), "--width", str(width),
           "--steps", str(TINY["steps"]), "--seed", str(SEED), "--dtype", "fp32",
           "--offload", "none", "--device", "cpu", "--sp-degree", str(sp),
           "--cfg-degree", str(cfg), "--latents-out", str(out), "--latents-only"]
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(out)


@pytest.mark.parametrize(
    "nproc,sp,cfg,height,width",
    [
        (2, 2, 1, 48, 64),  # 3 x 3 x 4 = 36 tokens: divides by 2
        (2, 2, 1, 48, 80),  # 3 x 3 x 5 = 45 tokens: padded to 46
        (2, 1, 2, 48, 80),  # CFG parallel
        (4, 2, 2, 48, 80),  # sp 2 x cfg 2 on 4 processes, odd sequence
    ],
    ids=["sp2", "sp2-odd-sequence", "cfg2", "sp2xcfg2"],
)
def test_parallel_latents_equal_single_process(tmp_path, tiny_model_dir, tiny_generator,
                                               first_image, nproc, sp, cfg, height, width):
    ref = _reference(tiny_generator, first_image, height, width)
    got = _torchrun(tmp_path, tiny_model_dir, first_image, nproc, sp, cfg, height, width)
    assert got.shape == ref.shape
    assert ref.abs().mean() > 0.1  # a real sample, not zeros
    assert (got - ref).abs().max().item() < 1e-5


def test_heads_must_divide_by_the_sp_degree():
    with pytest.raises(UserError, match="heads"):
        check_degrees(3, 1, 3, heads=2)
    with pytest.raises(UserError, match="does not divide"):
        check_degrees(2, 2, 6)
    with pytest.raises(UserError, match="cfg_scale"):
        check_degrees(1, 2, 2, guidance=False)


"""The README's `torchrun ... -m generators.stepvideo.parallel_run ... --sp-degree --cfg-degree --out o.mp4`:
rank 0 decodes and writes a browser-playable mp4 whose frames are the single-process video's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from stepeval.generation.protocol import GenerationRequest
from stepeval.video import probe, read_video, write_video

from .conftest import TINY

REPO = Path(__file__).resolve().parents[2]
PROMPT = "一只橘猫在窗台上伸懒腰，镜头缓慢推进"
SEED = 5


def test_torchrun_parallel_run_writes_the_video(tmp_path, tiny_model_dir, tiny_generator, first_image):
    out = tmp_path / "o.mp4"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "generators.stepvideo.parallel_run",
           "--model-dir", str(tiny_model_dir), "--image", str(first_image), "--prompt", PROMPT,
           "--sp-degree", "2", "--cfg-degree", "1", "--out", str(out),
           "--frames", str(TINY["frames"]), "--height", str(TINY["height"]), "--width", str(TINY["width"]), "--fps", "8",
           "--steps", str(TINY["steps"]), "--seed", str(SEED), "--dtype", "fp32", "--offload", "none", "--device", "cpu"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(printed) == 1 and printed[0]["out"] == str(out)  # only rank 0 writes and reports
    info = probe(out)
    assert (info.codec, info.pix_fmt, info.frames, info.width, info.height) == ("h264", "yuv420p", TINY["frames"], TINY["width"], TINY["height"])

    # The same video made in one process, through the same writer: the frames agree.
    ref = tiny_generator.generate(GenerationRequest("ref", PROMPT, first_image, SEED, num_frames=TINY["frames"],
                                                    height=TINY["height"], width=TINY["width"], fps=8))
    write_video(tmp_path / "ref.mp4", ref.frames, 8)
    got, want = read_video(out).astype(np.int16), read_video(tmp_path / "ref.mp4").astype(np.int16)
    assert got.shape == want.shape and want.std() > 5  # a real picture, not a blank one
    assert np.abs(got - want).mean() < 1.0

"""Tiny-preset Step-Video-TI2V end to end on CPU: seconds per video split by stage.

    python benchmarks/stepvideo_e2e.py [--frames 17] [--height 144] [--width 256] [--steps 10]
                                       [--videos 3]

Writes a random tiny checkpoint (hub layout) to a temporary folder, loads the generator once, then
makes `--videos` videos from a benchmark image (or a synthetic one) and a Chinese prompt, each
written as an mp4. Reports the median per stage: text encode, VAE encode, denoise, decode, write.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from generators.stepvideo.generator import StepVideoTI2V  # noqa: E402
from generators.stepvideo.testing import write_random_checkpoint  # noqa: E402
from stepeval.generation.protocol import GenerationRequest  # noqa: E402
from stepeval.video import probe, write_video  # noqa: E402

SHARED_IMAGE = REPO.parent / "shared/benchmark/Step-Video-TI2V-Eval"
PROMPT = "一只小狗在海滩上奔跑，浪花拍打着沙滩"


def first_image(tmp: Path) -> Path:
    found = sorted(SHARED_IMAGE.glob("*/*/*.png"))
    if found:
        return found[0]
    path = tmp / "synthetic.png"
    y, x = np.mgrid[0:576, 0:1024]
    Image.fromarray(np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)).save(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=17)
    ap.add_argument("--height", type=int, default=144)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        write_random_checkpoint(tmp / "tiny", preset="tiny", seed=0)
        gen = StepVideoTI2V(tmp / "tiny", dtype="fp32", offload="none", steps=args.steps,
                            verbose=False)
        gen.load("cpu")
        load_s = time.perf_counter() - t0
        image = first_image(tmp)
        stages: dict[str, list[float]] = {}
        totals = []
        for i in range(args.videos):
            t = time.perf_counter()
            result = gen.generate(GenerationRequest(f"v{i}", PROMPT, image, seed=i,
                                                    num_frames=args.frames, height=args.height,
                                                    width=args.width))
            w0 = time.perf_counter()
            path = write_video(tmp / f"v{i}.mp4", result.frames, result.fps)
            timings = dict(result.info["timings"], write=time.perf_counter() - w0)
            totals.append(time.perf_counter() - t)
            info = probe(path)
            assert (info.frames, info.height, info.width) == (args.frames, args.height, args.width)
            for k, v in timings.items():
                stages.setdefault(k, []).append(v)
    print(f"tiny preset, {args.frames} x {args.height} x {args.width}, {args.steps} steps, CFG 9 "
          f"(batch 2), fp32, {args.threads} thread(s); image {image.name}; "
          f"checkpoint write + load {load_s:.2f} s; median of {args.videos} videos")
    print("| stage | seconds (median) | share |\n|---|---|---|")
    total = statistics.median(totals)
    for k, v in stages.items():
        print(f"| {k} | {statistics.median(v):.3f} | {statistics.median(v) / total:.0%} |")
    print(f"| **total per video** | {total:.3f} | |")


if __name__ == "__main__":
    main()

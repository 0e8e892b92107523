"""VBench per-dimension seconds per video on CPU, at the sizes CI uses (random-weight checkpoints).

    python benchmarks/vbench_dims.py [--dims ci] [--frames 5] [--size 64] [--threads N]

Builds the CI test's toy run (2 baselines x 4 Step-Video-TI2V-Eval items, SIZE x SIZE, FRAMES frames
at 8 fps), scores it with `score_run_vbench` in the VBench venv and prints, per dimension, the wall
seconds vbench spent (model load included) and that divided by the number of videos.
Needs `bash scripts/ci_vbench.sh` first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from stepeval.metrics.testing import make_toy_run, write_random_weights
from stepeval.metrics.vbench_env import load_env
from stepeval.metrics.vbench_i2v import parse_dimensions, score_run_vbench

ITEMS = ["real/H/011", "real/V/019", "anime/S/043", "anime/H/001"]
BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "benchmark" / "Step-Video-TI2V-Eval"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dims", default="ci")
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--benchmark", type=Path, default=BENCH)
    args = ap.parse_args()
    env = load_env(verify=True)
    cache, thome = write_random_weights(env_path=env.path)
    dims = parse_dimensions(args.dims)
    with tempfile.TemporaryDirectory() as tmp:
        run = make_toy_run(Path(tmp) / "run", args.benchmark, ITEMS, height=args.size, width=args.size, frames=args.frames)
        t0 = time.perf_counter()
        rep = score_run_vbench(run, dims, env_path=env.path, cache_dir=cache, torch_home=thome, devices="cpu", threads=args.threads)
        wall = time.perf_counter() - t0
    print(f"vbench {env.info['packages']['vbench']}, torch {env.info['packages']['torch']}, CPU, "
          f"{args.size}x{args.size}x{args.frames} frames, 8 videos; total wall {wall:.1f} s (incl. process start)")
    print("| dimension | videos | seconds (incl. model load) | seconds / video |")
    print("|---|---|---|---|")
    for d in dims:
        n = rep.videos.get(d, 0)
        s = rep.seconds.get(d, float("nan"))
        print(f"| {d} | {n} | {s:.1f} | {s / n if n else float('nan'):.2f} |")
    failed = {d: n for d, n in rep.failed.items() if n}
    if failed:
        print(f"failed: {failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""VBench-I2V per dimension on CPU at CI sizes: model load, per-frame cost, FLOPs and peak memory.

    python benchmarks/vbench_dims.py [--dims all] [--frames 5] [--size 64] [--videos 4] [--threads N] [--json OUT]

For each dimension, in its own VBench process (so the peak RSS is that dimension's), it scores a toy
run of Step-Video-TI2V-Eval items (SIZE x SIZE, FRAMES frames at 8 fps, the items whose prompts have a
camera instruction, so camera_motion scores every video) through `score_run_vbench` with
random-weight checkpoints: timed on 1 video and on VIDEOS videos, and once more on 1 video under
torch's FlopCounterMode (kept apart: the counter slows models made of many small ops). Then

    load (s)          = t(1) - per_video
    per_video (s)     = (t(VIDEOS) - t(1)) / (VIDEOS - 1)
    per unit (s)      = per_video / units   (units: the frames, or frame pairs, the dimension runs its model on)
    GFLOP per unit    = the matmul/conv/attention FLOPs counted on one video / units
    peak RSS (MB)     = the process's maximum resident set (timed run on VIDEOS videos)

`--json OUT` writes the numbers in the shape of stepeval/metrics/vbench_cost.json's `measured`
block, which `stepeval vbench check` reads to estimate a run's cost. Needs `bash scripts/ci_vbench.sh`.
Record `uptime` with the numbers: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stepeval.metrics.testing import make_toy_run, write_random_weights
from stepeval.metrics.vbench_cost import units_per_video
from stepeval.metrics.aggregate import DIMENSION_KEYS
from stepeval.metrics.vbench_env import load_env
from stepeval.metrics.vbench_i2v import parse_dimensions, score_run_vbench

# Step-Video-TI2V-Eval items with an image and a camera instruction (camera_motion scores only those).
ITEMS = ["real/V/019", "real/S/096", "real/H/111", "anime/V/013", "anime/V/115", "anime/S/085"]
BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "benchmark" / "Step-Video-TI2V-Eval"
# camera_motion's CoTracker hub code: a copy of the pinned commit, when there is one ($STEPEVAL_COTRACKER_HUB)
COTRACKER_HUB = Path(os.environ["STEPEVAL_COTRACKER_HUB"]) if os.environ.get("STEPEVAL_COTRACKER_HUB") else None


def _one(run, dim, env, cache, thome, threads, items, count_flops=False):
    t0 = time.perf_counter()
    rep = score_run_vbench(run, [dim], env_path=env.path, cache_dir=cache, torch_home=thome, devices="cpu", threads=threads,
                           model_tags=["shift"], item_ids=items, rescore=True, count_flops=count_flops)
    wall = time.perf_counter() - t0
    if rep.failed.get(dim):
        raise SystemExit(f"{dim} failed: {rep.errors[:1]}")
    return rep.seconds.get(dim, float("nan")), rep.peak_rss_mb.get(dim, float("nan")), rep.flops.get(dim, 0), rep.videos.get(dim, 0), wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dims", default="all")
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--benchmark", type=Path, default=BENCH)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    env = load_env(verify=True)
    dims_here = [d for d in DIMENSION_KEYS if COTRACKER_HUB or d != "camera_motion"]
    cache, thome = write_random_weights(env_path=env.path, dims=dims_here, cotracker_hub=COTRACKER_HUB)
    dims = parse_dimensions(args.dims)
    items = ITEMS[: args.videos]
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        run = make_toy_run(Path(tmp) / "run", args.benchmark, items, tags=("shift",), height=args.size, width=args.size, frames=args.frames)
        for d in dims:
            t1, _, _, _, _ = _one(run, d, env, cache, thome, args.threads, items[:1])
            tn, rss, _, n, _ = _one(run, d, env, cache, thome, args.threads, items)
            _, _, f1, _, _ = _one(run, d, env, cache, thome, args.threads, items[:1], count_flops=True)
            per_video = (tn - t1) / max(1, n - 1)
            units = units_per_video(d, args.frames, 8.0)
            rows[d] = {"load_s": round(max(0.0, t1 - per_video), 2), "per_video_s": round(per_video, 3), "units_per_video": units,
                       "cpu_s_per_unit": round(per_video / units, 4), "gflop_per_unit": round(f1 / units / 1e9, 3) if f1 else None,
                       "gflop_source": "counted: FlopCounterMode over one video",
                       "peak_rss_mb": round(rss), "videos": n}
            print(f"{d}: {rows[d]}", file=sys.stderr, flush=True)
    print(f"vbench {env.info['packages']['vbench']}, torch {env.info['packages']['torch']}, CPU threads {args.threads or os.cpu_count()}, "
          f"{args.size}x{args.size}x{args.frames} frames at 8 fps, 1 and {len(items)} videos; load: {uptime}")
    print("| dimension | model load (s) | s / video | units / video | s / unit | GFLOP / unit | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|")
    for d, r in rows.items():
        print(f"| {d} | {r['load_s']} | {r['per_video_s']} | {r['units_per_video']} | {r['cpu_s_per_unit']} | {r['gflop_per_unit']} | {r['peak_rss_mb']} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": "see benchmarks/RESULTS.md", "uptime": uptime, "size": [args.size, args.size],
                                         "frames": args.frames, "fps": 8.0, "dimensions": rows}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

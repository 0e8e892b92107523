"""Wall time of one run split into independent shards: 1 process vs `--launcher local --shards 2|4`,
and what each shard costs besides its videos.

    python benchmarks/sharded_generation.py [--items 24] [--model camera] [--height 128 --width 224 --frames 25]

Measured, on a folder benchmark of synthetic items (same images on every side):
- wall time of `stepeval generate` in one process, and with the local launcher and 2 and 4 shards
  (fresh run directory each time; the launcher's time includes starting and waiting for its shards);
- per-shard overhead: a shard rerun after completion (process start-up, imports, benchmark load,
  run.yaml, reading the tables, the VBench view: everything but videos), the generator's load, and
  `Table.read` of the generations table as one file vs as 4 part files (in this process, median).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stepeval.generation import registry  # noqa: E402
from stepeval.runs import Run  # noqa: E402
from stepeval.runs.shards import shard_of  # noqa: E402
from tests.generation.helpers import make_folder_benchmark  # noqa: E402


def stepeval(*args: str) -> float:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "stepeval.cli.main", *args], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "200"})
    seconds = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"stepeval {' '.join(args)} failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return seconds


def median_of(fn, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=24)
    ap.add_argument("--model", default="camera")
    ap.add_argument("--height", type=int, default=128)
    ap.add_argument("--width", type=int, default=224)
    ap.add_argument("--frames", type=int, default=25)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stepeval-shards-"))
    try:
        bench = make_folder_benchmark(tmp / "bench", args.items, size=(args.width, args.height))
        gen = ["generate", str(bench), "--model", args.model, "--set", f"height={args.height}", "--set", f"width={args.width}",
               "--set", f"num_frames={args.frames}", "--set", "fps=8", "--device", "cpu"]
        results: dict = {"items": args.items, "model": args.model, "size": [args.height, args.width, args.frames], "cpus": os.cpu_count()}
        results["wall_s"] = {"1 process": stepeval(*gen, "--run-dir", str(tmp / "s1"))}
        for n in (2, 4):
            results["wall_s"][f"{n} local shards"] = stepeval(*gen, "--run-dir", str(tmp / f"s{n}"), "--launcher", "local", "--shards", str(n))
        tag = Run.open(tmp / "s4").config.models[0].tag
        results["videos_per_shard_of_4"] = [sum(shard_of(tag, f"item{i:02d}", 0, 4) == k for i in range(args.items)) for k in range(4)]
        # Everything a shard costs besides its videos: a shard with nothing left to do.
        results["shard_rerun_nothing_to_do_s"] = statistics.median(stepeval(*gen, "--run-dir", str(tmp / "s4"), "--shard", "0/4") for _ in range(3))
        results["process_start_and_import_s"] = statistics.median(stepeval("generate", "--help") for _ in range(3))
        gen_obj = registry.create(args.model, {"height": args.height, "width": args.width, "num_frames": args.frames})
        results["model_load_s"] = median_of(lambda: gen_obj.load("cpu"))
        results["table_read_s"] = {"1 file (1 process run)": median_of(lambda: Run.open(tmp / "s1").generations.read(), 20),
                                   "4 part files (4-shard run)": median_of(lambda: Run.open(tmp / "s4").generations.read(), 20)}
        print(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

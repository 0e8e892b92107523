"""Public testing API for metrics: a run of toy videos with a known answer, and random VBench weights.

For the tests of your own metric (a scorer registered in `stepeval.metrics`) and of your own VBench
set-up; stepeval's tests and benchmarks use it the same way.

- `make_toy_run(run_dir, benchmark, item_ids)`: a run directory as `stepeval generate` leaves it,
  holding for every item a still clip (`static`) and one whose view slides sideways (`shift`), so a
  motion or consistency metric has an obvious right order.
- `write_random_weights(root)`: random-weight checkpoints of the architectures VBench-I2V loads, so
  the real vbench code runs end to end on a machine that cannot download its weights.

    python -m stepeval.metrics.testing write-random-weights [--root DIR] [--env PATH] [--dims a,b]
    python -m stepeval.metrics.testing toy-run RUN_DIR BENCHMARK --ids ID1,ID2

Random weights are written under their own root (default ~/.cache/stepeval/vbench-random-weights,
with `vbench/` as VBENCH_CACHE_DIR and `torch/` as TORCH_HOME), never into a user's real caches, and
the root is marked so nothing else is ever overwritten. Scores computed with them are meaningless;
they exist so CI can run the real vbench code end to end without downloading anything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stepeval.errors import UserError
from stepeval.metrics.vbench_env import env_python, load_env, missing_weights

from stepeval.metrics.aggregate import DIMENSION_KEYS

RANDOM_WEIGHT_DIMS = tuple(DIMENSION_KEYS)  # all nine VBench-I2V dimensions
# camera_motion's torch.hub code (CoTracker, pinned commit) comes from a local copy: see vbench_random_weights.
COTRACKER_HUB_ENV = "STEPEVAL_COTRACKER_HUB"
MARKER = "STEPEVAL_RANDOM_WEIGHTS.json"
WRITER = Path(__file__).with_name("vbench_random_weights.py")
TOY_TAGS = ("static", "shift")


def default_random_root() -> Path:
    return Path(os.environ.get("STEPEVAL_VBENCH_RANDOM_WEIGHTS") or Path.home() / ".cache" / "stepeval" / "vbench-random-weights").expanduser()


def random_weight_dirs(root: Path | None = None) -> tuple[Path, Path]:
    """(VBENCH_CACHE_DIR, TORCH_HOME) of a random-weights root."""
    root = Path(root or default_random_root())
    return root / "vbench", root / "torch"


def write_random_weights(root: Path | None = None, *, env_path: Path | None = None, dims: Sequence[str] = RANDOM_WEIGHT_DIMS,
                         seed: int = 0, force: bool = False, cotracker_hub: Path | None = None) -> tuple[Path, Path]:
    """Write random checkpoints for `dims` (idempotent: kept when already written with this seed).

    camera_motion also needs CoTracker's hub code: `cotracker_hub` (default $STEPEVAL_COTRACKER_HUB) is
    a copy of the pinned commit's files, verified against the weight table and laid out under
    TORCH_HOME/hub."""
    root = Path(root or default_random_root()).expanduser()
    cache, thome = random_weight_dirs(root)
    marker = root / MARKER
    if root.exists() and any(root.iterdir()) and not marker.exists():
        raise UserError("folder exists and was not made by write-random-weights; refusing to write random weights into it",
                        path=root, hint="choose an empty folder with --root")
    if not force and marker.exists():
        meta = json.loads(marker.read_text(encoding="utf-8"))
        if meta.get("seed") == seed and not any(missing_weights(d, cache, thome) for d in dims):
            return cache, thome
    hub_src = cotracker_hub or os.environ.get(COTRACKER_HUB_ENV)
    extra = ["--cotracker-hub", str(Path(hub_src).resolve())] if hub_src else []
    env = load_env(env_path)
    if not force and marker.exists() and json.loads(marker.read_text(encoding="utf-8")).get("seed") == seed:
        # same seed: write only what is missing (a root made before more dimensions ran keeps its files)
        written = list(dims)
        dims = [d for d in dims if missing_weights(d, cache, thome)]
        dims_record = sorted(set(written) | set(json.loads(marker.read_text(encoding="utf-8")).get("dims") or []))
    else:
        dims_record = list(dims)
    root.mkdir(parents=True, exist_ok=True)
    if "camera_motion" in dims and not hub_src:
        raise UserError("camera_motion's random weights need CoTracker's hub code (it cannot be downloaded here)", path=root,
                        hint=f"pass --cotracker-hub DIR (or set {COTRACKER_HUB_ENV}) to a copy of github.com/facebookresearch/co-tracker "
                             "at the commit vbench_weights.json pins")
    marker.write_text(json.dumps({"seed": seed, "dims": dims_record, "state": "writing"}), encoding="utf-8")
    res = subprocess.run([str(env_python(env.path)), str(WRITER), str(cache), str(thome), str(seed), *extra, *dims], capture_output=True, text=True)
    if res.returncode != 0:
        raise UserError(f"writing random weights failed:\n{res.stderr[-2000:]}", path=root, hint="check the VBench environment with `stepeval vbench check`")
    marker.write_text(json.dumps({"seed": seed, "dims": dims_record, "state": "done", "written_at": time.strftime("%Y-%m-%dT%H:%M:%S")}), encoding="utf-8")
    return cache, thome


def toy_frames(image_path: Path, tag: str, *, height: int, width: int, frames: int, speed: int = 2) -> np.ndarray:
    """A static clip of the image, or one whose crop window slides `speed` px per frame."""
    from stepeval.images import prepare_image

    if tag == "static":
        still = prepare_image(image_path, height, width)
        return np.repeat(still[None], frames, axis=0)
    wide = prepare_image(image_path, height, width + speed * (frames - 1))
    return np.stack([wide[:, speed * t: speed * t + width] for t in range(frames)])


def make_toy_run(run_dir: Path, benchmark: Path, item_ids: Sequence[str], *, tags: Sequence[str] = TOY_TAGS,
                 height: int = 64, width: int = 64, frames: int = 5, fps: float = 8.0, seed: int = 0):
    """A Run holding toy baseline videos (videos/<tag>/<item>.mp4 + generations.parquet rows), as
    `stepeval generate` would leave it; the benchmark is recorded in run.yaml for the i2v dimensions."""
    import socket

    from stepeval.benchmark import Subset, load_benchmark
    from stepeval.runs import Run
    from stepeval.video import write_video

    loaded = load_benchmark(benchmark, "auto", subset=Subset(ids=tuple(item_ids)), verify=False)
    items = loaded.by_id()
    run = Run.create(run_dir, {"benchmark": {"path": str(Path(benchmark).resolve()), "kind": "auto"}, "seed": seed,
                               "models": [{"name": f"toy-{t}", "tag": t} for t in tags]}, command="make_toy_run")
    rows = []
    for tag in tags:
        for item_id in item_ids:
            item = items[item_id]
            path = run.video_path(tag, item_id)
            t0 = time.perf_counter()
            write_video(path, toy_frames(item.image_path, tag, height=height, width=width, frames=frames), fps)
            rows.append({"model_tag": tag, "item_id": item_id, "sample": 0, "seed": seed, "generator": f"toy-{tag}", "parameters": {},
                         "fps": fps, "frames": frames, "width": width, "height": height, "seconds": time.perf_counter() - t0,
                         "peak_memory_bytes": None, "status": "ok", "error": None, "traceback": None,
                         "video_path": path.relative_to(run.root).as_posix(), "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                         "host": socket.gethostname(), "rank": 0})
    run.generations.append(rows)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stepeval.metrics.testing", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write-random-weights", help="write random-weight VBench checkpoints (tests and CI only)")
    w.add_argument("--root", type=Path, default=None)
    w.add_argument("--env", type=Path, default=None, help="the VBench environment (default: stepeval vbench setup's)")
    w.add_argument("--dims", default=None, help="comma-separated (default: all nine; camera_motion only with its hub code)")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--force", action="store_true")
    w.add_argument("--cotracker-hub", type=Path, default=None, help=f"copy of the pinned co-tracker commit (default ${COTRACKER_HUB_ENV})")
    t = sub.add_parser("toy-run", help="a run of toy static/shift videos from benchmark images")
    t.add_argument("run_dir", type=Path)
    t.add_argument("benchmark", type=Path)
    t.add_argument("--ids", required=True, help="comma-separated item ids with images present")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "write-random-weights":
            if args.dims is None:
                dims = list(RANDOM_WEIGHT_DIMS)
                if not (args.cotracker_hub or os.environ.get(COTRACKER_HUB_ENV)):
                    dims.remove("camera_motion")
                    print(f"camera_motion skipped: its CoTracker hub code is not here (--cotracker-hub DIR or ${COTRACKER_HUB_ENV})",
                          file=sys.stderr)
            else:
                dims = [d for d in args.dims.split(",") if d]
            cache, thome = write_random_weights(args.root, env_path=args.env, dims=dims, seed=args.seed, force=args.force,
                                                cotracker_hub=args.cotracker_hub)
            print(f"random weights ready: VBENCH_CACHE_DIR={cache} TORCH_HOME={thome}")
        else:
            run = make_toy_run(args.run_dir, args.benchmark, [i for i in args.ids.split(",") if i])
            print(f"toy run written to {run.root}")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


__all__ = ["RANDOM_WEIGHT_DIMS", "TOY_TAGS", "default_random_root", "make_toy_run", "random_weight_dirs", "toy_frames", "write_random_weights"]


if __name__ == "__main__":
    sys.exit(main())

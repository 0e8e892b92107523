"""Harness overhead of `stepeval generate`: the static baseline through the full runner vs a bare
PyAV loop writing the same videos, in the same process, one after the other.

    python benchmarks/generation_overhead.py [--items N] [--height 544 --width 992 --frames 102]

Both sides do the same work per item: prepare the image (stepeval.images.prepare_image, as the
static baseline does) and encode the repeated frame with libx264 (crf 18, preset fast, yuv420p,
faststart). The harness adds benchmark loading, run.yaml, placeholder images, per-video seeds,
memory metering, the atomic rename, the parquet row append under a lock, progress and the VBench
view. Items without a local image get the same deterministic placeholder image on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
from rich.console import Console

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stepeval.benchmark import Subset, load_benchmark  # noqa: E402
from stepeval.generation.placeholders import write_placeholder  # noqa: E402
from stepeval.generation.runner import GenerateConfig, generate_run  # noqa: E402
from stepeval.generation.tags import ModelSpec  # noqa: E402
from stepeval.images import prepare_image  # noqa: E402
from stepeval.runs import Run  # noqa: E402

DEFAULT_BENCH = REPO.parent / "shared" / "benchmark" / "Step-Video-TI2V-Eval"


def bare_loop(items, images: dict, out: Path, height: int, width: int, frames: int, fps: float = 25.0) -> float:
    """The reference: prepare the image, encode it `frames` times with PyAV. Returns seconds."""
    t0 = time.perf_counter()
    for item in items:
        image = prepare_image(images[item.id], height, width)
        path = out / f"{item.id.replace('/', '__')}.mp4"
        with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as c:
            s = c.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            s.height, s.width, s.pix_fmt = height, width, "yuv420p"
            s.options = {"crf": "18", "preset": "fast"}
            for _ in range(frames):
                for p in s.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--benchmark", type=Path, default=DEFAULT_BENCH)
    ap.add_argument("--items", type=int, default=None, help="first N items (default: all 298)")
    ap.add_argument("--height", type=int, default=544)
    ap.add_argument("--width", type=int, default=992)
    ap.add_argument("--frames", type=int, default=102)
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()

    loaded = load_benchmark(args.benchmark, verify=False)
    ids = tuple(loaded.ids[: args.items] if args.items else loaded.ids)
    items = [it for it in loaded.items if it.id in set(ids)]
    work = Path(tempfile.mkdtemp(prefix="stepeval-overhead-"))
    try:
        # Placeholder images for the items whose image is not in the shared copy are benchmark data,
        # made before either side is timed (the harness finds them and does not redo them).
        run_dir = work / "run"
        images = {it.id: it.image_path or write_placeholder(run_dir / "placeholders" / f"{it.id}.png", it.id, it.aspect) for it in items}
        # Harness: the real runner.
        spec = ModelSpec("static", {"height": args.height, "width": args.width, "num_frames": args.frames})
        cfg = GenerateConfig(benchmark=args.benchmark, models=[spec], subset=Subset(ids=ids), run_dir=run_dir, placeholder_images=True)
        t0 = time.perf_counter()
        generate_run(cfg, console=Console(file=open(os.devnull, "w")), show_progress=False)
        harness = time.perf_counter() - t0
        table = Run.open(run_dir).generations.read()
        assert len(table) == len(items) and set(table["status"]) == {"ok"}, table["error"].dropna().head()
        generator = float(table["seconds"].sum())

        # Bare loop over the same images.
        bare_dir = work / "bare"
        bare_dir.mkdir()
        bare = bare_loop(items, images, bare_dir, args.height, args.width, args.frames)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = len(items)
    result = {
        "items": n,
        "size": f"{args.height}x{args.width}x{args.frames}",
        "harness_s_per_item": harness / n,
        "generator_s_per_item": generator / n,
        "outside_generator_s_per_item": (harness - generator) / n,
        "bare_loop_s_per_item": bare / n,
        "overhead_vs_bare_pct": 100 * (harness - bare) / bare,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

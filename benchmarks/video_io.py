"""Video I/O throughput at the benchmark's working size.

    python benchmarks/video_io.py [--frames 102] [--repeat 3]

Measures, in one run: write (frames/s), full decode to RGB (frames/s), decode keeping every 12th
frame (what the motion score reads), gray every 12th, and probe time per file.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from stepeval.video import probe, read_video, write_video


def pattern(frames: int, height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        out[t, ..., 0] = 127 + 100 * np.sin((x + 6 * t) / 45.0)
        out[t, ..., 1] = 127 + 100 * np.cos((y + 3 * t) / 60.0)
        out[t, ..., 2] = 127 + 60 * np.sin((x + y) / 90.0 + t / 5.0)
    return out


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=102)
    ap.add_argument("--height", type=int, default=544)
    ap.add_argument("--width", type=int, default=992)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    frames = pattern(args.frames, args.height, args.width)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "v.mp4"
        t_write = timed(lambda: write_video(path, frames, fps=25), args.repeat)
        t_read = timed(lambda: read_video(path), args.repeat)
        t_every = timed(lambda: read_video(path, every=12), args.repeat)
        t_gray = timed(lambda: read_video(path, every=12, gray=True), args.repeat)
        t_probe = timed(lambda: probe(path), max(args.repeat, 20))
        size_mb = path.stat().st_size / 1e6
    n = args.frames
    print(f"machine: {platform.machine()} {platform.processor() or ''}, python {platform.python_version()}")
    print(f"video: {n} frames {args.width}x{args.height}, {size_mb:.2f} MB, median of {args.repeat}")
    print(f"write:                 {t_write:7.3f} s  {n / t_write:7.1f} frames/s")
    print(f"read all (rgb):        {t_read:7.3f} s  {n / t_read:7.1f} frames/s")
    print(f"read every 12th (rgb): {t_every:7.3f} s  {n / t_every:7.1f} source frames/s  ({t_read / t_every:.2f}x faster than all)")
    print(f"read every 12th gray:  {t_gray:7.3f} s  {n / t_gray:7.1f} source frames/s  ({t_read / t_gray:.2f}x faster than all)")
    print(f"probe:                 {t_probe * 1000:7.2f} ms per file")


if __name__ == "__main__":
    main()

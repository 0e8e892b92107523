"""Motion score throughput on 544x992x102 videos (Step-Video-TI2V's output size), and where the time goes.

    python benchmarks/motion_score.py [--videos 3] [--naive-videos 1]

Compares, in the same run and on the same files:
  ours       stepeval.metrics.motion.motion_score: every 12th frame, flow at short side 256
  full-size  the same sampling, flow at the video's full 544x992 (what the working size saves)
  naive      decode every frame and run Farneback between every consecutive pair at full size
Prints a Markdown table (videos/s, seconds per video split into decode and flow).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from stepeval.metrics.motion import MotionSettings, motion_score, pair_motion
from stepeval.video import iter_frames, write_video

H, W, T = 544, 992, 102


def make_video(path: Path, seed: int) -> Path:
    """A smooth random texture panning at 1.5 px/frame plus a drifting bright blob: real-ish content for H.264."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((H + 32, W + 200, 3)).astype(np.float32), (0, 0), 4)
    base = ((base - base.min()) / (base.max() - base.min()) * 255).astype(np.uint8)
    yy, xx = np.mgrid[0:H, 0:W]

    def frames():
        for t in range(T):
            f = base[16:16 + H, int(1.5 * t):int(1.5 * t) + W].copy()
            blob = np.exp(-(((xx - 200 - 5 * t) / 60.0) ** 2 + ((yy - H / 2) / 60.0) ** 2))
            f[..., 0] = np.clip(f[..., 0] + 120 * blob, 0, 255).astype(np.uint8)
            yield f

    return write_video(path, frames(), 24)


def naive(path: Path, settings: MotionSettings) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    frames = [f for _, f in iter_frames(path, every=1, gray=True)]
    t1 = time.perf_counter()
    full = MotionSettings(**{**settings.as_dict(), "short_side": min(frames[0].shape)})
    values = [pair_motion(a, b, full) for a, b in zip(frames[:-1], frames[1:])]
    t2 = time.perf_counter()
    return float(np.mean(values)), t1 - t0, t2 - t1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--naive-videos", type=int, default=1)
    args = ap.parse_args()
    cv2.setNumThreads(1)  # one core per video, as the batch runner's workers use it
    with tempfile.TemporaryDirectory() as tmp:
        paths = [make_video(Path(tmp) / f"v{i}.mp4", i) for i in range(args.videos)]
        rows = []
        for name, settings in (("ours (every 12th, short side 256)", MotionSettings()),
                               ("full-size flow (every 12th, 544x992)", MotionSettings(short_side=H))):
            dec = flow = 0.0
            t0 = time.perf_counter()
            for p in paths:
                r = motion_score(p, settings)
                dec += r.decode_seconds
                flow += r.flow_seconds
            wall = time.perf_counter() - t0
            rows.append((name, len(paths), len(paths) / wall, dec / len(paths), flow / len(paths), wall / len(paths)))
        dec = flow = 0.0
        t0 = time.perf_counter()
        for p in paths[: args.naive_videos]:
            _, d, f = naive(p, MotionSettings())
            dec += d
            flow += f
        wall = time.perf_counter() - t0
        n = args.naive_videos
        rows.append(("naive (every frame, 544x992)", n, n / wall, dec / n, flow / n, wall / n))
    print(f"machine: {platform.processor() or platform.machine()}, {sys.platform}, opencv {cv2.__version__}, cv2 threads 1")
    print("| variant | videos | videos/s | decode s/video | flow s/video | total s/video |")
    print("|---|---|---|---|---|---|")
    for name, n, vps, d, f, tot in rows:
        print(f"| {name} | {n} | {vps:.3f} | {d:.2f} | {f:.2f} | {tot:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Video-VAE decode: peak memory and time, tiled vs untiled, at growing resolutions.

    PYTHONPATH=. python benchmarks/stepvideo_vae_memory.py [--sizes 128 256 384 512] [--latents 1]

Tiny preset, fp32, CPU. Each measurement runs in a fresh subprocess; peak = max RSS during decode
minus RSS before it (model and input already allocated), so it counts activations + output.
Tiled: --tile/--overlap pixels (default 256/64), GroupNorm statistics exact (the default) or
--stats-passes N (0 = tile-local).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(size: int, latents: int, tiled: bool, tile: int, overlap: int, passes) -> None:
    sys.path.insert(0, str(ROOT))
    import torch

    from generators.stepvideo.config import get_preset
    from generators.stepvideo.vae import StepVideoVAE

    torch.manual_seed(0)
    vae = StepVideoVAE(get_preset("tiny").vae).eval()
    z = torch.randn(1, latents, 4, size // 16, size // 16)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    out = vae.decode(z, tile_size=tile if tiled else None, tile_overlap=overlap, stats_passes=passes)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"size": size, "tiled": tiled, "seconds": seconds,
                      "peak_mib": (peak - base) / 1024, "out_mib": out.numel() * 4 / 2**20}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 384, 512])
    p.add_argument("--latents", type=int, default=1)
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--overlap", type=int, default=64)
    p.add_argument("--stats-passes", default="exact", help="'exact' or an integer (0 = tile-local)")
    p.add_argument("--modes", nargs="+", default=["untiled", "tiled"])
    p.add_argument("--child", nargs=3)
    args = p.parse_args()
    if args.child:
        passes = None if args.stats_passes == "exact" else int(args.stats_passes)
        child(int(args.child[0]), int(args.child[1]), args.child[2] == "1", args.tile, args.overlap,
              passes)
        return
    print(f"tile {args.tile} px, overlap {args.overlap} px, GroupNorm stats: {args.stats_passes}")
    print(f"{os.cpu_count()} cpus, load avg {os.getloadavg()[0]:.1f}; tiny preset, fp32, "
          f"{args.latents} latent frame(s) -> {17 * (args.latents // 3) + {0: 0, 1: 1, 2: 9}[args.latents % 3]} frames")
    print(f"{'HxW':>9} {'mode':>8} {'seconds':>8} {'peak MiB':>9} {'output MiB':>10}")
    for size in args.sizes:
        for tiled in [m == "tiled" for m in args.modes]:
            res = subprocess.run([sys.executable, __file__, "--child", str(size), str(args.latents),
                                  "1" if tiled else "0", "--tile", str(args.tile), "--overlap",
                                  str(args.overlap), "--stats-passes", args.stats_passes],
                                 capture_output=True, text=True,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
            if res.returncode:
                print(res.stderr[-2000:])
                continue
            r = json.loads(res.stdout.strip().splitlines()[-1])
            print(f"{size:>4}x{size:<4} {'tiled' if tiled else 'untiled':>8} {r['seconds']:8.1f} "
                  f"{r['peak_mib']:9.0f} {r['out_mib']:10.1f}")


if __name__ == "__main__":
    main()

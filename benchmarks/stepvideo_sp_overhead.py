"""Sequence-parallel overhead on CPU: DiT time per denoising step, 1 rank vs 2 gloo ranks.

    python benchmarks/stepvideo_sp_overhead.py [--preset small] [--latent 3 16 28] [--steps 5]

Runs the 1-rank reference in-process (with 1 and with 2 intra-op threads), then re-launches itself
under `torchrun --standalone --nproc_per_node 2` (1 thread per rank) for Ulysses SP = 2. Each step
is one DiT forward of the CFG batch (2) on random weights; the first forward is a warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from generators.stepvideo.config import get_preset  # noqa: E402
from generators.stepvideo.dit import StepVideoModel  # noqa: E402
from generators.stepvideo.parallel import init_parallel, sequence_parallel_forward  # noqa: E402


def time_steps(preset: str, latent: tuple[int, int, int], steps: int, sp: int) -> list[float]:
    cfg = get_preset(preset)
    torch.manual_seed(0)
    dit = StepVideoModel(cfg.dit).eval()
    state = init_parallel(sp, 1, "cpu")
    f, h, w = latent
    c = cfg.dit.in_channels
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, f, c, h, w, generator=g)
    cond = torch.randn(2, f, c, h, w, generator=g)
    y = torch.randn(2, 320, cfg.dit.caption_channels[0], generator=g)
    clip = torch.randn(2, 77, cfg.dit.caption_channels[1], generator=g)
    mask = torch.ones(2, 397)
    times = []
    with torch.no_grad():
        for i in range(steps + 1):
            if state.distributed:
                torch.distributed.barrier()
            t0 = time.perf_counter()
            sequence_parallel_forward(dit, state, hidden_states=x, encoder_hidden_states=y,
                                      encoder_hidden_states_2=clip, timestep=0.5,
                                      encoder_attention_mask=mask, motion_score=5.0,
                                      condition_hidden_states=cond)
            if i:
                times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="small")
    ap.add_argument("--latent", type=int, nargs=3, default=[3, 16, 28])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--worker", action="store_true")
    args = ap.parse_args()
    latent = tuple(args.latent)
    if args.worker:
        times = time_steps(args.preset, latent, args.steps, 2)
        if int(os.environ["RANK"]) == 0:
            print("RESULT " + json.dumps(times))
        return
    rows = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        rows[f"1 rank, {threads} thread(s)"] = time_steps(args.preset, latent, args.steps, 1)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node=2", __file__, "--worker", "--preset", args.preset,
                           "--steps", str(args.steps), "--latent", *map(str, latent)],
                          env=env, capture_output=True, text=True, check=True)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    rows["2 ranks (Ulysses SP=2, gloo), 1 thread each"] = json.loads(line[7:])
    cfg = get_preset(args.preset).dit
    tokens = latent[0] * latent[1] * latent[2]
    print(f"preset {args.preset}: width {cfg.inner_dim}, {cfg.num_layers} blocks, "
          f"{cfg.num_attention_heads} heads; latent {latent} = {tokens} tokens; batch 2 (CFG); "
          f"median of {args.steps} steps after 1 warm-up")
    base = statistics.median(rows["1 rank, 1 thread(s)"])
    print("| configuration | s/step (median) | vs 1 rank, 1 thread |\n|---|---|---|")
    for name, ts in rows.items():
        med = statistics.median(ts)
        print(f"| {name} | {med:.3f} | {base / med:.2f}x |")


if __name__ == "__main__":
    main()

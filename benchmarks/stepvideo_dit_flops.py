"""DiT forward FLOP/s on CPU as a fraction of this machine's fp32 matmul peak.

    PYTHONPATH=. python benchmarks/stepvideo_dit_flops.py [--frames 4 --height 32 --width 32]

Mid-size DiT ("small" preset: width 1024 = 8 heads x 128, 4 blocks), 4096 video tokens, fp32,
batch 1, full text (397 tokens). FLOPs are counted analytically (2 per multiply-add) for every
linear, conv-as-linear and attention product; norms/activations/RoPE are not counted.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from generators.stepvideo.config import get_preset  # noqa: E402
from generators.stepvideo.dit import StepVideoModel  # noqa: E402


def matmul_peak(n: int = 4096, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def dit_flops(cfg, s: int, k_llm: int = 320, k_clip: int = 77, k: int = 397) -> dict:
    d, c_in = cfg.inner_dim, cfg.patch_in_channels
    d_llm, d_clip = cfg.caption_channels
    per_block = {
        "self_attn_linears": 2 * s * d * 3 * d + 2 * s * d * d,
        "self_attn_scores_values": 2 * 2 * s * s * d,
        "cross_attn_linears": 2 * s * d * d * 2 + 2 * k * d * 2 * d,
        "cross_attn_scores_values": 2 * 2 * s * k * d,
        "ffn": 2 * 2 * s * d * cfg.ffn_mult * d,
    }
    out = {name: v * cfg.num_layers for name, v in per_block.items()}
    out["embeddings_and_out"] = (2 * s * c_in * d + 2 * s * d * cfg.out_channels
                                 + 2 * k_llm * (d_llm * d + d * d) + 2 * k_clip * d_clip * d)
    out["total"] = sum(out.values())
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=4)
    p.add_argument("--height", type=int, default=32)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()

    cfg = get_preset("small").dit
    torch.manual_seed(0)
    model = StepVideoModel(cfg).eval()
    b, f, h, w = 1, args.frames, args.height, args.width
    s = f * h * w
    x = torch.randn(b, f, cfg.in_channels, h, w)
    inputs = dict(hidden_states=x, encoder_hidden_states=torch.randn(b, 320, cfg.caption_channels[0]),
                  encoder_hidden_states_2=torch.randn(b, 77, cfg.caption_channels[1]),
                  timestep=torch.tensor([0.5]), encoder_attention_mask=torch.ones(b, 397),
                  motion_score=5.0, condition_hidden_states=torch.randn_like(x))
    flops = dit_flops(cfg, s)
    peak = matmul_peak()
    with torch.no_grad():
        model(**inputs)  # warm-up
        times = []
        for _ in range(args.reps):
            t = time.perf_counter()
            model(**inputs)
            times.append(time.perf_counter() - t)
    peak_after = matmul_peak()
    best = min(times)
    achieved = flops["total"] / best
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"load avg {os.getloadavg()[0]:.1f}")
    print(f"config: width {cfg.inner_dim}, {cfg.num_layers} blocks, {s} tokens, fp32, batch {b}")
    for name, v in flops.items():
        print(f"  flops {name:26s} {v / 1e9:9.1f} GFLOP")
    print(f"matmul peak (4096^3 fp32, best of 5): before {peak / 1e9:.1f}, after "
          f"{peak_after / 1e9:.1f} GFLOP/s")
    print(f"DiT forward: best {best:.2f} s of {[round(t, 2) for t in times]} -> "
          f"{achieved / 1e9:.1f} GFLOP/s = {achieved / max(peak, peak_after):.0%} of peak")


if __name__ == "__main__":
    main()

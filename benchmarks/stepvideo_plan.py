"""The memory planner's analytical numbers for the official model vs the published figures.

    python benchmarks/stepvideo_plan.py

The official repositories publish peak GPU memory and 50-step time only for Step-Video-T2V (batch 1,
CFG, four GPUs, flash attention; DiT only on the GPUs, text encoders and VAE on a separate API
GPU). The planner models the same setting (T2V preset: no image channels, no motion embedder;
Ulysses SP=4; upstream's cross-attention mask; offload="model", whose denoise stage is the DiT
alone; plus the CUDA context and NCCL buffers nvidia-smi counts), and also prints the TI2V
plan at its default 544x992x102 on one 80 GB GPU. Times are not predicted from a guessed
throughput: the published time and the counted FLOPs give the implied sustained TFLOP/s per GPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generators.stepvideo import memory  # noqa: E402
from generators.stepvideo.conditioning import resolve_geometry  # noqa: E402
from generators.stepvideo.config import get_preset  # noqa: E402

H100_BF16_DENSE_TFLOPS = 989.0


def plan_for(cfg, frames, h, w, sp=1, cfg_degree=1, free=None):
    geo = resolve_geometry(frames, h, w)
    return memory.plan_memory(cfg, latent_shape=geo.latent_shape, steps=50, guidance=True,
                              dtype=torch.bfloat16, sp_degree=sp, cfg_degree=cfg_degree,
                              free_bytes=free, device="cuda (80 GB)")


def main() -> None:
    print("## TI2V default (544x992x102, 50 steps, CFG 9) on one 80 GB GPU\n")
    print("```\n" + plan_for(get_preset("official"), 102, 544, 992, free=80 * 10**9).render() + "\n```\n")
    print("## TI2V on 4 GPUs (SP=4) and 8 GPUs (SP=4 x CFG=2), per GPU, DiT stage\n")
    print("| GPUs | tokens/rank | batch/rank | DiT weights + activations | PFLOP/step/GPU |")
    print("|---|---|---|---|---|")
    for sp, c in ((1, 1), (4, 1), (4, 2), (8, 1)):
        p = plan_for(get_preset("official"), 102, 544, 992, sp=sp, cfg_degree=c)
        print(f"| {sp * c} (sp {sp} x cfg {c}) | {p.tokens_per_rank:,} | {p.batch_per_rank} | "
              f"{p.stage_peaks['model']['denoise'] / 1e9:.2f} GB | {p.flops_per_step / 1e15:.2f} |")
    print("\n## Step-Video-T2V published figures vs the planner (4 GPUs, SP=4, DiT on the GPUs)\n")
    print("Planner in the published setting (`memory.published_t2v_plan`: T2V preset, upstream's "
          "implementation, SP=4). Device peak = tensors (weights + activations, the cross-attention "
          "mask workspace among them) + what lives outside PyTorch's allocator (CUDA context, NCCL).\n")
    print("| H x W x frames | tokens | DiT weights | activations (of which cross-attn mask) | "
          "context + NCCL | planner device peak | published peak | planner vs published |"
          " PFLOP per video | published 50-step time | implied TFLOP/s per GPU (MFU of H100 dense bf16) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for frames, h, w, peak, secs in memory.PUBLISHED_T2V:
        p = memory.published_t2v_plan(frames, h, w)
        dev = p.device_peak("model")
        tflops = p.flops_total / 4 / secs / 1e12
        print(f"| {h} x {w} x {frames} | {p.tokens:,} | {p.weights['DiT'] / 1e9:.2f} GB | "
              f"{p.dit_activation_bytes / 1e9:.2f} GB ({p.cross_mask_bytes / 1e9:.2f}) | "
              f"{sum(p.overhead.values()) / 1e9:.2f} GB | {dev / 1e9:.2f} GB | {peak} GB | "
              f"{dev / 1e9 / peak - 1:+.1%} | {p.flops_total / 1e15:.0f} | {secs} s | {tflops:.0f} "
              f"({tflops / H100_BF16_DENSE_TFLOPS:.0%}) |")

if __name__ == "__main__":
    main()

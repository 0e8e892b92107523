"""On paper: wall time and GPU-hours of the full protocol on 8, 64 and 256 H100s.

    python benchmarks/protocol_estimate.py [--gpus 8 64 256] [--sp 8] [--seconds-per-step S] [--json OUT]

The protocol: Step-Video-TI2V-Eval's 298 pairs x 3 motion settings, Step-Video-TI2V at its default
544x992x102, 50 steps with CFG (batch 2 per step), one sample each: 894 videos, then VBench-I2V on
all of them. Work is dealt as independent shards, one per sequence-parallel group of `--sp` GPUs
(docs/sharding.md); each shard loads the model once and makes its share of videos one after another.

Where each number comes from (printed with the table):
- denoise: the memory planner's FLOP count (generators/stepvideo/memory.py: every matmul, attention
  included) divided by a sustained per-GPU rate. The rate is *derived*, not measured here: the
  Step-Video-T2V README's published 50-step times on 4 GPUs (memory.PUBLISHED_T2V) with the
  planner's FLOPs give ~350 TFLOP/s per GPU (35% of H100 dense bf16); `--seconds-per-step` replaces
  it with a measured figure. SP=8 is assumed to keep that per-GPU rate (its all-to-alls are larger
  than SP=4's, so this is the optimistic side; `--mfu` shows another rate).
- VAE decode: FLOPs of the real decoder counted by torch's FlopCounterMode on the meta device (one
  17-frame chunk x chunks), at the same rate, on one GPU of the group (the others wait).
- text encode: 2 x parameters x tokens for Step-LLM (2 prompts x 320 tokens) and CLIP.
- load: the weights (planner's byte counts) read once per shard from shared storage at `--read-gbps`
  (an assumption: a node's share of a parallel filesystem), plus `--startup-s` for the process.
- write: H.264 encoding of one 102 x 544 x 992 video with stepeval.video.write_video, measured on
  this project's 2-core CPU box (1.6-1.7 s CPU; `--write-s`), on the group leader while its GPUs idle.
- VBench: about 12 h for the standard VBench suite (946 prompts x 5 videos, 16 dimensions) on one
  H100, the figure VBench's users quote -> ~9.1 s per video (VBench-I2V scores fewer dimensions, so
  this is the high side; `--vbench-s` replaces it); scored per shard and per GPU after generation,
  so its wall time divides by every GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generators.stepvideo import memory  # noqa: E402
from generators.stepvideo.conditioning import resolve_geometry  # noqa: E402
from generators.stepvideo.config import get_preset  # noqa: E402

ITEMS, MOTION_SETTINGS, STEPS = 298, 3, 50
FRAMES, HEIGHT, WIDTH = 102, 544, 992
VBENCH_S_PER_VIDEO = 12 * 3600 / (946 * 5)
WRITE_S = 2.0
STAGES = ("load", "text encode", "denoise", "VAE decode", "write", "VBench")
H100_BF16_DENSE_TFLOPS = 989.0


def published_rate_tflops() -> float:
    """Sustained TFLOP/s per GPU implied by the published Step-Video-T2V times (SP=4, flash attention)."""
    rates = []
    for frames, h, w, _peak, secs in memory.PUBLISHED_T2V:
        plan = memory.published_t2v_plan(frames, h, w)
        rates.append(plan.flops_total / 4 / secs / 1e12)
    return sum(rates) / len(rates)


def vae_decode_flops(frames: int = FRAMES, height: int = HEIGHT, width: int = WIDTH) -> float:
    """FLOPs of decoding one video with the real decoder, counted on the meta device (no memory)."""
    from torch.utils.flop_counter import FlopCounterMode

    from generators.stepvideo.vae import StepVideoVAE

    cfg = get_preset("official").vae
    f, h, w = resolve_geometry(frames, height, width).latent_shape
    with torch.device("meta"):
        decoder = StepVideoVAE(cfg).decoder.to(torch.bfloat16)
    chunk = torch.empty(1, cfg.z_channels, cfg.latents_per_chunk, h, w, device="meta", dtype=torch.bfloat16)
    with FlopCounterMode(display=False) as counter:
        decoder(chunk)
    return counter.get_total_flops() * math.ceil(f / cfg.latents_per_chunk)


@dataclass
class PerVideo:
    """Seconds one sequence-parallel group spends on one video, by stage."""

    text_encode: float
    denoise: float
    vae_decode: float
    write: float

    @property
    def total(self) -> float:
        return self.text_encode + self.denoise + self.vae_decode + self.write


@dataclass
class Estimate:
    gpus: int
    groups: int
    videos: int
    videos_per_group: int
    stage_wall_s: dict[str, float]  # the critical path: one group's stages, VBench on every GPU
    stage_gpu_hours: dict[str, float]  # what each stage costs over all GPUs (idle ranks included)

    @property
    def wall_s(self) -> float:
        return sum(self.stage_wall_s.values())

    @property
    def gpu_hours(self) -> float:
        return sum(self.stage_gpu_hours.values())


def per_video(sp: int, rate_tflops: float, decode_flops: float, write_s: float, seconds_per_step: float | None) -> tuple[PerVideo, memory.MemoryPlan]:
    cfg = get_preset("official")
    plan = memory.plan_memory(cfg, latent_shape=resolve_geometry(FRAMES, HEIGHT, WIDTH).latent_shape, steps=STEPS, guidance=True,
                              dtype=torch.bfloat16, sp_degree=sp)  # fmt: skip
    rate = rate_tflops * 1e12
    step_s = seconds_per_step if seconds_per_step is not None else plan.flops_per_step / rate
    text_params = memory.llm_params(cfg.llm) + memory.clip_params(cfg.clip)
    text_flops = 2 * text_params * 2 * cfg.llm.max_length  # prompt and negative prompt
    return PerVideo(text_encode=text_flops / rate, denoise=STEPS * step_s, vae_decode=decode_flops / rate, write=write_s), plan


def estimate(gpus: int, sp: int, video: PerVideo, plan: memory.MemoryPlan, *, read_gbps: float, startup_s: float,
             vbench_s: float, videos: int = ITEMS * MOTION_SETTINGS) -> Estimate:
    if gpus % sp:
        raise ValueError(f"{gpus} GPUs do not form groups of {sp}")
    groups = gpus // sp
    per_group = math.ceil(videos / groups)  # the slowest shard sets the wall time
    load_s = startup_s + sum(plan.weights.values()) / (read_gbps * 1e9)
    vbench_wall = math.ceil(videos / gpus) * vbench_s
    wall = {
        "load": load_s,
        "text encode": per_group * video.text_encode,
        "denoise": per_group * video.denoise,
        "VAE decode": per_group * video.vae_decode,
        "write": per_group * video.write,
        "VBench": vbench_wall,
    }
    # GPU-hours count every GPU of a group for every stage the group is in (a waiting GPU is held).
    gpu_h = {k: v * gpus / 3600 for k, v in wall.items() if k != "VBench"}
    # Shards that finish early release their GPUs: count the work, not the slowest shard, there.
    for k, per in (("text encode", video.text_encode), ("denoise", video.denoise), ("VAE decode", video.vae_decode), ("write", video.write)):
        gpu_h[k] = videos * per * sp / 3600
    gpu_h["VBench"] = videos * vbench_s / 3600
    return Estimate(gpus, groups, videos, per_group, wall, gpu_h)


def hours(s: float) -> str:
    return f"{s / 3600:.2f} h" if s >= 3600 else f"{s / 60:.1f} min"


def render(estimates: list[Estimate], video: PerVideo, plan: memory.MemoryPlan, rate: float, derived: bool, sp: int) -> str:
    lines = [
        f"Step-Video-TI2V {HEIGHT}x{WIDTH}x{FRAMES}, {STEPS} steps with CFG, {ITEMS} items x {MOTION_SETTINGS} motion settings "
        f"= {ITEMS * MOTION_SETTINGS} videos, SP={sp}",
        f"planner: {plan.flops_total / 1e15:.0f} PFLOP per video, {plan.flops_per_step / 1e15:.2f} PFLOP per step per GPU; "
        f"weights {sum(plan.weights.values()) / 1e9:.0f} GB per rank",
        f"rate: {rate:.0f} TFLOP/s per GPU ({rate / H100_BF16_DENSE_TFLOPS:.0%} of H100 dense bf16), "
        + ("derived from the published Step-Video-T2V times" if derived else "as given"),
        f"per video on one group: text {video.text_encode:.2f} s, denoise {video.denoise:.0f} s "
        f"({video.denoise / STEPS:.2f} s/step), VAE decode {video.vae_decode:.1f} s, write {video.write:.1f} s "
        f"= {video.total:.0f} s",
        "",
        "| H100s | groups | videos/group | wall time | GPU-hours | " + " | ".join(STAGES) + " |",
        "|---|---|---|---|---|" + "---|" * len(STAGES),
    ]
    for e in estimates:
        share = " | ".join(f"{hours(e.stage_wall_s[s])} ({e.stage_gpu_hours[s] / e.gpu_hours:.0%})" for s in STAGES)
        lines.append(f"| {e.gpus} | {e.groups} | {e.videos_per_group} | {hours(e.wall_s)} | {e.gpu_hours:.0f} | {share} |")
    lines.append("")
    lines.append("stage cells: wall time on the critical path (share of all GPU-hours)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gpus", type=int, nargs="+", default=[8, 64, 256])
    p.add_argument("--sp", type=int, default=8)
    p.add_argument("--seconds-per-step", type=float, default=None, help="measured seconds per denoising step of one group (replaces the FLOP model)")
    p.add_argument("--mfu", type=float, default=None, help="sustained fraction of H100 dense bf16 (default: derived from published times)")
    p.add_argument("--read-gbps", type=float, default=2.0, help="GB/s one node reads the weights at (assumption)")
    p.add_argument("--startup-s", type=float, default=30.0, help="process start, imports, CUDA init, run directory (assumption)")
    p.add_argument("--write-s", type=float, default=WRITE_S)
    p.add_argument("--vbench-s", type=float, default=VBENCH_S_PER_VIDEO)
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = p.parse_args(argv)

    derived = args.mfu is None
    rate = published_rate_tflops() if derived else args.mfu * H100_BF16_DENSE_TFLOPS
    video, plan = per_video(args.sp, rate, vae_decode_flops(), args.write_s, args.seconds_per_step)
    estimates = [estimate(g, args.sp, video, plan, read_gbps=args.read_gbps, startup_s=args.startup_s, vbench_s=args.vbench_s) for g in args.gpus]
    print(render(estimates, video, plan, rate, derived, args.sp))
    if args.json:
        args.json.write_text(json.dumps({"rate_tflops": rate, "per_video_s": asdict(video),
                                         "estimates": [{**asdict(e), "wall_s": e.wall_s, "gpu_hours": e.gpu_hours} for e in estimates]},
                                        indent=2), encoding="utf-8")  # fmt: skip


if __name__ == "__main__":
    main()

"""Make one Step-Video video (TI2V or T2V) on one process or an sp x cfg grid of processes.

    torchrun --nproc_per_node 4 -m generators.stepvideo.parallel_run \\
        --model-dir MODEL --image first.png --prompt "一只猫在草地上奔跑" \\
        --sp-degree 2 --cfg-degree 2 --frames 102 --height 544 --width 992 --out cat.mp4

The checkpoint says which model it is: a Step-Video-T2V folder takes no --image (and ignores
--motion-score); its frame default is 204.

A plain `python -m generators.stepvideo.parallel_run ...` is the single-process case. Every rank
loads the weights and samples its share; only rank 0 decodes and writes. For benchmark runs over
many items use `stepeval generate` (the batch runner), which shards items over video groups.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from stepeval.errors import UserError
from stepeval.generation.protocol import GenerationRequest
from stepeval.video import write_video

from stepeval.benchmark.items import T2V

from .generator import generator_for
from .parallel import shutdown_parallel


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m generators.stepvideo.parallel_run",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--model-dir", required=True, type=Path)
    p.add_argument("--image", type=Path, help="first frame (TI2V checkpoints; none for T2V)")
    p.add_argument("--prompt", required=True)
    p.add_argument("--out", type=Path, help="mp4 to write (rank 0)")
    p.add_argument("--latents-out", type=Path, help="also save the final fp32 latents (torch.save)")
    p.add_argument("--latents-only", action="store_true", help="skip the VAE decode (no mp4)")
    p.add_argument("--info-out", type=Path, help="write timings, settings and plan as JSON")
    p.add_argument("--frames", type=int, default=None, help="default: 102 (TI2V), 204 (T2V)")
    p.add_argument("--height", type=int, default=544)
    p.add_argument("--width", type=int, default=992)
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--cfg-scale", type=float, default=9.0)
    p.add_argument("--time-shift", type=float, default=13.0)
    p.add_argument("--motion-score", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--negative-prompt", default=None,
                   help="replaces the official negative magic prompt")
    p.add_argument("--no-magic-prompts", action="store_true")
    p.add_argument("--official-crop", action="store_true", help="centre-crop to 540x960 as upstream")
    p.add_argument("--vae-tile", type=int, default=None)
    p.add_argument("--numerics", default="stepeval", choices=["stepeval", "official"],
                   help="official: mirror the upstream code's casts, to compare with an official run bit for bit")
    p.add_argument("--dtype", default="auto", help="auto (bf16 on GPU, fp32 on CPU), bf16, fp32")
    p.add_argument("--offload", default="auto", choices=["auto", "none", "model", "blocks"])
    p.add_argument("--text-on-cpu", action="store_true")
    p.add_argument("--sp-degree", type=int, default=1)
    p.add_argument("--cfg-degree", type=int, default=1)
    p.add_argument("--device", default="auto")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cls = generator_for(args.model_dir)
    text_only = cls.capabilities.serves(T2V)
    if text_only and args.image is not None:
        raise UserError("this checkpoint is Step-Video-T2V: it takes no first image", path=args.image,
                        hint="drop --image, or pass a Step-Video-TI2V --model-dir")
    if not text_only and args.image is None:
        raise UserError("this checkpoint is Step-Video-TI2V: it needs --image (the first frame)",
                        path=args.model_dir)
    frames = args.frames or cls.capabilities.frame_counts[0]
    extra = {} if text_only else {"motion_score": args.motion_score}
    gen = cls(
        args.model_dir, dtype=args.dtype, offload=args.offload, text_on_cpu=args.text_on_cpu,
        sp_degree=args.sp_degree, cfg_degree=args.cfg_degree, fps=args.fps,
        sizes=((args.height, args.width),), frame_counts=(frames,), steps=args.steps,
        cfg_scale=args.cfg_scale, time_shift=args.time_shift,
        negative_prompt=args.negative_prompt, magic_prompts=not args.no_magic_prompts,
        official_crop=args.official_crop, vae_tile=args.vae_tile, numerics=args.numerics, **extra)
    try:
        gen.load(args.device)
        request = GenerationRequest(item_id="parallel_run", prompt=args.prompt,
                                    image_path=args.image, seed=args.seed,
                                    num_frames=frames, height=args.height, width=args.width,
                                    fps=args.fps)
        result = gen.generate(request, decode=not args.latents_only)
        if gen.is_writer:
            info = dict(result.info, seconds=result.seconds,
                        peak_memory_bytes=result.peak_memory_bytes)
            if args.out and not args.latents_only:
                t0 = time.perf_counter()
                write_video(args.out, result.frames, result.fps)
                info["timings"]["write"] = time.perf_counter() - t0
            if args.latents_out:
                torch.save(gen.pipeline.last_output.latents, args.latents_out)
            if args.info_out:
                args.info_out.write_text(json.dumps(info, indent=2, default=str))
            print(json.dumps({"out": str(args.out), "timings": info["timings"],
                              "notes": info["notes"]}, ensure_ascii=False))
    finally:
        shutdown_parallel(gen.parallel)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)

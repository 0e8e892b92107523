"""Time the README's main job, `stepeval run smoke`, and summarise the shipped tiny model.

    python benchmarks/smoke_run.py [--run-dir runs/smoke-bench] [--threads 2]

Prints: wall time by stage (prepare, generate, each metric, report), seconds per video per model
(from generations.parquet), and the tiny checkpoint's training record (training.json: time, final
losses, held-out evaluation) and size. A fresh run directory is used so nothing is resumed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from stepeval import pipeline_run
from stepeval.generation import registry
from stepeval.runs import Run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run-dir", default="runs/smoke-bench")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--config", default="smoke")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if "stepvideo-ti2v-tiny" not in registry.available():  # until the entry point is installed
        from generators.stepvideo.tiny.generator import StepVideoTI2VTiny

        registry.register("stepvideo-ti2v-tiny", StepVideoTI2VTiny)
    run_dir = Path(args.run_dir)
    shutil.rmtree(run_dir, ignore_errors=True)
    t0 = time.perf_counter()
    result = pipeline_run.run_pipeline(pipeline_run.resolve_config_path(args.config), run_dir=run_dir, show_progress=False)
    total = time.perf_counter() - t0
    print(f"\nsmoke run wall time: {total:.1f} s")
    for stage, s in result.stage_seconds.items():
        print(f"  {stage:24s} {s:7.1f} s")
    gens = Run.open(run_dir).generations.latest(("model_tag", "item_id", "sample"))
    print("seconds per video (generator time, median / mean):")
    for tag, grp in gens.groupby("model_tag"):
        print(f"  {tag:40s} {grp['seconds'].median():6.2f} / {grp['seconds'].mean():6.2f}  ({len(grp)} videos)")
    summary = pipeline_run.run_summary(Run.open(run_dir))
    print(json.dumps({k: v for k, v in summary.items() if "tiny" in k}, indent=1))
    from generators.stepvideo.tiny.weights import DEFAULT_DIR

    size = sum(p.stat().st_size for p in DEFAULT_DIR.rglob("*") if p.is_file())
    rec = json.loads((DEFAULT_DIR / "training.json").read_text())
    print(f"checkpoint {DEFAULT_DIR}: {size / 2**20:.2f} MiB")
    print(f"training: total {rec['total_seconds']:.0f} s (VAE {rec['vae']['seconds']:.0f} s, data {rec['data']['seconds']:.0f} s, "
          f"DiT {rec['dit']['seconds']:.0f} s); final VAE loss {rec['vae']['final_loss']:.4f}, final DiT loss {rec['dit']['final_loss']}")
    print(f"final held-out evaluation: {rec['final_eval']}")


if __name__ == "__main__":
    main()

"""The tiny model's acceptance as the harness measures it, on the smoke set and a second held-out set.

    python benchmarks/tiny_acceptance.py [--model-dir DIR] [--out DIR] [--heldout-n 30] [--heldout-seed 777001]

For each set, `stepeval run` generates the tiny model at motion scores 2 / 5 / 10 on the synthetic
benchmark (written from its seed; the held-out seed range is apart from training, validation and
the smoke set), scores it (motion score + the world's checks) and the floors of
generators/stepvideo/tiny/acceptance.py are applied to the run summary. The VAE's own
reconstructions of the same ground-truth clips are scored with the same subject checks (what the
DiT can at best reach). Prints one table and writes OUT/acceptance.json, and per set a PNG grid
(OUT/frames-SEED.png: input image, first and last frame at motion score 5, and the checks' verdicts)
to look at beside the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from generators.stepvideo.pipeline import to_uint8  # noqa: E402
from generators.stepvideo.tiny import acceptance  # noqa: E402
from generators.stepvideo.tiny.train import _to_tensor  # noqa: E402
from generators.stepvideo.tiny.weights import DEFAULT_DIR, load_tiny_checkpoint  # noqa: E402
from stepeval.benchmark import synthetic as world  # noqa: E402
from stepeval.metrics.subject import PRESENCE_FLOOR  # noqa: E402
from stepeval.metrics.synthetic import judge_direction, scene_named_subject, scene_subject_fidelity  # noqa: E402


def vae_reconstructions(model_dir: Path, scenes) -> dict:
    vae = load_tiny_checkpoint(model_dir).vae
    colour = shape = direction = held = 0
    with torch.no_grad():
        for _, scene in scenes:
            rec = to_uint8(vae.decode(vae.encode(_to_tensor(world.render(scene))[None]).mode())[0])
            f = scene_subject_fidelity(rec, scene)
            colour += f.colour_kept
            held += scene_named_subject(rec, scene).presence >= PRESENCE_FLOOR
            shape += f.shape_kept
            direction += judge_direction(rec).label == scene.expected_flow and f.follows(scene.expected_flow)
    n = len(scenes)
    return {"items": n, "colour_kept": colour / n, "shape_kept": shape / n, "colour_held": held / n,
            "direction": direction / n}


def harness_run(model_dir: Path, n: int, seed: int, out: Path) -> dict:
    from stepeval.cli.main import main
    from stepeval.pipeline_run import run_summary
    from stepeval.runs import Run

    config = {"name": f"tiny-acceptance-{seed}", "benchmark": {"synthetic": {"n": n, "seed": seed}}, "seed": 0,
              "device": "cpu", "vbench_view": False,
              "models": [{"name": acceptance.FAMILY, "tag": acceptance.FAMILY, "params": {"model_dir": str(model_dir)},
                          "sweep": {"motion_score": list(acceptance.MOTION_SCORES)}}],
              "metrics": {"motion_score": {}, "synthetic": {}}, "report": {"formats": ["json"], "bootstrap": 50}}
    path = out / f"config-{seed}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    run_dir = out / f"run-{seed}"
    t0 = time.perf_counter()
    code = main(["run", str(path), "--run-dir", str(run_dir), "--no-progress"])
    if code != 0:
        raise SystemExit(f"stepeval run failed ({code}) for {path}")
    run = Run.open(run_dir)
    summary = run_summary(run)
    tags = acceptance.setting_tags()
    frame_grid(run, run_dir / "benchmark", tags[1], out / f"frames-{seed}.png")
    pooled = {m: float(np.mean([summary[f"{t}/synthetic/{m}"] for t in tags]))
              for m in ("subject_colour_kept", "subject_shape_kept", "subject_colour_held", "direction_match",
                        "first_frame_psnr", "clean_content")}
    return {"items": n, "seed": seed, "seconds": round(time.perf_counter() - t0, 1), "pooled": pooled,
            "direction_by_move": direction_by_move(run, dict(world.smoke_scenes(n, seed=seed)), tags),
            "motion_spearman": summary.get(f"{acceptance.FAMILY}/motion_spearman"),
            "per_setting": {t: {k.split("/", 1)[1]: v for k, v in summary.items() if k.startswith(t + "/")} for t in tags},
            "floor_failures": acceptance.floor_failures(summary)}


def direction_by_move(run, scenes: dict, tags: list[str]) -> dict:
    """Videos following their direction, push-in / pull-out apart from the rest (the weakest move of a
    64x64 model: a zoom's radial flow is a fraction of a pixel per frame), as [followed, videos]."""
    from stepeval.metrics.synthetic import METRIC_DIRECTION

    scores = run.scores.latest(("model_tag", "item_id", "sample", "metric"))
    scores = scores[scores["model_tag"].isin(tags) & (scores["metric"] == METRIC_DIRECTION)]
    counts = {"zoom": [0, 0], "other": [0, 0]}
    for item, value in zip(scores["item_id"], scores["value"]):
        if item in scenes:
            kind = counts["zoom" if scenes[item].expected_flow in ("in", "out") else "other"]
            kind[0] += int(value >= 1)
            kind[1] += 1
    return counts


def frame_grid(run, bench_dir: Path, tag: str, path: Path, scale: int = 4, per_row: int = 4) -> Path:
    """Input image | first frame | last frame of every item of `tag`, 4x, with its subject verdicts."""
    from PIL import Image, ImageDraw

    from stepeval.metrics.synthetic import METRIC_COLOUR_KEPT, METRIC_DIRECTION, METRIC_SHAPE_KEPT
    from stepeval.video import read_video

    scores = run.scores.latest(("model_tag", "item_id", "sample", "metric"))
    scores = scores[scores["model_tag"] == tag].set_index(["item_id", "metric"])["value"]
    items = sorted(p.stem for p in bench_dir.glob("*.png"))
    side = world.SIZE * scale
    cell_w, cell_h = 3 * side + 12, side + 22
    grid = Image.new("RGB", (per_row * cell_w, -(-len(items) // per_row) * cell_h), "white")
    draw = ImageDraw.Draw(grid)
    for k, item in enumerate(items):
        x, y = (k % per_row) * cell_w, (k // per_row) * cell_h
        frames = read_video(run.video_path(tag, item))
        for j, img in enumerate((Image.open(bench_dir / f"{item}.png").convert("RGB"), frames[0], frames[-1])):
            pic = img if isinstance(img, Image.Image) else Image.fromarray(img)
            grid.paste(pic.resize((side, side), Image.NEAREST), (x + j * side, y))
        verdict = "  ".join(f"{name} {'ok' if scores.get((item, m), 0.0) >= 1 else 'LOST'}"
                            for name, m in (("colour", METRIC_COLOUR_KEPT), ("shape", METRIC_SHAPE_KEPT),
                                            ("direction", METRIC_DIRECTION)))
        draw.text((x + 2, y + side + 4), f"{item}: input | first | last   {verdict}", fill="black")
    grid.save(path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--out", type=Path, default=Path("/tmp/stepeval-tiny-acceptance"))
    parser.add_argument("--heldout-n", type=int, default=30)
    parser.add_argument("--heldout-seed", type=int, default=777001)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sets = {"smoke": (16, world.SMOKE_SEED), "held-out": (args.heldout_n, args.heldout_seed)}
    result = {"model_dir": str(args.model_dir), "sets": {}}
    for name, (n, seed) in sets.items():
        scenes = world.smoke_scenes(n, seed=seed)
        result["sets"][name] = {"vae": vae_reconstructions(args.model_dir, scenes),
                                "generated": harness_run(args.model_dir, n, seed, args.out)}
    (args.out / "acceptance.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"{'set':9s} {'VAE colour':>10s} {'VAE shape':>9s} {'VAE held':>8s} | {'colour':>6s} {'shape':>6s} "
          f"{'held':>6s} {'direction':>9s} {'zooms':>6s} {'PSNR':>6s} {'clean':>6s} {'Spearman':>8s}  floors")
    for name, r in result["sets"].items():
        v, g = r["vae"], r["generated"]
        p = g["pooled"]
        zooms = "{}/{}".format(*g["direction_by_move"]["zoom"])
        print(f"{name:9s} {v['colour_kept']:10.3f} {v['shape_kept']:9.3f} {v['colour_held']:8.3f} | "
              f"{p['subject_colour_kept']:6.3f} {p['subject_shape_kept']:6.3f} {p['subject_colour_held']:6.3f} "
              f"{p['direction_match']:9.3f} {zooms:>6s} {p['first_frame_psnr']:6.2f} "
              f"{p['clean_content']:6.3f} {g['motion_spearman']:8.3f}  {'pass' if not g['floor_failures'] else 'FAIL'}")
        for failure in g["floor_failures"]:
            print(f"    {failure}")
    print(f"wrote {args.out / 'acceptance.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Public testing helpers of the reports package: a synthetic run (run.yaml, generations.parquet,
scores.parquet) and judgments with known strengths, for report previews, benchmarks and the tests of
anyone building on the report. No video is written: the report's tables never read videos.

Items follow Step-Video-TI2V-Eval's ids and counts (real H 95, S 11, V 72; anime H 10, S 20, V 90).
Judgments follow a Bradley-Terry model with the given log-strengths and a tie probability, each
item judged by every annotator on every dimension, with the screen side randomised.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from stepeval.generation.tags import motion_request, parse_tag
from stepeval.human.dimensions import DIMENSION_NAMES
from stepeval.human.schema import JUDGMENT_COLUMNS
from stepeval.metrics.aggregate import DIMENSION_KEYS
from stepeval.runs import Run

COUNTS = {("real", "H"): 95, ("real", "S"): 11, ("real", "V"): 72, ("anime", "H"): 10, ("anime", "S"): 20, ("anime", "V"): 90}


def step_eval_items(n: int | None = None) -> pd.DataFrame:
    """item_id, domain, aspect of the 298 items (or the first `n`, taken round-robin over domains)."""
    rows = []
    for domain in ("real", "anime"):
        number = 0
        for aspect in ("H", "S", "V"):
            for _ in range(COUNTS[(domain, aspect)]):
                number += 1
                rows.append({"item_id": f"{domain}/{aspect}/{number:03d}", "domain": domain, "aspect": aspect})
    items = pd.DataFrame(rows)
    if n is not None and n < len(items):
        real, anime = items[items["domain"] == "real"], items[items["domain"] == "anime"]
        k = int(round(n * len(real) / len(items)))
        items = pd.concat([real.iloc[:: max(1, len(real) // max(k, 1))].head(k),
                           anime.iloc[:: max(1, len(anime) // max(n - k, 1))].head(n - k)], ignore_index=True)
    return items.reset_index(drop=True)


def simulate_judgments(
    items: pd.DataFrame,
    models: Sequence[str],
    strengths: Sequence[float],
    *,
    run_name: str,
    annotators: int = 3,
    dimensions: Sequence[str] = DIMENSION_NAMES,
    pairs: Sequence[tuple[str, str]] | None = None,
    tie_prob: float = 0.25,
    gold_per_annotator: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """A judgments frame in the contract's columns; `pairs` defaults to every pair of models."""
    rng = np.random.default_rng(seed)
    theta = dict(zip(models, strengths))
    pairs = list(pairs) if pairs is not None else list(combinations(models, 2))
    n_items, n_dims = len(items), len(dimensions)
    frames = []
    for p, (a, b) in enumerate(pairs):
        shape = (n_items, annotators, n_dims)
        swapped = np.broadcast_to(rng.random((n_items, annotators, 1)) < 0.5, shape)
        tie = rng.random(shape) < tie_prob
        a_wins = rng.random(shape) < expit(theta[a] - theta[b])
        outcome = np.where(tie, "tie", np.where(a_wins, "A", "B"))
        left_is_a = ~swapped
        screen = np.where(outcome == "tie", "tie", np.where((outcome == "A") == left_is_a, "left", "right"))
        i, k, d = np.indices(shape).reshape(3, -1)
        frames.append(pd.DataFrame({
            "study_id": f"study-{p}", "run_name": run_name,
            "item_id": items["item_id"].to_numpy()[i], "domain": items["domain"].to_numpy()[i],
            "aspect": items["aspect"].to_numpy()[i], "annotator": np.char.add("annotator-", k.astype(str)),
            "task_id": [f"t{p}-{x}-{y}" for x, y in zip(i, k)], "dimension": np.asarray(dimensions)[d],
            "screen_label": screen.ravel(), "model_a": a, "model_b": b, "swapped": swapped.ravel(),
            "outcome": outcome.ravel(), "is_gold": False, "cannot_judge": False,
            "seconds": rng.uniform(8, 60, i.size).round(1), "created_at": "2025-01-01T00:00:00+0000", "source": "app",
        }))
    if gold_per_annotator:
        rows = []
        for k in range(annotators):
            for g in range(gold_per_annotator):
                item = items.iloc[g % n_items]
                m = models[g % len(models)]
                for dim in dimensions:
                    label = "tie" if rng.random() < 0.9 else rng.choice(["A", "B"])
                    rows.append({"study_id": "study-0", "run_name": run_name, "item_id": item["item_id"],
                                 "domain": item["domain"], "aspect": item["aspect"], "annotator": f"annotator-{k}",
                                 "task_id": f"gold-{k}-{g}", "dimension": dim,
                                 "screen_label": {"tie": "tie", "A": "left", "B": "right"}[label], "model_a": m,
                                 "model_b": m, "swapped": False, "outcome": label, "is_gold": True, "cannot_judge": False,
                                 "seconds": 20.0, "created_at": "2025-01-01T00:00:00+0000", "source": "app"})
        frames.append(pd.DataFrame(rows))
    return pd.concat(frames, ignore_index=True)[list(JUDGMENT_COLUMNS)]


def generation_rows(items: pd.DataFrame, models: Sequence[str], *, refused: dict[str, Sequence[str]] | None = None) -> list[dict]:
    refused = refused or {}
    rows = []
    for m in models:
        for item in items["item_id"]:
            status = "refused" if item in set(refused.get(m, ())) else "ok"
            rows.append({"model_tag": m, "item_id": item, "sample": 0, "seed": 0, "generator": parse_tag(m)[0],
                         "parameters": "{}", "fps": 24.0, "frames": 49, "width": 544, "height": 992, "seconds": 30.0,
                         "peak_memory_bytes": None, "status": status, "error": "content filter" if status == "refused" else None,
                         "traceback": None, "video_path": f"videos/{m}/{item}.mp4", "created_at": "2025-01-01T00:00:00+0000",
                         "host": "synthetic", "rank": 0})
    return rows


def score_rows(items: pd.DataFrame, models: Sequence[str], *, seed: int = 0, dimensions: Sequence[str] = DIMENSION_KEYS,
               motion: bool = True) -> list[dict]:
    """Per-video VBench-I2V values (model-specific levels plus noise) and motion scores; camera_motion
    is ``excluded`` on about a third of the items (no camera instruction)."""
    rng = np.random.default_rng(seed)
    rows = []
    env = json.dumps({"vbench": "synthetic"})
    for j, m in enumerate(models):
        level = rng.uniform(0.55, 0.95, len(dimensions))
        request = motion_request(m)
        requested = request[1] if request else None
        for item in items["item_id"]:
            for dim, base in zip(dimensions, level):
                excluded = dim == "camera_motion" and zlib.crc32(item.encode()) % 3 == 0
                rows.append({"model_tag": m, "item_id": item, "sample": 0, "metric": f"vbench_i2v/{dim}",
                             "value": np.nan if excluded else float(np.clip(base + rng.normal(0, 0.05), 0, 1)),
                             "status": "excluded" if excluded else "ok", "error": None, "details": "{}", "env": env,
                             "scored_at": "2025-01-01T00:00:00+0000"})
            if motion:
                mu = 1.0 + 0.8 * (requested if requested is not None else 3 + j)
                rows.append({"model_tag": m, "item_id": item, "sample": 0, "metric": "motion_score",
                             "value": float(max(0.0, rng.normal(mu, 0.6))), "status": "ok", "error": None,
                             "details": "{}", "env": "{}", "scored_at": "2025-01-01T00:00:00+0000"})
    return rows


def make_run(
    root: str | Path,
    models: Sequence[str],
    *,
    items: pd.DataFrame | None = None,
    strengths: Sequence[float] | None = None,
    annotators: int = 3,
    scores: bool = True,
    judgments: bool = True,
    refused: dict[str, Sequence[str]] | None = None,
    benchmark: str | Path | None = None,
    seed: int = 0,
    judgments_file: str = "judgments.jsonl",
    gold_per_annotator: int = 2,
) -> tuple[Run, pd.DataFrame]:
    """Create a synthetic run directory; returns the run and its judgments (written to
    ``RUN/<judgments_file>`` as JSONL when `judgments` is true)."""
    items = items if items is not None else step_eval_items()
    # Without a benchmark folder the run points at one that does not exist: the report then says
    # that prompts cannot be shown, as it would for a run whose benchmark was moved away.
    config: dict = {"models": [{"name": parse_tag(m)[0], "tag": m} for m in models],
                    "benchmark": {"path": str(benchmark if benchmark is not None else Path(root) / "benchmark"), "kind": "auto"}}
    run = Run.create(root, config, command="synthetic")
    run.generations.append(generation_rows(items, models, refused=refused))
    if scores:
        run.scores.append(score_rows(items, models, seed=seed))
    frame = pd.DataFrame(columns=list(JUDGMENT_COLUMNS))
    if judgments:
        strengths = strengths if strengths is not None else np.linspace(0.6, -0.6, len(models))
        frame = simulate_judgments(items, models, strengths, run_name=run.name, annotators=annotators, seed=seed,
                                   gold_per_annotator=gold_per_annotator)
        frame.to_json(run.root / judgments_file, orient="records", lines=True, force_ascii=False)
    return run, frame

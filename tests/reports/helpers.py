"""Builders for judgment frames and synthetic runs used by the report tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from PIL import Image

from reports.judgments import COLUMNS, prepare_judgments

RUN = "golden-run"


def j(item, dim, annotator, model_a, model_b, outcome, *, domain=None, aspect="H", swapped=False, gold=False,
      cannot_judge=False, source="app", run_name=RUN, screen=None):
    """One judgment row; `outcome` is A/tie/B (the study's view)."""
    domain = domain or item.split("/")[0]
    if screen is None:
        screen = {"tie": "tie", "A": "right" if swapped else "left", "B": "left" if swapped else "right"}[outcome]
    return {"study_id": "s1", "run_name": run_name, "item_id": item, "domain": domain, "aspect": aspect,
            "annotator": annotator, "task_id": f"{item}|{annotator}|{model_a}|{model_b}", "dimension": dim,
            "screen_label": screen, "model_a": model_a, "model_b": model_b, "swapped": swapped, "outcome": outcome,
            "is_gold": gold, "cannot_judge": cannot_judge, "seconds": 12.0, "created_at": "2025-01-01T00:00:00",
            "source": source}


def focal_side(item, dim, annotator, focal, opponent, result, *, as_b=False, **kw):
    """A judgment whose `result` (W/T/L) is from the focal model's side; with `as_b` the focal model
    is the study's model B, so the stored outcome is flipped."""
    if as_b:
        outcome = {"W": "B", "T": "tie", "L": "A"}[result]
        return j(item, dim, annotator, opponent, focal, outcome, **kw)
    outcome = {"W": "A", "T": "tie", "L": "B"}[result]
    return j(item, dim, annotator, focal, opponent, outcome, **kw)


def frame(rows) -> pd.DataFrame:
    return prepare_judgments(pd.DataFrame(rows, columns=list(COLUMNS)))


def write_bench(bench: Path, item_ids, prompt: Callable[[int], str]) -> Path:
    """A folder benchmark for report tests: a tiny image per item and `prompt(n)` as its text."""
    for n, item in enumerate(item_ids):
        (bench / item).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (16, 9), (n * 20 % 255, 80, 120)).save(bench / f"{item}.png")
        (bench / f"{item}.txt").write_text(prompt(n), encoding="utf-8")
    return bench

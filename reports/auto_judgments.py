"""Pairwise judgments derived from metrics, labelled ``source = "auto"``.

They let CI, or a first look at a run, produce a Table 2 without annotators. They are a proxy, not
a human study: the report shows them in their own section, and `reports.judgments` refuses any
frame that mixes them with human judgments.

Each of the three human dimensions is mapped to per-video metrics (``AUTO_METRICS``; the mapping is
a heuristic, stated in the report): for an item both models scored, a model wins a dimension when
its mean over the metrics both videos have exceeds the other's by more than `margin` (raw units,
values in [0, 1]), else it is a tie. One judgment per (pair, item, dimension), annotator ``auto``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from reports.items import item_meta
from reports.judgments import COLUMNS
from reports.vbench_table import MODEL_ITEM, latest_scores

AUTO_METRICS: dict[str, tuple[str, ...]] = {
    # Does the video do what was asked: the camera instruction when VBench could read one, and
    # whether anything moves at all (a static clip fails the instruction).
    "instruction_adherence": ("vbench_i2v/camera_motion", "vbench_i2v/dynamic_degree"),
    # Faithful to the input image in subject and background.
    "consistency": ("vbench_i2v/i2v_subject", "vbench_i2v/i2v_background"),
    # Plausible motion: smooth, without warping artefacts.
    "physical_laws": ("vbench_i2v/motion_smoothness",),
}
DEFAULT_MARGIN = 0.01
ANNOTATOR = "auto"


def auto_judgments(
    scores: pd.DataFrame | None,
    *,
    models: Sequence[str],
    run_name: str,
    margin: float = DEFAULT_MARGIN,
    metrics: dict[str, tuple[str, ...]] | None = None,
    items: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A judgments frame (docs/data-contracts.md columns) comparing every pair of `models` (in that
    order: the earlier model is A) on every item both have per-video scores for."""
    metrics = metrics or AUTO_METRICS
    latest = latest_scores(scores)
    wanted = sorted({m for ms in metrics.values() for m in ms})
    rows = latest[latest["metric"].isin(wanted) & (latest["status"] == "ok") & (latest["item_id"] != MODEL_ITEM)
                  & latest["model_tag"].isin(models)]
    if "sample" in rows.columns:
        rows = rows[pd.to_numeric(rows["sample"], errors="coerce").fillna(0) == 0]  # first sample: one video per item
    values = pd.to_numeric(rows["value"], errors="coerce")
    rows = rows.assign(value=values)[np.isfinite(values)]
    table = rows.pivot_table(index=["model_tag", "item_id"], columns="metric", values="value", aggfunc="last")
    meta = item_meta(items if items is not None else pd.DataFrame(), rows[["item_id"]])
    domain = dict(zip(meta["item_id"], meta["domain"]))
    aspect = dict(zip(meta["item_id"], meta["aspect"]))
    out = []
    present = [m for m in models if m in table.index.get_level_values(0)]
    for model_a, model_b in combinations(present, 2):
        a, b = table.loc[model_a], table.loc[model_b]
        common = a.index.intersection(b.index)
        for dimension, names in metrics.items():
            cols = [c for c in names if c in table.columns]
            if not cols:
                continue
            va, vb = a.loc[common, cols], b.loc[common, cols]
            both = va.notna() & vb.notna()  # compare on the metrics both videos have
            diff = (va.where(both).mean(axis=1) - vb.where(both).mean(axis=1)).dropna()
            for item, d in diff.items():
                outcome = "A" if d > margin else ("B" if d < -margin else "tie")
                out.append({
                    "study_id": "auto", "run_name": run_name, "item_id": item, "domain": domain.get(item, ""),
                    "aspect": aspect.get(item, ""), "annotator": ANNOTATOR, "task_id": f"auto:{model_a}|{model_b}|{item}",
                    "dimension": dimension, "screen_label": {"A": "left", "B": "right", "tie": "tie"}[outcome],
                    "model_a": model_a, "model_b": model_b, "swapped": False, "outcome": outcome, "is_gold": False,
                    "cannot_judge": False, "seconds": np.nan, "created_at": "", "source": "auto",
                })
    return pd.DataFrame(out, columns=list(COLUMNS))


def describe_mapping(metrics: dict[str, tuple[str, ...]] | None = None, margin: float = DEFAULT_MARGIN) -> str:
    metrics = metrics or AUTO_METRICS
    parts = [f"{dim}: mean of {', '.join(m.split('/')[-1] for m in ms)}" for dim, ms in metrics.items()]
    return f"win when higher by more than {margin:g} (raw units), else tie; " + "; ".join(parts)

"""The automatic judge: pairwise Win/Tie/Loss judgments derived from per-video metrics.

It lets CI, or a first look at a run, produce the human protocol's Table 2 without annotators. It
is a proxy, not a human study: its judgments carry ``source = "auto"`` and annotator ``auto``, and
reports keep them apart from human ones.

One function for every metric family, parametrised by a mapping from the protocol's dimensions
(stepeval.human.dimensions) to per-video metrics: for every pair of models and every item both
have, per dimension, each model's value is the mean of the dimension's metrics that BOTH videos
have; the model higher by more than `margin` (raw units) wins, else it is a tie. The mappings live
beside the metrics they name (`stepeval.metrics.synthetic.JUDGE_METRICS`,
`stepeval.metrics.vbench_i2v.JUDGE_METRICS`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from stepeval.human.dimensions import ALL_DIMENSION_NAMES
from stepeval.human.schema import JUDGMENT_COLUMNS
from stepeval.metrics.common import MODEL_ITEM

DEFAULT_MARGIN = 0.01
ANNOTATOR = "auto"
# Where `stepeval run` leaves the judgments it derived, in the run folder; `stepeval report RUN`
# reads them from there when no store or export holds automatic judgments.
AUTO_JUDGMENTS_FILE = "auto-judgments.jsonl"
SOURCE = "auto"
_SCREEN = {"A": "left", "B": "right", "tie": "tie"}


def step_eval_item_info(item_id: str) -> tuple[str, str]:
    """(domain, aspect) of a Step-Video-TI2V-Eval id `{domain}/{aspect}/{number}`; ("", "") otherwise."""
    parts = str(item_id).split("/")
    if len(parts) == 3 and parts[0] in ("real", "anime"):
        return parts[0], parts[1]
    return "", ""


def check_mapping(mapping: Mapping[str, Sequence[str]]) -> None:
    unknown = sorted(set(mapping) - set(ALL_DIMENSION_NAMES))
    if unknown:
        raise ValueError(f"unknown dimension(s) {', '.join(unknown)} in a judge mapping; the dimensions are {', '.join(ALL_DIMENSION_NAMES)}")
    for dim, metrics in mapping.items():
        if isinstance(metrics, str) or not metrics:
            raise ValueError(f"dimension {dim!r} must map to a non-empty sequence of metric names, got {metrics!r}")


def pairwise_judgments(
    scores: pd.DataFrame | None,
    mapping: Mapping[str, Sequence[str]],
    *,
    models: Sequence[str],
    run_name: str,
    margin: float = DEFAULT_MARGIN,
    study_id: str = "auto",
    item_info: Callable[[str], tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """A judgments frame (the data contract's columns) comparing every pair of `models`, in that
    order (the earlier model is A), on every item both have per-video scores for (first sample).

    scores: rows of scores.parquet (the latest row per key is used; only ok, finite values).
    mapping: dimension -> metric names; a dimension whose metrics no video has is left out.
    item_info: item id -> (domain, aspect) for the frame's columns (default: parsed from
        Step-Video-TI2V-Eval ids)."""
    check_mapping(mapping)
    columns = list(JUDGMENT_COLUMNS)
    info = item_info or step_eval_item_info
    table = _per_video_table(scores, sorted({m for ms in mapping.values() for m in ms}), models)
    if table is None:
        return pd.DataFrame(columns=columns)
    present = [m for m in dict.fromkeys(models) if m in set(table.index.get_level_values(0))]
    out = []
    for model_a, model_b in combinations(present, 2):
        a, b = table.loc[model_a], table.loc[model_b]
        common = a.index.intersection(b.index).sort_values()
        diffs: dict[str, pd.Series] = {}
        for dimension, names in mapping.items():
            cols = [c for c in names if c in table.columns]
            if not cols:
                continue
            va, vb = a.loc[common, cols], b.loc[common, cols]
            both = va.notna() & vb.notna()  # compare on the metrics both videos have
            # a - b of the same two means, so swapping the models negates it exactly.
            diffs[dimension] = va.where(both).mean(axis=1) - vb.where(both).mean(axis=1)
        for item in common:
            domain, aspect = info(item)
            for dimension, diff in diffs.items():
                d = float(diff.at[item])
                if not np.isfinite(d):
                    continue
                outcome = "A" if d > margin else ("B" if d < -margin else "tie")
                out.append({
                    "study_id": study_id, "run_name": run_name, "item_id": item, "domain": domain, "aspect": aspect,
                    "annotator": ANNOTATOR, "task_id": f"auto:{model_a}|{model_b}|{item}", "dimension": dimension,
                    "screen_label": _SCREEN[outcome], "model_a": model_a, "model_b": model_b, "swapped": False,
                    "outcome": outcome, "is_gold": False, "cannot_judge": False, "seconds": np.nan, "created_at": "",
                    "source": SOURCE,
                })
    return pd.DataFrame(out, columns=columns)


def _per_video_table(scores: pd.DataFrame | None, metrics: Sequence[str], models: Sequence[str]) -> pd.DataFrame | None:
    """(model_tag, item_id) x metric of the latest ok finite first-sample values, or None when empty."""
    if scores is None or scores.empty:
        return None
    keys = [c for c in ("model_tag", "item_id", "sample", "metric") if c in scores.columns]
    latest = scores.drop_duplicates(subset=keys, keep="last")
    if "status" in latest.columns:
        latest = latest[latest["status"] == "ok"]
    rows = latest[latest["metric"].isin(list(metrics)) & (latest["item_id"] != MODEL_ITEM) & latest["model_tag"].isin(list(models))]
    if "sample" in rows.columns:
        rows = rows[pd.to_numeric(rows["sample"], errors="coerce").fillna(0) == 0]  # one video per item
    values = pd.to_numeric(rows["value"], errors="coerce")
    rows = rows.assign(value=values)[np.isfinite(values)]
    if rows.empty:
        return None
    return rows.pivot_table(index=["model_tag", "item_id"], columns="metric", values="value", aggfunc="last")


def describe(mapping: Mapping[str, Sequence[str]], margin: float = DEFAULT_MARGIN) -> str:
    """One sentence for a report: how the judgments were derived."""
    parts = [f"{dim}: mean of {', '.join(m.split('/')[-1] for m in ms)}" for dim, ms in mapping.items()]
    return f"win when higher by more than {margin:g} (raw units), else tie; " + "; ".join(parts)

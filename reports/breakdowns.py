"""Breakdowns of the pairwise results and of the per-video scores by domain, aspect, or taxonomy
category (when a label file is given; an item with several categories counts in each).

A Step-Video-T2V-Eval item's category is its domain, so "by domain" is the per-category breakdown of a
text-to-video run; its items have no aspect, and `has_groups` says so."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports.items import item_meta  # noqa: F401  (re-exported: breakdowns group by it)
from reports.judgments import ordered_dimensions, ordered_domains
from reports.statistics import counts_by
from reports.vbench_table import MODEL_ITEM, MOTION_METRIC, PREFIX, latest_scores
from stepeval.metrics.aggregate import DIMENSION_KEYS

BY = ("domain", "aspect", "category")


def _with_group(rows: pd.DataFrame, by: str, items: pd.DataFrame, labels: pd.DataFrame | None) -> pd.DataFrame:
    if by not in BY:
        raise ValueError(f"by must be one of {BY}, got {by!r}")
    if by == "category":
        if labels is None or labels.empty:
            return rows.iloc[0:0].assign(group=[])
        return rows.merge(labels[["item_id", "category"]], on="item_id", how="inner").rename(columns={"category": "group"})
    if by in rows.columns:
        return rows.assign(group=rows[by].replace("", "(none)"))
    return rows.merge(items[["item_id", by]], on="item_id", how="left").rename(columns={by: "group"}).fillna({"group": "(none)"})


def pairwise_breakdown(resolved: pd.DataFrame, by: str, *, items: pd.DataFrame | None = None,
                       labels: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-item (majority) W-T-L and tie-half win rate per opponent, dimension and group."""
    items = items if items is not None else pd.DataFrame(columns=["item_id", "domain", "aspect"])
    columns = ["opponent", "dimension", "group", "wins", "ties", "losses", "n", "tie_half", "low", "high"]
    if resolved.empty:
        return pd.DataFrame(columns=columns)
    grouped = _with_group(resolved, by, items, labels)
    if grouped.empty:
        return pd.DataFrame(columns=columns)
    out = counts_by(grouped, ("opponent", "dimension", "group"))[columns]
    # Rows in reading order: opponents as judged, dimensions in their template's order, groups in
    # the report's domain order (or by name).
    ranks = {
        "opponent": {o: k for k, o in enumerate(pd.unique(out["opponent"]))},
        "dimension": {d: k for k, d in enumerate(ordered_dimensions(out["dimension"]))},
        "group": {g: k for k, g in enumerate(ordered_domains(out["group"]) if by == "domain" else sorted(set(out["group"]), key=str))},
    }
    return out.sort_values(list(ranks), key=lambda col: col.map(ranks[col.name]), kind="stable").reset_index(drop=True)


def has_groups(by: str, resolved: pd.DataFrame, items: pd.DataFrame | None) -> bool:
    """Whether any judged item has a `by` value (domain or aspect): a breakdown of only "(none)" says
    nothing (text-to-video items have no aspect)."""
    if by not in ("domain", "aspect") or resolved.empty:
        return True
    values = resolved[by] if by in resolved.columns else (
        items.set_index("item_id")[by].reindex(resolved["item_id"]) if items is not None and by in items.columns else pd.Series(dtype=object))
    return bool((values.fillna("").astype(str) != "").any())


def score_breakdown(scores: pd.DataFrame | None, models: list[str], by: str, *, items: pd.DataFrame | None = None,
                    labels: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean per-video score per model, group and metric (the nine VBench dimensions and the motion
    score), with the number of videos; per-model rows are not used (they have no item)."""
    items = items if items is not None else pd.DataFrame(columns=["item_id", "domain", "aspect"])
    columns = ["model_tag", "group", "metric", "mean", "videos"]
    latest = latest_scores(scores)
    wanted = [PREFIX + k for k in DIMENSION_KEYS] + [MOTION_METRIC]
    rows = latest[latest["metric"].isin(wanted) & (latest["status"] == "ok") & (latest["item_id"] != MODEL_ITEM)
                  & latest["model_tag"].isin(models)]
    rows = rows.assign(value=pd.to_numeric(rows["value"], errors="coerce"))
    rows = rows[np.isfinite(rows["value"])]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    grouped = _with_group(rows[["model_tag", "item_id", "metric", "value"]], by, items, labels)
    if grouped.empty:
        return pd.DataFrame(columns=columns)
    out = grouped.groupby(["model_tag", "group", "metric"], sort=True)["value"].agg(["mean", "count"]).reset_index()
    return out.rename(columns={"count": "videos"})[columns]


def score_breakdown_wide(long: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Rows = (group, metric), columns = models, values = means."""
    if long.empty:
        return pd.DataFrame(columns=["group", "metric", *models])
    wide = long.pivot_table(index=["group", "metric"], columns="model_tag", values="mean", aggfunc="first")
    return wide.reindex(columns=[m for m in models if m in wide.columns]).reset_index()


def score_overall(scores: pd.DataFrame | None, models: list[str]) -> pd.DataFrame:
    """Per model and metric, over all the model's videos: mean, standard deviation and number of
    videos, for every per-video metric of the run (a run's overall motion score among them)."""
    columns = ["model_tag", "metric", "mean", "sd", "videos"]
    latest = latest_scores(scores)
    rows = latest[(latest["status"] == "ok") & (latest["item_id"] != MODEL_ITEM) & latest["model_tag"].isin(models)]
    rows = rows.assign(value=pd.to_numeric(rows["value"], errors="coerce"))
    rows = rows[np.isfinite(rows["value"])]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    out = rows.groupby(["model_tag", "metric"], sort=False)["value"].agg(["mean", "std", "count"]).reset_index()
    out = out.rename(columns={"std": "sd", "count": "videos"})
    order = {m: k for k, m in enumerate(models)}
    metrics = sorted(out["metric"].unique(), key=metric_rank)
    out["_m"] = out["metric"].map({m: k for k, m in enumerate(metrics)})
    out["_t"] = out["model_tag"].map(order)
    return out.sort_values(["_m", "_t"]).drop(columns=["_m", "_t"]).reset_index(drop=True)[columns]


def metric_rank(metric: str) -> tuple:
    """The motion score first, then VBench-I2V in leaderboard order, then any other metric by name."""
    if metric == MOTION_METRIC:
        return (0, 0, metric)
    if metric.startswith(PREFIX) and metric[len(PREFIX):] in DIMENSION_KEYS:
        return (1, DIMENSION_KEYS.index(metric[len(PREFIX):]), metric)
    return (2, 0, metric)

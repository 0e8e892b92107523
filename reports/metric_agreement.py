"""Which automatic metric agrees with your annotators, on which dimension.

For every per-video metric of the run (VBench-I2V dimensions, the motion score, the synthetic
world's checks, a user's own) and for the automatic judge (`stepeval.metrics.judge`, whose
judgments the report's AUTO section shows), each human dimension is compared on the same pairs:
the per-item human majority (`reports.pairwise.resolve_items`) against the metric's difference
between the two videos, oriented by the metric's own `higher_is_better` (a metric that is a
measurement, like the motion score, keeps its raw direction and says so). Statistics:
`stepeval.stats.metric_agreement` (pairwise accuracy with ties stated, Kendall's tau-b, cluster
bootstrap over items). The calibration chart shows, for the metrics that agree best, how often
people preferred a video as a function of the metric's margin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from reports import pairwise
from reports.judgments import dimension_name, ordered_dimensions
from reports.render import charts
from reports.render.page import Section
from reports.tables import ReportTable, fmt_interval
from reports.vbench_table import MODEL_ITEM, latest_scores
from stepeval.errors import UserError
from stepeval.metrics import registry
from stepeval.stats.metric_agreement import calibration_bins, metric_human_agreement

JUDGE = "automatic judge"
COLUMNS = ["dimension", "metric", "direction", "rank", "pairs", "items", "human_ties", "metric_ties", "agree", "disagree",
           "accuracy", "accuracy_low", "accuracy_high", "tau_b", "tau_low", "tau_high"]


def human_pairs(usable: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """One row per (model pair, item, dimension) judged by people: ``focal`` is the pair's earlier
    model in `models` (run order), ``code`` the annotators' majority from its side."""
    cols = ["focal", "opponent", "item_id", "dimension", "code"]
    frames = []
    rank = {m: i for i, m in enumerate(models)}
    for (a, b), frame in pairwise.split_by_pair(usable).items():
        focal = a if rank.get(a, math.inf) <= rank.get(b, math.inf) else b
        votes = pairwise.oriented_votes(frame, focal)
        resolved = pairwise.resolve_items(votes, keys=("opponent", "dimension", "item_id"))
        frames.append(resolved.assign(focal=focal)[cols])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def per_video(scores: pd.DataFrame | None) -> pd.DataFrame:
    """(model_tag, item_id) x metric: latest ok, finite, first-sample per-video values."""
    latest = latest_scores(scores)
    rows = latest[(latest["item_id"] != MODEL_ITEM) & (latest["status"] == "ok")]
    if "sample" in rows.columns:
        rows = rows[pd.to_numeric(rows["sample"], errors="coerce").fillna(0) == 0]
    values = pd.to_numeric(rows["value"], errors="coerce")
    rows = rows.assign(value=values)[np.isfinite(values)]
    if rows.empty:
        return pd.DataFrame()
    return rows.pivot_table(index=["model_tag", "item_id"], columns="metric", values="value", aggfunc="last")


def direction(metric: str) -> tuple[float, str]:
    """(sign, words): +1 when larger values should mean the better video."""
    try:
        better = registry.get(metric.split("/")[0]).higher_is_better
    except UserError:
        return 1.0, "higher (metric not installed: assumed)"
    if better is None:
        return 1.0, "higher = more (a measurement)"
    return (1.0, "higher is better") if better else (-1.0, "lower is better")


def _judge_codes(auto: pd.DataFrame, pairs: pd.DataFrame) -> pd.Series:
    """The automatic judge's verdict (+1 / 0 / -1 from each row's focal side) on the human pairs."""
    if auto is None or auto.empty or pairs.empty:
        return pd.Series(np.nan, index=pairs.index)
    frames = []
    for focal in pairs["focal"].unique():
        votes = pairwise.oriented_votes(pairwise.usable(auto), focal)
        frames.append(votes.assign(focal=focal)[["focal", "opponent", "item_id", "dimension", "code"]])
    codes = pd.concat(frames, ignore_index=True).drop_duplicates(["focal", "opponent", "item_id", "dimension"])
    merged = pairs.merge(codes, on=["focal", "opponent", "item_id", "dimension"], how="left", suffixes=("", "_judge"))
    return pd.Series(merged["code_judge"].to_numpy(dtype=float), index=pairs.index)


def agreement_table(pairs: pd.DataFrame, videos: pd.DataFrame, auto: pd.DataFrame | None, *, n_resamples: int,
                    confidence: float, seed: int) -> tuple[pd.DataFrame, dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]]:
    """COLUMNS per (dimension, metric), ranked by accuracy within each dimension; plus the
    (oriented differences, human codes) behind each row, for the calibration chart."""
    rows, behind = [], {}
    if pairs.empty:
        return pd.DataFrame(columns=COLUMNS), behind
    metrics = list(videos.columns) if len(videos) else []
    if len(videos):
        idx_f = pd.MultiIndex.from_arrays([pairs["focal"], pairs["item_id"]])
        idx_o = pd.MultiIndex.from_arrays([pairs["opponent"], pairs["item_id"]])
        vf, vo = videos.reindex(idx_f), videos.reindex(idx_o)
    judge = _judge_codes(auto, pairs)
    k = 0
    for dim in ordered_dimensions(pairs["dimension"]):
        on = (pairs["dimension"] == dim).to_numpy()
        human = pairs["code"].to_numpy(dtype=float)[on]
        items = pairs["item_id"].to_numpy(dtype=object)[on]
        candidates = []
        for m in metrics:
            sign, words = direction(m)
            diff = sign * (vf[m].to_numpy(dtype=float) - vo[m].to_numpy(dtype=float))[on]
            candidates.append((m, words, diff))
        if judge.notna().any():
            candidates.append((JUDGE, "its own W-T-L", judge.to_numpy(dtype=float)[on]))
        for m, words, diff in candidates:
            if not np.isfinite(diff).any():
                continue
            r = metric_human_agreement(diff, human, items, n_resamples=n_resamples, confidence=confidence,
                                       seed=np.random.default_rng([seed, 11, k]))
            k += 1
            rows.append({"dimension": dim, "metric": m, "direction": words, **{c: getattr(r, c) for c in COLUMNS[4:]}})
            keep = np.isfinite(diff)
            behind[(dim, m)] = (diff[keep], human[keep])
    out = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "rank"])
    if out.empty:
        return pd.DataFrame(columns=COLUMNS), behind
    out = out.sort_values(["dimension", "accuracy", "tau_b"], ascending=[True, False, False], kind="stable")
    order = {d: i for i, d in enumerate(ordered_dimensions(out["dimension"]))}
    out = out.sort_values("dimension", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    out.insert(3, "rank", out.groupby("dimension")["accuracy"].rank(method="min", ascending=False).astype("Int64"))
    return out[COLUMNS], behind


def _display(table: pd.DataFrame, confidence: float) -> pd.DataFrame:
    pct = f"{confidence:.0%}"
    return pd.DataFrame({
        "Dimension": table["dimension"].map(dimension_name),
        "Rank": table["rank"].map(lambda v: "" if pd.isna(v) else str(int(v))),
        "Metric": table["metric"].map(lambda m: m if m == JUDGE else m),
        "Direction": table["direction"],
        "Pairs": table["pairs"].astype(str),
        "Items": table["items"].astype(str),
        "Human ties": table["human_ties"].astype(str),
        "Metric ties": table["metric_ties"].astype(str),
        f"Accuracy [{pct}]": [fmt_interval(a, lo, hi) for a, lo, hi in zip(table["accuracy"], table["accuracy_low"], table["accuracy_high"])],
        f"Kendall tau-b [{pct}]": [fmt_interval(a, lo, hi) for a, lo, hi in zip(table["tau_b"], table["tau_low"], table["tau_high"])],
    })


def calibration_chart(dim: str, table: pd.DataFrame, behind: dict, key: str, top: int = 3) -> charts.Chart | None:
    best = table[table["dimension"] == dim].head(top)
    series = []
    for m in best["metric"]:
        diff, human = behind[(dim, m)]
        sd = float(np.std(diff)) if diff.size > 1 else 0.0
        x = diff / sd if sd > 0 else diff
        pts = [(cx, share, np.nan, np.nan) for cx, share, _n in calibration_bins(x, human)]
        if pts:
            series.append((m.split("/")[-1] if m != JUDGE else JUDGE, pts))
    if not series:
        return None
    return charts.line_chart(
        key, f"Calibration, {dimension_name(dim)}: metric margin vs human preference", series,
        x_label="metric difference between the two videos (in SDs of that metric's differences)",
        y_label="people preferred the first video (ties half)", point_words=("margin", "preference"), y_reference=0.5,
        caption=("Pairs binned by the metric's margin (equal-count bins); a metric that agrees with people rises from "
                 "below 0.5 on the left to above 0.5 on the right. The three best-agreeing metrics of this dimension."))


def section(usable: pd.DataFrame, scores: pd.DataFrame, auto: pd.DataFrame | None, models: Sequence[str], *,
            n_resamples: int, confidence: float, seed: int) -> Section:
    sec = Section("metric-agreement", "Which automatic metric agrees with your annotators", intro=(
        "Each automatic metric (and the automatic judge) against the human majority on the same pairs and dimension. "
        "Accuracy: share of the pairs people decided where the metric prefers the same video (a metric tie counts half; "
        "pairs people called a tie are left out and counted). Kendall's tau-b: rank agreement over all pairs, ties "
        "included. Intervals: percentile bootstrap over items."))
    pairs = human_pairs(usable, models)
    table, behind = agreement_table(pairs, per_video(scores), auto, n_resamples=n_resamples, confidence=confidence, seed=seed)
    if table.empty:
        return sec.empty("No automatic metric was scored on videos that people compared: nothing to compare.")
    sec.table(ReportTable("metric-agreement", "Metric-human agreement per dimension", table, _display(table, confidence),
                          caption=(f"Ranked by accuracy within each dimension; {n_resamples} bootstrap resamples of items "
                                   f"(seed {seed}). 0.5 is chance. Direction: how the metric was read (registry's "
                                   "higher_is_better).")))
    for dim in ordered_dimensions(table["dimension"]):
        sec.chart(calibration_chart(dim, table, behind, f"calibration-{dim}"))
    return sec

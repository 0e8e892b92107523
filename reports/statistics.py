"""The statistics a report prints beside its W-T-L cells, computed by `stepeval.stats`.

- Per cell (one opponent, dimension and domain; plus per-dimension and overall totals): the win
  rate W/(W+L) and the tie-half rate (W+T/2)/N with Wilson intervals and the two-sided sign test,
  on the per-item counts (one judgment per item, so the independence they assume holds), and a
  percentile bootstrap interval of the tie-half rate from *all votes*, resampling items with all
  their annotators (and, for the totals, all their dimensions) kept together.
- Agreement: Krippendorff's alpha (ordinal, B-win < Tie < A-win) on model-relative labels, so an
  annotator who saw the pair swapped on screen still agrees when they preferred the same model;
  Cohen's kappa when exactly two annotators judged.
- Annotators: accuracy on gold items; left/right position bias.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports.judgments import ordered_dimensions
from reports.pairwise import PairwiseTable, count_cells
from stepeval.errors import UserError
from stepeval.stats import (
    cluster_bootstrap,
    cohen_kappa,
    gold_accuracy,
    krippendorff_alpha,
    krippendorff_alpha_bootstrap,
    position_bias,
    reliability_matrix,
    summarize_counts,
)

ORDINAL_VALUES = [-1, 0, 1]  # B (or loss) < Tie < A (or win)
STAT_COLUMNS = [
    "opponent", "dimension", "domain", "wins", "ties", "losses", "n",
    "win_rate", "win_rate_low", "win_rate_high",
    "tie_half", "tie_half_low", "tie_half_high",
    "sign_test_p",
    "votes_wins", "votes_ties", "votes_losses",
    "boot_low", "boot_high", "boot_items",
]


def _cell_scopes(result: PairwiseTable) -> list[tuple[str, str, str]]:
    """(opponent, dimension, domain) of every statistics row; '*' = summed over that key."""
    scopes = []
    for opp in result.opponents:
        for dim in result.dimensions:
            for dom in result.domains:
                scopes.append((opp, dim, dom))
            scopes.append((opp, dim, "*"))
        scopes.append((opp, "*", "*"))
    return scopes


def _mask(columns: dict[str, np.ndarray], scope: tuple[str, str, str]) -> np.ndarray:
    opp, dim, dom = scope
    m = columns["opponent"] == opp
    if dim != "*":
        m = m & (columns["dimension"] == dim)
    if dom != "*":
        m = m & (columns["domain"] == dom)
    return m


def _columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: frame[c].to_numpy(dtype=object) for c in ("opponent", "dimension", "domain")} | {
        "code": frame["code"].to_numpy(dtype=np.int8) if len(frame) else np.zeros(0, dtype=np.int8)}


def cell_statistics(
    result: PairwiseTable, *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """One row per cell, per-dimension total ('*' domain) and overall total ('*' dimension)."""
    scopes = _cell_scopes(result)
    resolved, votes = _columns(result.resolved), _columns(result.votes)
    rows = []
    for scope in scopes:
        code = resolved["code"][_mask(resolved, scope)]
        vcode = votes["code"][_mask(votes, scope)]
        w, t, l = (int(np.count_nonzero(code == c)) for c in (1, 0, -1))
        row = dict(zip(("opponent", "dimension", "domain"), scope))
        row.update(wins=w, ties=t, losses=l, n=w + t + l,
                   votes_wins=int(np.count_nonzero(vcode == 1)), votes_ties=int(np.count_nonzero(vcode == 0)),
                   votes_losses=int(np.count_nonzero(vcode == -1)))
        if w + t + l:
            s = summarize_counts(w, t, l, confidence=confidence)
            if s.win_rate is not None:
                row.update(win_rate=s.win_rate.estimate, win_rate_low=s.win_rate.low, win_rate_high=s.win_rate.high)
            row.update(tie_half=s.win_rate_ties_half.estimate, tie_half_low=s.win_rate_ties_half.low,
                       tie_half_high=s.win_rate_ties_half.high, sign_test_p=s.sign_test_p)
        rows.append(row)
    out = pd.DataFrame(rows)
    for column in STAT_COLUMNS:
        if column not in out.columns:
            out[column] = np.nan
    boot = bootstrap_cells(result.votes, scopes, n_resamples=n_resamples, confidence=confidence, seed=seed)
    out[["boot_low", "boot_high", "boot_items"]] = boot
    return out[STAT_COLUMNS]


def bootstrap_cells(
    votes: pd.DataFrame,
    scopes: list[tuple[str, str, str]],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> np.ndarray:
    """Bootstrap intervals of the tie-half win rate for many cells at once, resampling items.

    One cluster bootstrap per opponent: every cell of that comparison is evaluated on the same
    item resamples (a matrix product over row weights), so all annotators and dimensions of an item
    move together. Returns an array (scopes, 3): low, high, number of items resampled.
    """
    out = np.full((len(scopes), 3), np.nan)
    if votes.empty or n_resamples <= 0:
        return out
    columns = _columns(votes)
    score = (columns["code"].astype(float) + 1.0) / 2.0
    items = votes["item_id"].to_numpy(dtype=object)
    for k, opp in enumerate(dict.fromkeys(s[0] for s in scopes)):
        rows = np.flatnonzero(columns["opponent"] == opp)
        if rows.size == 0:
            continue
        idx = [i for i, s in enumerate(scopes) if s[0] == opp]
        member = np.stack([_mask(columns, scopes[i])[rows] for i in idx], axis=1).astype(float)  # (rows, cells)
        # Sum each item's judgments first: a resample weights all of them by the same count, so
        # bootstrapping one row per item is the same statistic at a fraction of the cost.
        codes, item_ids = pd.factorize(items[rows])
        per_item_n = np.zeros((len(item_ids), len(idx)))
        per_item_score = np.zeros((len(item_ids), len(idx)))
        np.add.at(per_item_n, codes, member)
        np.add.at(per_item_score, codes, member * score[rows][:, None])

        def statistic(w: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return (w @ per_item_score) / (w @ per_item_n)

        # One seed per comparison, derived in a fixed order, so every interval is reproducible.
        res = cluster_bootstrap(statistic, np.asarray(item_ids, dtype=object), n_resamples=n_resamples,
                                confidence=confidence, seed=np.random.default_rng([seed, k]))
        out[idx, 0], out[idx, 1], out[idx, 2] = res.low, res.high, res.n_clusters
    return out


# --------------------------------------------------------------------------- agreement


def agreement(
    votes: pd.DataFrame,
    by: tuple[str, ...] = ("opponent", "dimension"),
    *,
    n_resamples: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Krippendorff's alpha (ordinal) per group of `by`, on oriented (model-relative) codes.

    Units are items (within the group); each annotator is a coder. With `n_resamples` > 0 alpha
    gets a bootstrap interval over items. Cohen's kappa (unweighted) is added when exactly two
    annotators judged in the group. Groups with no item judged twice get NaN and a note.
    """
    columns = [*by, "annotators", "items", "items_multi", "alpha", "alpha_low", "alpha_high", "kappa", "note"]
    rows = []
    if votes.empty:
        return pd.DataFrame(columns=columns)
    unit_keys = [c for c in ("opponent", "dimension", "item_id") if c not in by or c == "item_id"]
    for key, group in votes.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        units = group[unit_keys[0]].astype(str)
        for k in unit_keys[1:]:
            units = units + "|" + group[k].astype(str)
        per_unit = units.value_counts()
        row = dict(zip(by, key), annotators=group["annotator"].nunique(), items=len(per_unit),
                   items_multi=int((per_unit >= 2).sum()), alpha=np.nan, alpha_low=np.nan, alpha_high=np.nan,
                   kappa=np.nan, note="")
        try:
            data = reliability_matrix(units, group["annotator"], group["code"].astype(int))
            if n_resamples > 0:
                res = krippendorff_alpha_bootstrap(data.matrix, "ordinal", values=ORDINAL_VALUES,
                                                   n_resamples=n_resamples, confidence=confidence,
                                                   seed=np.random.default_rng([seed, len(rows)]))
                row.update(alpha=res.estimate, alpha_low=res.low, alpha_high=res.high)
            else:
                row["alpha"] = krippendorff_alpha(data.matrix, "ordinal", values=ORDINAL_VALUES)
            if len(data.coders) == 2:
                row["kappa"] = cohen_kappa(data.matrix[0], data.matrix[1], values=ORDINAL_VALUES)
            if np.isnan(row["alpha"]):
                row["note"] = "no variation: every label the same"
        except UserError as exc:
            row["note"] = str(exc).split("\n")[0]
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- annotators


def gold_table(judgments: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per annotator: accuracy on gold items (the right answer is Tie) with a Wilson interval."""
    columns = ["annotator", "gold_judgments", "correct", "accuracy", "low", "high"]
    gold = judgments[judgments["is_gold"] & ~judgments["cannot_judge"]]
    if gold.empty:
        return pd.DataFrame(columns=columns)
    acc = gold_accuracy(gold["annotator"], gold["outcome"], confidence=confidence)
    rows = [{"annotator": a, "gold_judgments": int(p.trials), "correct": int(p.successes),
             "accuracy": p.estimate, "low": p.low, "high": p.high} for a, p in acc.items()]
    return pd.DataFrame(rows, columns=columns)


def position_bias_table(judgments: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per annotator and overall: Left / Tie / Right counts, fraction Left among decisive, sign test."""
    columns = ["annotator", "left", "ties", "right", "fraction_left", "low", "high", "p_value"]
    usable = judgments[~judgments["is_gold"] & ~judgments["cannot_judge"] & (judgments["screen_label"] != "")]
    if usable.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    groups = [(a, g) for a, g in usable.groupby("annotator", sort=True)] + [("(all annotators)", usable)]
    for name, group in groups:
        b = position_bias(group["screen_label"], confidence=confidence)
        f = b.fraction_left
        rows.append({"annotator": name, "left": b.left, "ties": b.ties, "right": b.right,
                     "fraction_left": f.estimate if f else np.nan, "low": f.low if f else np.nan,
                     "high": f.high if f else np.nan, "p_value": b.p_value})
    return pd.DataFrame(rows, columns=columns)


def annotator_summary(judgments: pd.DataFrame) -> pd.DataFrame:
    """Per annotator: judgments, items, median seconds per task, share flagged cannot-judge."""
    columns = ["annotator", "judgments", "items", "median_seconds", "cannot_judge_share"]
    if judgments.empty:
        return pd.DataFrame(columns=columns)
    g = judgments.groupby("annotator", sort=True)
    seconds = pd.to_numeric(judgments["seconds"], errors="coerce")
    out = pd.DataFrame({
        "judgments": g.size(),
        "items": g["item_id"].nunique(),
        "median_seconds": seconds.groupby(judgments["annotator"]).median(),
        "cannot_judge_share": g["cannot_judge"].mean(),
    }).reset_index()
    return out[columns]


def counts_by(rows: pd.DataFrame, by: tuple[str, ...]) -> pd.DataFrame:
    """`count_cells` plus the tie-half win rate with its Wilson interval, for breakdown tables."""
    counts = count_cells(rows, by)
    if counts.empty:
        return counts.assign(tie_half=[], low=[], high=[])
    est, low, high = [], [], []
    for w, t, l in zip(counts["wins"], counts["ties"], counts["losses"]):
        s = summarize_counts(int(w), int(t), int(l))
        est.append(s.win_rate_ties_half.estimate)
        low.append(s.win_rate_ties_half.low)
        high.append(s.win_rate_ties_half.high)
    return counts.assign(tie_half=est, low=low, high=high)


__all__ = [
    "agreement", "annotator_summary", "bootstrap_cells", "cell_statistics", "counts_by", "gold_table",
    "ordered_dimensions", "position_bias_table",
]

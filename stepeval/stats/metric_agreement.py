"""How well an automatic metric agrees with people on pairwise comparisons.

Input: one row per compared pair (an item judged for models A and B on one dimension): the metric
difference ``d`` (A's value minus B's, oriented so that larger means "A better") and the human
label ``h`` from A's side (+1 A won, 0 tie, -1 B won; usually the per-item majority of annotators).

- **Pairwise accuracy**: over pairs that people decided (h != 0), the share where the metric points
  the same way; a metric tie (|d| <= margin) counts half, as a coin flip would. Human ties are left
  out and counted (`human_ties`), as are metric ties (`metric_ties`): a metric that never decides
  scores 0.5, not 0 or 1.
- **Kendall's tau-b** between d and h over all pairs, human ties included: the rank agreement with
  ties in either variable handled as Kendall (1945) defined tau-b, so it equals
  `scipy.stats.kendalltau` (variant "b").

Intervals: percentile cluster bootstrap over items (`stepeval.stats.bootstrap`): an item's pairs
(several model pairs, one annotator majority each) move together. Both statistics are written as
functions of per-cluster sums, so each resample costs O(items) for accuracy and O(items^2) for
tau-b, whatever the number of pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from stepeval.stats._common import Seed, as_generator, check_confidence
from stepeval.stats.bootstrap import cluster_codes, iter_resample_counts
from stepeval.stats.intervals import percentile_interval


@dataclass(frozen=True)
class MetricAgreement:
    pairs: int  # rows with a metric difference and a human label
    items: int  # clusters resampled
    human_ties: int  # pairs people called a tie (outside the accuracy)
    metric_ties: int  # decided pairs where the metric could not tell (|d| <= margin; counted half)
    agree: int  # decided pairs where the metric points the same way
    disagree: int
    accuracy: float
    accuracy_low: float
    accuracy_high: float
    tau_b: float
    tau_low: float
    tau_high: float
    confidence: float
    n_resamples: int
    seed: int | None

    @property
    def decided(self) -> int:
        return self.agree + self.disagree + self.metric_ties

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"decided": self.decided}


def _arrays(metric_diff: ArrayLike, human: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(metric_diff, dtype=float).ravel()
    h = np.asarray(human, dtype=float).ravel()
    if d.shape != h.shape:
        raise ValueError(f"{d.size} metric differences for {h.size} human labels")
    if not np.all(np.isin(h[np.isfinite(h)], (-1.0, 0.0, 1.0))):
        raise ValueError("human labels must be -1, 0 or +1")
    return d, h


def metric_signs(metric_diff: ArrayLike, margin: float = 0.0) -> np.ndarray:
    """+1 / 0 / -1: which model the metric prefers (0 = within `margin`, a tie)."""
    d = np.asarray(metric_diff, dtype=float)
    return np.where(d > margin, 1, np.where(d < -margin, -1, 0)).astype(np.int8)


def pairwise_accuracy(metric_diff: ArrayLike, human: ArrayLike, margin: float = 0.0) -> float:
    """Share of human-decided pairs where the metric agrees (metric ties half); NaN when none."""
    d, h = _arrays(metric_diff, human)
    s = metric_signs(d, margin)
    decided = h != 0
    if not decided.any():
        return math.nan
    return float(np.mean(np.where(s[decided] == 0, 0.5, (s[decided] == h[decided]).astype(float))))


def kendall_tau_b(x: ArrayLike, y: ArrayLike) -> float:
    """Kendall's tau-b of paired values (NaN when either side is constant or fewer than 2 pairs)."""
    a, b = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if a.size < 2:
        return math.nan
    sa, sb = np.sign(a[:, None] - a[None, :]), np.sign(b[:, None] - b[None, :])
    den = math.sqrt(float(np.abs(sa).sum()) * float(np.abs(sb).sum()))
    return math.nan if den == 0 else float((sa * sb).sum() / den)


def _cluster_pair_sums(d: np.ndarray, h: np.ndarray, codes: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair of clusters (a, b), the sums over rows i in a and j in b of sign(d_i - d_j) *
    sign(h_i - h_j), |sign(d_i - d_j)| and |sign(h_i - h_j)|, without the rows x rows matrices (a
    298-item, 8-model study has ~8000 rows per dimension: 0.5 GB per matrix). The human codes take
    few values, so rows are grouped by (cluster, code): for each row, cumulative counts over the
    sorted metric values give how many rows of each group lie below and above it."""
    levels, hcode = np.unique(h, return_inverse=True)
    n_groups = n_items * levels.size
    group = codes * levels.size + hcode
    values, rank = np.unique(d, return_inverse=True)
    counts = np.zeros((values.size, n_groups))
    np.add.at(counts, (rank, group), 1.0)
    cum = np.cumsum(counts, axis=0)
    total = cum[-1]
    below = np.where((rank > 0)[:, None], cum[np.maximum(rank - 1, 0)], 0.0)  # rows x groups: d_j < d_i
    above = total[None, :] - cum[rank]  # d_j > d_i
    net = (below - above).reshape(d.size, n_items, levels.size)  # sum of sign(d_i - d_j) per group
    untied = (below + above).reshape(d.size, n_items, levels.size)
    sign_h = np.sign(levels[hcode][:, None] - levels[None, :])  # rows x code levels: sign(h_i - v)
    onehot = np.zeros((n_items, d.size))
    onehot[codes, np.arange(d.size)] = 1.0
    c_conc = onehot @ np.einsum("rbv,rv->rb", net, sign_h)
    c_untied_d = onehot @ untied.sum(axis=2)
    per_cluster = np.zeros((n_items, levels.size))
    np.add.at(per_cluster, (codes, hcode), 1.0)
    # rows of a and b with different codes: all pairs minus those that share a code
    c_untied_h = np.outer(per_cluster.sum(1), per_cluster.sum(1)) - per_cluster @ per_cluster.T
    return c_conc, c_untied_d, c_untied_h


def _quadratic(w: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Row-wise w_r C w_r^T for a block of resample weights `w` (resamples x clusters)."""
    return np.einsum("ra,ra->r", w @ c, w)


def metric_human_agreement(
    metric_diff: ArrayLike,
    human: ArrayLike,
    items: ArrayLike,
    *,
    margin: float = 0.0,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: Seed = 0,
) -> MetricAgreement:
    """Accuracy and tau-b with cluster-bootstrap intervals over `items` (module docstring).

    Rows whose metric difference is missing (NaN) are dropped. `n_resamples` 0 gives the estimates
    without intervals (NaN bounds)."""
    confidence = check_confidence(confidence)
    d, h = _arrays(metric_diff, human)
    items = np.asarray(items, dtype=object).ravel()
    if items.size != d.size:
        raise ValueError(f"{items.size} item ids for {d.size} pairs")
    keep = np.isfinite(d) & np.isfinite(h)
    d, h, items = d[keep], h[keep], items[keep]
    s = metric_signs(d, margin)
    decided = h != 0
    agree = int(np.count_nonzero(decided & (s == h)))
    ties_m = int(np.count_nonzero(decided & (s == 0)))
    disagree = int(np.count_nonzero(decided)) - agree - ties_m
    rng, recorded = as_generator(seed)
    if d.size == 0:
        return MetricAgreement(0, 0, 0, 0, 0, 0, *(math.nan,) * 6, confidence, n_resamples, recorded)
    codes, n_items = cluster_codes(items.tolist())

    # Accuracy = sum over clusters of credit / sum of decided pairs.
    credit = np.where(decided, np.where(s == 0, 0.5, (s == h).astype(float)), 0.0)
    c_credit = np.bincount(codes, weights=credit, minlength=n_items)
    c_decided = np.bincount(codes, weights=decided.astype(float), minlength=n_items)
    # Tau-b: concordance minus discordance, and the pairs untied in d and in h, summed per pair of
    # clusters; a resample weights the pair of clusters (a, b) by count_a * count_b. Copies of one
    # row are tied with each other in both variables, so they add nothing, as in the drawn table.
    c_conc, c_untied_d, c_untied_h = _cluster_pair_sums(d, h, codes, n_items)

    def stats(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = (w @ c_credit) / (w @ c_decided)
            # w C w^T per resample, through a matrix product (BLAS) rather than a three-operand einsum
            num = _quadratic(w, c_conc)
            den = np.sqrt(_quadratic(w, c_untied_d) * _quadratic(w, c_untied_h))
            tau = num / den
        return acc, tau

    acc0, tau0 = (float(v[0]) for v in stats(np.ones((1, n_items))))
    bounds = [math.nan] * 4
    if n_resamples > 0:
        accs, taus = [], []
        for counts in iter_resample_counts(n_items, n_resamples, rng, row_width=n_items * 4):
            a, t = stats(counts.astype(float))
            accs.append(a)
            taus.append(t)
        bounds = []
        for reps in (np.concatenate(accs), np.concatenate(taus)):
            reps = reps[np.isfinite(reps)]
            bounds += list(percentile_interval(reps, confidence)) if reps.size else [math.nan, math.nan]
    return MetricAgreement(
        pairs=int(d.size), items=n_items, human_ties=int(np.count_nonzero(~decided)), metric_ties=ties_m, agree=agree,
        disagree=disagree, accuracy=acc0, accuracy_low=float(bounds[0]), accuracy_high=float(bounds[1]), tau_b=tau0,
        tau_low=float(bounds[2]), tau_high=float(bounds[3]), confidence=confidence, n_resamples=int(n_resamples),
        seed=recorded)


def calibration_bins(metric_diff: ArrayLike, human: ArrayLike, bins: int = 8) -> list[tuple[float, float, int]]:
    """(median metric difference, human preference for A with ties half, pairs) per quantile bin of
    the metric difference: how the chance that people prefer A grows with the metric's margin."""
    d, h = _arrays(metric_diff, human)
    keep = np.isfinite(d) & np.isfinite(h)
    d, h = d[keep], h[keep]
    if d.size == 0:
        return []
    order = np.argsort(d, kind="stable")
    out = []
    for chunk in np.array_split(order, min(bins, d.size)):
        if chunk.size:
            out.append((float(np.median(d[chunk])), float(np.mean((h[chunk] + 1) / 2)), int(chunk.size)))
    return out

"""Metric-human agreement: accuracy with ties, Kendall's tau-b against scipy, the cluster bootstrap
against a materialised resample, and interval coverage on simulated studies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

from stepeval.stats.bootstrap import resample_counts
from stepeval.stats.metric_agreement import (
    calibration_bins,
    kendall_tau_b,
    metric_human_agreement,
    pairwise_accuracy,
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.sampled_from([-1, 0, 1])), min_size=2, max_size=40))
def test_tau_b_is_scipys(rows):
    x, y = (np.array(v, dtype=float) for v in zip(*rows))
    expected = kendalltau(x, y, variant="b").statistic
    got = kendall_tau_b(x, y)
    assert (np.isnan(expected) and np.isnan(got)) or got == pytest.approx(expected, abs=1e-12)


def test_accuracy_states_ties():
    d = np.array([1.0, -2.0, 0.0, 3.0, 5.0, -1.0])
    h = np.array([1, 1, 1, -1, 0, 0])
    r = metric_human_agreement(d, h, ["a", "a", "b", "b", "c", "c"], n_resamples=0)
    # Decided by people: 4 (2 human ties left out); agree 1, disagree 2, metric tie 1 (counted half).
    assert (r.decided, r.agree, r.disagree, r.metric_ties, r.human_ties) == (4, 1, 2, 1, 2)
    assert r.accuracy == pytest.approx(1.5 / 4) == pairwise_accuracy(d, h)
    assert np.isnan(r.accuracy_low)
    assert pairwise_accuracy(np.zeros(5), np.ones(5)) == 0.5  # a metric that never decides is chance
    assert metric_human_agreement([0.5, -0.5], [1, -1], ["a", "b"], margin=1.0, n_resamples=0).metric_ties == 2


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_items=st.integers(2, 12))
def test_bootstrap_statistics_equal_those_of_the_drawn_table(seed, n_items):
    """One resample of the per-cluster formulas equals accuracy and tau-b (scipy) of the table drawn."""
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 4, n_items)
    items = np.repeat([f"i{k}" for k in range(n_items)], per)
    d = rng.integers(-2, 3, items.size).astype(float)
    h = rng.choice([-1, 0, 1], items.size)
    r = metric_human_agreement(d, h, items, n_resamples=1, seed=seed)
    counts = resample_counts(n_items, 1, np.random.default_rng(seed))[0]  # the same draw
    names = sorted(set(items))  # cluster codes follow sorted ids
    rows = np.concatenate([np.repeat(np.flatnonzero(items == names[c]), counts[c]) for c in range(n_items)])
    acc = pairwise_accuracy(d[rows], h[rows])
    tau = kendalltau(d[rows], h[rows], variant="b").statistic
    assert (np.isnan(acc) and np.isnan(r.accuracy_low)) or r.accuracy_low == pytest.approx(acc)
    assert (np.isnan(tau) and np.isnan(r.tau_low)) or r.tau_low == pytest.approx(tau)


def simulate(rng, agree: float, n_items: int = 80, pairs_per_item: int = 3, tie_share: float = 0.2):
    """A study: per item, the metric agrees with the people with an item-level probability drawn
    around `agree` (so an item's pairs are correlated, as in a real study), people tie sometimes."""
    concentration = 5.0
    p_item = rng.beta(agree * concentration, (1 - agree) * concentration, n_items)
    items = np.repeat(np.arange(n_items), pairs_per_item)
    human = rng.choice([-1, 1], items.size) * (rng.random(items.size) >= tie_share)
    agrees = rng.random(items.size) < p_item[items]
    magnitude = rng.exponential(1.0, items.size) + 0.01
    sign = np.where(human == 0, rng.choice([-1, 1], items.size), np.where(agrees, human, -human))
    return sign * magnitude, human, items


def test_a_metric_that_agrees_90_percent_ranks_above_a_coin():
    rng = np.random.default_rng(1)
    good = metric_human_agreement(*simulate(rng, 0.9), n_resamples=500, seed=1)
    coin = metric_human_agreement(*simulate(rng, 0.5), n_resamples=500, seed=2)
    assert good.accuracy > coin.accuracy and good.accuracy_low > coin.accuracy_high
    assert good.accuracy_low < 0.9 < good.accuracy_high and coin.accuracy_low < 0.5 < coin.accuracy_high
    assert good.tau_b > coin.tau_b


@pytest.mark.slow
@pytest.mark.parametrize("truth", [0.9, 0.5])
def test_intervals_cover_the_truth_at_about_the_nominal_rate(truth):
    rng = np.random.default_rng(int(truth * 100))
    studies = 300
    covered = 0
    for s in range(studies):
        r = metric_human_agreement(*simulate(rng, truth), n_resamples=400, confidence=0.95, seed=s)
        covered += r.accuracy_low <= truth <= r.accuracy_high
    # 300 studies at a true 95%: the share lies in [0.91, 0.98] with probability > 0.99.
    assert 0.90 <= covered / studies <= 0.985


def test_calibration_bins_rise_for_an_agreeing_metric():
    rng = np.random.default_rng(0)
    d, h, _ = simulate(rng, 0.9, n_items=200)
    bins = calibration_bins(d, h, bins=6)
    assert sum(n for *_, n in bins) == d.size
    shares = [share for _, share, _ in bins]
    assert shares[0] < 0.3 and shares[-1] > 0.7 and shares == sorted(shares)

import numpy as np
import pytest

from stepeval.errors import UserError
from stepeval.stats import (
    bootstrap_win_rate,
    cluster_bootstrap,
    cluster_bootstrap_weights,
    resample_counts,
    weights_to_indices,
)


def weighted_mean(values):
    values = np.asarray(values, dtype=float)
    return lambda w: (w @ values) / w.sum(axis=1)


def test_resample_counts_draw_all_clusters_with_replacement():
    counts = resample_counts(50, 400, np.random.default_rng(0))
    assert counts.shape == (400, 50)
    assert np.all(counts.sum(axis=1) == 50)
    # Each cluster's count is Binomial(50, 1/50): mean 1, variance 49/50.
    assert counts.mean() == pytest.approx(1.0)
    assert counts.var() == pytest.approx(49 / 50, rel=0.05)


def test_weights_keep_an_items_annotators_together():
    items = np.repeat([f"real/H/{i:03d}" for i in range(30)], 3)
    w = cluster_bootstrap_weights(items, n_resamples=100, seed=1)
    assert w.shape == (100, 90)
    blocks = w.reshape(100, 30, 3)
    assert np.all(blocks == blocks[:, :, :1])
    assert np.all(w.sum(axis=1) == 90)


def test_same_seed_same_result_and_seed_is_recorded():
    items = np.repeat(np.arange(40), 3)
    values = np.random.default_rng(3).random(120)
    a = cluster_bootstrap(weighted_mean(values), items, n_resamples=300, seed=11)
    b = cluster_bootstrap(weighted_mean(values), items, n_resamples=300, seed=11)
    c = cluster_bootstrap(weighted_mean(values), items, n_resamples=300, seed=12)
    assert np.array_equal(a.replicates, b.replicates)
    assert not np.array_equal(a.replicates, c.replicates)
    assert a.seed == 11
    assert a.estimate == pytest.approx(values.mean())


def test_vectorised_and_loop_statistics_agree():
    items = np.repeat(np.arange(25), 2)
    values = np.random.default_rng(4).normal(size=50)
    vec = cluster_bootstrap(weighted_mean(values), items, n_resamples=200, seed=5)

    def loop_stat(w):
        return values[weights_to_indices(w)].mean()

    loop = cluster_bootstrap(loop_stat, items, n_resamples=200, seed=5, vectorized=False)
    assert np.allclose(vec.replicates, loop.replicates)
    assert vec.low == pytest.approx(loop.low)
    assert vec.high == pytest.approx(loop.high)


def test_bootstrap_variance_of_a_mean_matches_the_plug_in_formula():
    # Equal cluster sizes: the bootstrap variance of the overall mean is mean((cm - m)^2) / C,
    # with cm the cluster means (the plug-in variance of a mean of C iid cluster means).
    rng = np.random.default_rng(8)
    n_items, per_item = 120, 3
    values = rng.normal(size=n_items)[:, None] + 0.5 * rng.normal(size=(n_items, per_item))
    items = np.repeat(np.arange(n_items), per_item)
    res = cluster_bootstrap(weighted_mean(values.ravel()), items, n_resamples=4000, seed=9)
    cluster_means = values.mean(axis=1)
    expected_sd = np.sqrt(np.mean((cluster_means - cluster_means.mean()) ** 2) / n_items)
    assert res.replicates.std() == pytest.approx(expected_sd, rel=0.05)


def test_multivariate_statistic_gives_one_interval_per_component():
    items = np.repeat(np.arange(60), 2)
    values = np.random.default_rng(2).random((120, 2))
    res = cluster_bootstrap(lambda w: (w @ values) / w.sum(axis=1)[:, None], items, n_resamples=200)
    assert res.replicates.shape == (200, 2)
    assert np.all(res.low < res.estimate) and np.all(res.estimate < res.high)


def _coverage(clustered: bool, reps: int = 200, n_items: int = 100, per_item: int = 3) -> float:
    # Items are either easy (annotators agree A wins, p = 0.9) or hard (p = 0.1): strong
    # within-item correlation, true win probability 0.5.
    rng = np.random.default_rng(2024 if clustered else 2025)
    items = np.repeat(np.arange(n_items), per_item)
    hits = 0
    for _ in range(reps):
        p_item = np.where(rng.random(n_items) < 0.5, 0.9, 0.1)
        wins = (rng.random((n_items, per_item)) < p_item[:, None]).astype(float).ravel()
        res = cluster_bootstrap(
            weighted_mean(wins),
            items if clustered else np.arange(wins.size),
            n_resamples=500,
            seed=int(rng.integers(2**31)),
        )
        hits += res.low <= 0.5 <= res.high
    return hits / reps


def test_cluster_bootstrap_covers_at_nominal_rate_where_row_bootstrap_does_not():
    assert abs(_coverage(clustered=True) - 0.95) <= 0.05
    # Design effect 1 + 2 * 0.64 = 2.28 gives the row bootstrap about 80% coverage.
    assert _coverage(clustered=False) < 0.88


def test_bootstrap_win_rate_both_tie_rules():
    outcomes = ["A"] * 30 + ["Tie"] * 20 + ["B"] * 10
    items = np.arange(60) // 3
    half = bootstrap_win_rate(outcomes, items, ties="half", n_resamples=500, seed=0)
    assert half.estimate == pytest.approx(40 / 60)
    drop = bootstrap_win_rate(outcomes, ties="drop", n_resamples=500, seed=0)
    assert drop.estimate == pytest.approx(30 / 40)
    assert drop.low < 0.75 < drop.high
    with pytest.raises(UserError):
        bootstrap_win_rate(["Tie", "Tie"], ties="drop")


def test_bootstrap_errors():
    with pytest.raises(UserError):
        cluster_bootstrap(weighted_mean([]), [], n_resamples=10)
    with pytest.raises(UserError):
        cluster_bootstrap(weighted_mean([1.0, 2.0]), ["a", None], n_resamples=10)
    with pytest.raises(ValueError):
        cluster_bootstrap(lambda w: np.zeros(3), ["a", "b"], n_resamples=10)

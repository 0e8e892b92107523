import numpy as np
import pytest
from scipy.stats import binomtest, norm

from stepeval.errors import UserError
from stepeval.stats import (
    percentile_interval,
    proportion,
    wilson_interval,
    win_rate,
    win_rate_ties_half,
)

Z95 = norm.ppf(0.975)


def test_wilson_zero_and_all_successes_have_closed_forms():
    # k = 0: the interval is [0, z^2 / (n + z^2)]; k = n mirrors it.
    n = 10
    low, high = wilson_interval(0, n)
    assert low == 0.0
    assert high == pytest.approx(Z95**2 / (n + Z95**2), rel=1e-12)
    low, high = wilson_interval(n, n)
    assert high == 1.0
    assert low == pytest.approx(n / (n + Z95**2), rel=1e-12)


def test_wilson_hand_computed_half():
    # k = n/2: centred at 1/2, half-width z/(1+z^2/n) * sqrt(1/(4n) + z^2/(4n^2)).
    n = 20
    half = Z95 / (1 + Z95**2 / n) * np.sqrt(0.25 / n + Z95**2 / (4 * n**2))
    low, high = wilson_interval(10, n)
    assert low == pytest.approx(0.5 - half, rel=1e-12)
    assert high == pytest.approx(0.5 + half, rel=1e-12)


@pytest.mark.parametrize("k,n", [(0, 5), (1, 7), (3, 10), (37, 90), (120, 298), (298, 298)])
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_wilson_matches_scipy(k, n, confidence):
    ref = binomtest(k, n).proportion_ci(confidence, method="wilson")
    low, high = wilson_interval(k, n, confidence)
    assert low == pytest.approx(ref.low, abs=1e-12)
    assert high == pytest.approx(ref.high, abs=1e-12)


def test_wilson_is_vectorised():
    k = np.array([0, 3, 10])
    n = np.array([10, 10, 10])
    low, high = wilson_interval(k, n)
    assert low.shape == high.shape == (3,)
    for i in range(3):
        assert (low[i], high[i]) == pytest.approx(wilson_interval(int(k[i]), int(n[i])))


def test_wilson_coverage_in_seeded_simulation():
    rng = np.random.default_rng(20240601)
    p, n, reps = 0.3, 60, 4000
    k = rng.binomial(n, p, size=reps)
    low, high = wilson_interval(k, np.full(reps, n))
    coverage = np.mean((low <= p) & (p <= high))
    assert abs(coverage - 0.95) <= 0.05


def test_wilson_rejects_empty_and_impossible_counts():
    with pytest.raises(UserError):
        wilson_interval(0, 0)
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
    with pytest.raises(ValueError):
        wilson_interval(1, 3, confidence=1.5)


def test_win_rate_drops_ties():
    r = win_rate(30, 10)
    assert r.estimate == pytest.approx(0.75)
    assert (r.low, r.high) == pytest.approx(wilson_interval(30, 40))
    assert r.trials == 40
    with pytest.raises(UserError):
        win_rate(0, 0)


def test_win_rate_ties_half_uses_effective_counts():
    r = win_rate_ties_half(30, 20, 10)
    assert r.estimate == pytest.approx(40 / 60)
    assert (r.low, r.high) == pytest.approx(wilson_interval(40.0, 60))
    assert r.successes == 40.0


def test_win_rate_ties_half_interval_is_conservative_with_ties():
    # Scores in {0, 1/2, 1} vary less than a Bernoulli with the same mean, so coverage >= nominal.
    rng = np.random.default_rng(7)
    probs = np.array([0.35, 0.4, 0.25])  # win, tie, loss
    truth = probs[0] + probs[1] / 2
    n, reps = 80, 3000
    counts = rng.multinomial(n, probs, size=reps)
    low, high = wilson_interval(counts[:, 0] + counts[:, 1] / 2, np.full(reps, n))
    coverage = np.mean((low <= truth) & (truth <= high))
    assert coverage >= 0.95 - 0.01
    assert coverage <= 1.0


def test_proportion_str_and_fields():
    p = proportion(3, 4)
    assert p.estimate == 0.75
    assert str(p).startswith("0.750 [")


def test_percentile_interval_hand_values():
    values = np.arange(1001, dtype=float)  # quantile q of 0..1000 is 1000 q
    assert percentile_interval(values, 0.9) == pytest.approx((50.0, 950.0))
    two = np.stack([values, 2 * values], axis=1)
    low, high = percentile_interval(two, 0.9, axis=0)
    assert low == pytest.approx([50.0, 100.0])
    assert high == pytest.approx([950.0, 1900.0])


def test_percentile_interval_ignores_nan_replicates():
    values = np.concatenate([np.arange(1001, dtype=float), [np.nan] * 50])
    assert percentile_interval(values, 0.9) == pytest.approx((50.0, 950.0))

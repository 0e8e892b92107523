"""Hypothesis tests for pairwise judgments.

The sign test asks whether model A wins more often than it loses, using only decisive judgments
(ties carry no information about the direction, and dropping them is the classical treatment:
Dixon & Mood 1946, "The Statistical Sign Test"). Under the null hypothesis each decisive judgment
is a fair coin, so the number of A wins is Binomial(W + L, 1/2) and the p-value is exact.

The test assumes independent judgments. When several annotators judge the same item their
judgments are correlated; then prefer a cluster bootstrap interval (`cluster_bootstrap`) or test
one aggregated judgment per item.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scipy.stats import binom

from stepeval.stats.outcomes import count_outcomes


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test p-value for ``wins`` vs ``losses`` (ties already dropped).

    ``p = min(1, 2 P[X <= min(W, L)])`` with ``X ~ Binomial(W + L, 1/2)``; because that null
    distribution is symmetric this equals the "as or less likely" two-sided binomial p-value.
    With no decisive judgments there is no evidence either way and the p-value is 1.
    """
    wins, losses = int(wins), int(losses)
    if wins < 0 or losses < 0:
        raise ValueError("counts must be non-negative")
    n = wins + losses
    if n == 0:
        return 1.0
    if wins == losses:
        return 1.0
    return float(min(1.0, 2.0 * binom.cdf(min(wins, losses), n, 0.5)))


def sign_test_outcomes(outcomes: Iterable[Any]) -> float:
    """`sign_test` on study-view labels (A/Tie/B); ties are dropped."""
    counts = count_outcomes(outcomes)
    return sign_test(counts.wins, counts.losses)

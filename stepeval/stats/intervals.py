"""Confidence intervals for proportions and win rates, and the percentile bootstrap interval.

Why Wilson: the human study reports cells of a few dozen to a few hundred judgments, often with
win rates near 0 or 1 (a strong model against a static baseline). There the textbook Wald interval
``p +- z sqrt(p(1-p)/n)`` undercovers badly and can leave [0, 1]; the Wilson score interval
(Wilson 1927; recommended by Brown, Cai & DasGupta 2001, "Interval Estimation for a Binomial
Proportion") keeps close to nominal coverage down to small n and never leaves [0, 1].
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm

from stepeval.errors import UserError
from stepeval.stats._common import check_confidence


@dataclass(frozen=True)
class Proportion:
    """An estimated proportion ``successes / trials`` with its confidence interval."""

    estimate: float
    low: float
    high: float
    successes: float
    trials: float
    confidence: float

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _z(confidence: float) -> float:
    return float(norm.ppf(0.5 + check_confidence(confidence) / 2.0))


def wilson_interval(
    successes: ArrayLike, trials: ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Wilson score interval for a binomial proportion ``successes / trials``.

    The interval is the set of p whose score test ``|p_hat - p| <= z sqrt(p (1 - p) / n)`` does
    not reject, solved in closed form:
    ``(p_hat + z^2/2n +- z sqrt(p_hat (1 - p_hat)/n + z^2/4n^2)) / (1 + z^2/n)``.

    Vectorised: array arguments broadcast and give arrays back; scalars give floats. `successes`
    may be fractional (see `win_rate_ties_half`). Every `trials` must be positive: a proportion of
    nothing has no interval, and that is the caller's data problem (`UserError`).
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(n <= 0):
        raise UserError(
            "a proportion needs at least one trial, got none",
            hint="check that the filter selecting these judgments is not empty",
        )
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("successes must lie between 0 and trials")
    z = _z(confidence)
    p = k / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * np.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n))
    low = np.clip(centre - half, 0.0, 1.0)
    high = np.clip(centre + half, 0.0, 1.0)
    # At the edges the formula is exact in theory (low = 0 at k = 0); rounding can leave 1e-17.
    low = np.where(k == 0, 0.0, low)
    high = np.where(k == n, 1.0, high)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def proportion(successes: float, trials: float, confidence: float = 0.95) -> Proportion:
    """`successes / trials` with its Wilson interval, as a `Proportion`."""
    low, high = wilson_interval(successes, trials, confidence)
    return Proportion(
        estimate=float(successes) / float(trials),
        low=float(low),
        high=float(high),
        successes=successes,
        trials=trials,
        confidence=confidence,
    )


def win_rate(wins: int, losses: int, confidence: float = 0.95) -> Proportion:
    """Win rate among decisive judgments, ``W / (W + L)``, ties dropped, with a Wilson interval.

    This is the proportion the sign test (`sign_test`) tests against 1/2, so the two agree on
    what "better" means. It raises `UserError` when every judgment was a tie.
    """
    if wins + losses == 0:
        raise UserError(
            "no decisive judgments (all ties), so a win rate over wins and losses is undefined",
            hint="report the tie-half win rate (win_rate_ties_half) instead",
        )
    return proportion(wins, wins + losses, confidence)


def win_rate_ties_half(wins: int, ties: int, losses: int, confidence: float = 0.95) -> Proportion:
    """Win rate counting a tie as half a win, ``(W + T/2) / N``, with an approximate interval.

    The interval is Wilson's on the *effective counts* ``k = W + T/2`` out of ``n = N``. Each
    judgment scores s in {0, 1/2, 1}, whose variance ``p(1 - p) - T/(4N)`` is at most the
    Bernoulli variance ``p(1 - p)`` that Wilson assumes, so the interval is conservative (a little
    too wide) when there are many ties, and exact in the limit of no ties.
    """
    total = wins + ties + losses
    if total == 0:
        raise UserError("no judgments to compute a win rate from", hint="check the filter")
    return proportion(wins + 0.5 * ties, total, confidence)


def percentile_interval(
    replicates: ArrayLike, confidence: float = 0.95, axis: int = 0
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Percentile bootstrap interval: the (1 - c)/2 and (1 + c)/2 quantiles of the replicates.

    Efron & Tibshirani (1993), ch. 13. Replicates that are NaN (the statistic was undefined in that
    resample, e.g. a model drew no battles) are ignored; where all are NaN the bounds are NaN.
    """
    confidence = check_confidence(confidence)
    values = np.asarray(replicates, dtype=float)
    if values.size == 0:
        raise ValueError("no bootstrap replicates")
    tail = (1.0 - confidence) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN, on purpose
        low, high = np.nanquantile(values, [tail, 1.0 - tail], axis=axis)
    if np.ndim(low) == 0:
        return float(low), float(high)
    return low, high

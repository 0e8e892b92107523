"""Rank correlation: Spearman's rho of paired values, the one used by every report and check.

rho is Pearson's correlation of the average ranks (tied values share the mean of the ranks they
span), which is how scipy and pandas define it, so numbers agree with both. The two-sided p-value
uses the t approximation ``t = rho * sqrt((n - 2) / (1 - rho^2))`` with n - 2 degrees of freedom,
as scipy.stats.spearmanr does.

A pair with a missing value (None or NaN) on either side is dropped. Fewer than three pairs, or a
side that is constant, carries no evidence of an order: rho and p are NaN, never 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
from scipy.stats import rankdata
from scipy.stats import t as student_t

MIN_PAIRS = 3


class Spearman(NamedTuple):
    rho: float
    pvalue: float
    n: int  # pairs used (both values present)


def _as_float(values: Iterable[Any]) -> np.ndarray:
    if hasattr(values, "to_numpy"):  # pandas Series: None/NA -> NaN
        values = values.to_numpy(dtype=float, na_value=np.nan)
    elif not isinstance(values, np.ndarray):
        values = [np.nan if v is None else v for v in values]
    return np.asarray(values, dtype=float).ravel()


def spearman(x: Iterable[Any], y: Iterable[Any]) -> Spearman:
    """Spearman's rho of paired `x` and `y`, its two-sided p-value, and the number of pairs used."""
    a, b = _as_float(x), _as_float(y)
    if len(a) != len(b):
        raise ValueError(f"spearman needs paired values, got {len(a)} and {len(b)}")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    n = int(len(a))
    if n < MIN_PAIRS or np.all(a == a[0]) or np.all(b == b[0]):
        return Spearman(math.nan, math.nan, n)
    ra, rb = rankdata(a) - (n + 1) / 2, rankdata(b) - (n + 1) / 2  # average ranks, centred
    rho = float(np.dot(ra, rb) / math.sqrt(float(np.dot(ra, ra)) * float(np.dot(rb, rb))))
    rho = min(1.0, max(-1.0, rho))
    if abs(rho) == 1.0:
        return Spearman(rho, 0.0, n)
    t = rho * math.sqrt((n - 2) / ((1.0 - rho) * (1.0 + rho)))
    return Spearman(rho, float(2.0 * student_t.sf(abs(t), n - 2)), n)

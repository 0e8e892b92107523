"""Spearman's rho against scipy and pandas, with ties, missing values and too few points."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from stepeval.stats import Spearman, spearman

# Few distinct levels, so most samples have ties on both sides (a motion sweep: 3-4 requested levels).
LEVELS = st.integers(0, 4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(LEVELS, st.one_of(LEVELS, st.floats(-5, 5, allow_nan=False))), min_size=3, max_size=60))
def test_matches_scipy_and_pandas_with_ties(pairs):
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs], dtype=float)
    got = spearman(x, y)
    assert got.n == len(pairs)
    if len(set(x)) < 2 or len(set(y)) < 2:
        assert math.isnan(got.rho) and math.isnan(got.pvalue)
        return
    ref = spearmanr(x, y)
    assert got.rho == pytest.approx(ref.statistic, abs=1e-12)
    assert got.pvalue == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)
    # The regression baseline's motion_spearman was computed as pandas' average-rank correlation.
    assert got.rho == pytest.approx(pd.Series(x).rank().corr(pd.Series(y).rank()), abs=1e-12)


def test_pairs_with_a_missing_value_are_dropped():
    x = [1, 2, None, 4, 5, float("nan")]
    y = [2, 1, 3, float("nan"), 5, 6]
    got = spearman(pd.Series(x, dtype=object), y)
    ref = spearmanr([1, 2, 5], [2, 1, 5])
    assert got.n == 3 and got.rho == pytest.approx(ref.statistic)


@pytest.mark.parametrize("x,y", [([], []), ([1], [2]), ([1, 2], [1, 2]), ([1, 1, 1, 1], [1, 2, 3, 4]), ([1, 2, 3], [7, 7, 7])])
def test_too_few_points_or_a_constant_side_is_nan(x, y):
    got = spearman(x, y)
    assert isinstance(got, Spearman) and math.isnan(got.rho) and math.isnan(got.pvalue) and got.n == len(x)


def test_a_perfect_order_has_rho_one_and_p_zero():
    assert tuple(spearman([1, 2, 3, 4], [10, 20, 30, 40])) == (1.0, 0.0, 4)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]).rho == -1.0


def test_unpaired_lengths_are_an_error():
    with pytest.raises(ValueError, match="paired"):
        spearman([1, 2, 3], [1, 2])

"""VBench-I2V aggregation: the leaderboard's formula, written out by hand here."""

from __future__ import annotations

import math

import pytest

from stepeval.errors import UserError
from stepeval.metrics.aggregate import DIMENSION_KEYS, aggregate, group_score

RAW = {
    "camera_motion": 0.40,
    "i2v_subject": 0.95,
    "i2v_background": 0.90,
    "subject_consistency": 0.93,
    "background_consistency": 0.94,
    "motion_smoothness": 0.98,
    "dynamic_degree": 0.50,
    "aesthetic_quality": 0.60,
    "imaging_quality": 0.70,
}

# n = (raw - min) / (max - min) * weight, group = sum(n) / sum(weights), total = mean of the two groups.
I2V_BY_HAND = (
    (0.40 - 0.0) / (1.0 - 0.0) * 0.1
    + (0.95 - 0.1462) / (1.0 - 0.1462) * 1
    + (0.90 - 0.2615) / (1.0 - 0.2615) * 1
) / (0.1 + 1 + 1)
QUALITY_BY_HAND = (
    (0.93 - 0.1462) / (1.0 - 0.1462)
    + (0.94 - 0.2615) / (1.0 - 0.2615)
    + (0.98 - 0.7060) / (0.9975 - 0.7060)
    + (0.50 - 0.0) / (1.0 - 0.0) * 0.5
    + 0.60
    + 0.70
) / (1 + 1 + 1 + 0.5 + 1 + 1)


def test_aggregates_match_hand_computed_values():
    agg = aggregate(RAW)
    assert agg.i2v == pytest.approx(I2V_BY_HAND, abs=1e-9)
    assert agg.quality == pytest.approx(QUALITY_BY_HAND, abs=1e-9)
    assert agg.total == pytest.approx((QUALITY_BY_HAND + I2V_BY_HAND) / 2, abs=1e-9)
    # Spot-check the arithmetic itself, so a wrong constant in both places cannot pass unnoticed.
    assert I2V_BY_HAND == pytest.approx(0.8790613, abs=1e-6)
    assert QUALITY_BY_HAND == pytest.approx(0.7866788, abs=1e-6)


def test_each_dimension_moves_the_right_group():
    base = aggregate(RAW)
    for key in DIMENSION_KEYS:
        bumped = aggregate({**RAW, key: RAW[key] + 0.01})
        if key in ("camera_motion", "i2v_subject", "i2v_background"):
            assert bumped.i2v > base.i2v and bumped.quality == base.quality, key
        else:
            assert bumped.quality > base.quality and bumped.i2v == base.i2v, key


@pytest.mark.parametrize("missing", ["camera_motion", "aesthetic_quality"])
def test_missing_dimension_is_refused_and_named(missing):
    raw = {k: v for k, v in RAW.items() if k != missing}
    with pytest.raises(UserError, match=missing) as info:
        aggregate(raw)
    assert "missing" in str(info.value)
    assert "never counted as 0" in str(info.value)


def test_none_and_nan_are_refused():
    with pytest.raises(UserError, match="imaging_quality"):
        aggregate({**RAW, "imaging_quality": None})
    with pytest.raises(UserError, match="non-finite.*dynamic_degree"):
        aggregate({**RAW, "dynamic_degree": math.nan})


def test_a_group_needs_only_its_own_dimensions():
    quality_only = {k: RAW[k] for k in RAW if k not in ("camera_motion", "i2v_subject", "i2v_background")}
    assert group_score(quality_only, "quality") == pytest.approx(QUALITY_BY_HAND, abs=1e-9)
    with pytest.raises(UserError, match="i2v_subject"):
        group_score(quality_only, "i2v")

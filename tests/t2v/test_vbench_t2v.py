"""VBench's text-to-video aggregation: the spec's formula written out by hand here
(../shared/spec/vbench-i2v.md, last section), the 16 dimensions, refusal of a missing one by name."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepeval.errors import UserError
from stepeval.metrics import aggregate as i2v
from stepeval.metrics.vbench_t2v import (
    CUSTOM_INPUT_DIMENSIONS, DIMENSION_KEYS, GROUPS, VBENCH_T2V, aggregate, group_score, total_score,
)  # fmt: skip

RAW = {
    "subject_consistency": 0.95,
    "background_consistency": 0.96,
    "temporal_flickering": 0.97,
    "motion_smoothness": 0.98,
    "dynamic_degree": 0.60,
    "aesthetic_quality": 0.55,
    "imaging_quality": 0.65,
    "object_class": 0.85,
    "multiple_objects": 0.45,
    "human_action": 0.90,
    "color": 0.80,
    "spatial_relationship": 0.50,
    "scene": 0.40,
    "appearance_style": 0.22,
    "temporal_style": 0.24,
    "overall_consistency": 0.26,
}

# n = (raw - min) / (max - min) * weight; group = sum(n) / sum(weights); Total = (4 Q + 1 S) / 5.
QUALITY_BY_HAND = (
    (0.95 - 0.1462) / (1 - 0.1462)
    + (0.96 - 0.2615) / (1 - 0.2615)
    + (0.97 - 0.6293) / (1 - 0.6293)
    + (0.98 - 0.706) / (0.9975 - 0.706)
    + 0.60 * 0.5
    + 0.55
    + 0.65
) / (6 + 0.5)
SEMANTIC_BY_HAND = (
    0.85 + 0.45 + 0.90 + 0.80 + 0.50
    + 0.40 / 0.8222
    + (0.22 - 0.0009) / (0.2855 - 0.0009)
    + 0.24 / 0.364
    + 0.26 / 0.364
) / 9  # fmt: skip
TOTAL_BY_HAND = (4 * QUALITY_BY_HAND + 1 * SEMANTIC_BY_HAND) / 5


def test_the_sixteen_dimensions_in_their_groups():
    assert len(DIMENSION_KEYS) == 16 and set(RAW) == set(DIMENSION_KEYS)
    assert set(GROUPS["quality"]) == {"subject_consistency", "background_consistency", "temporal_flickering", "motion_smoothness",
                                      "dynamic_degree", "aesthetic_quality", "imaging_quality"}  # fmt: skip
    assert len(GROUPS["semantic"]) == 9
    assert set(CUSTOM_INPUT_DIMENSIONS) < set(GROUPS["quality"]) and len(CUSTOM_INPUT_DIMENSIONS) == 6


def test_aggregates_match_the_hand_computation():
    agg = aggregate(RAW)
    assert agg.quality == pytest.approx(QUALITY_BY_HAND, abs=1e-9, rel=0)
    assert agg.semantic == pytest.approx(SEMANTIC_BY_HAND, abs=1e-9, rel=0)
    assert agg.total == pytest.approx(TOTAL_BY_HAND, abs=1e-9, rel=0)
    assert total_score(agg.quality, agg.semantic) == pytest.approx(TOTAL_BY_HAND, abs=1e-9, rel=0)
    # the arithmetic itself, done once in exact fractions, so a wrong float constant cannot pass unnoticed
    assert (QUALITY_BY_HAND, SEMANTIC_BY_HAND, TOTAL_BY_HAND) == pytest.approx((0.8071249463, 0.6811087148, 0.7819217000), abs=1e-9)


@pytest.mark.parametrize("missing", ["temporal_flickering", "overall_consistency", "dynamic_degree"])
def test_a_missing_dimension_is_refused_by_name(missing):
    raw = {k: v for k, v in RAW.items() if k != missing}
    with pytest.raises(UserError, match=missing) as info:
        aggregate(raw)
    text = str(info.value)
    assert "missing dimension(s)" in text and "never counted as 0" in text and "text-to-video" in text


def test_custom_input_dimensions_alone_make_no_total():
    """What custom-input mode scores on one's own prompts is not enough for Quality or Total."""
    custom = {k: RAW[k] for k in CUSTOM_INPUT_DIMENSIONS}
    with pytest.raises(UserError, match="temporal_flickering"):
        group_score(custom, "quality")
    with pytest.raises(UserError, match="object_class"):
        aggregate({**custom, "temporal_flickering": 0.9})


def test_none_and_nan_are_refused():
    with pytest.raises(UserError, match="missing dimension.*color"):
        aggregate({**RAW, "color": None})
    with pytest.raises(UserError, match="non-finite.*scene"):
        aggregate({**RAW, "scene": math.nan})


def test_one_shape_for_both_leaderboards():
    """T2V's scheme is I2V's structure with other dimensions and group weights, not a copy of it."""
    assert type(VBENCH_T2V) is type(i2v.VBENCH_I2V)
    shared = set(DIMENSION_KEYS) & set(i2v.DIMENSION_KEYS)
    for key in shared:  # the six quality dimensions both leaderboards normalise alike
        a, b = VBENCH_T2V.by_key[key], i2v.BY_KEY[key]
        assert (a.weight, a.norm_min, a.norm_max) == (b.weight, b.norm_min, b.norm_max), key


@given(key=st.sampled_from(DIMENSION_KEYS), bump=st.floats(1e-4, 0.05))
def test_each_dimension_raises_its_own_group_and_the_total(key, bump):
    base = aggregate(RAW)
    raised = aggregate({**RAW, key: RAW[key] + bump})
    group = VBENCH_T2V.by_key[key].group
    other = "semantic" if group == "quality" else "quality"
    assert getattr(raised, group) > getattr(base, group) and getattr(raised, other) == getattr(base, other)
    assert raised.total > base.total

import numpy as np
import pytest
from scipy.stats import binomtest

from stepeval.errors import UserError
from stepeval.stats import (
    gold_accuracy,
    position_bias,
    position_bias_counts,
    summarize_counts,
    summarize_pairwise,
    wilson_interval,
)


def test_position_bias_fraction_left_interval_and_p_value():
    sides = ["Left"] * 60 + ["Tie"] * 25 + ["Right"] * 40
    bias = position_bias(sides)
    assert (bias.left, bias.ties, bias.right) == (60, 25, 40)
    assert bias.fraction_left.estimate == pytest.approx(0.6)
    assert (bias.fraction_left.low, bias.fraction_left.high) == pytest.approx(wilson_interval(60, 100))
    assert bias.p_value == pytest.approx(binomtest(60, 100, 0.5).pvalue)


def test_position_bias_labels_and_edge_cases():
    assert position_bias(["l", "RIGHT", "tie", "Left"]).left == 2
    all_ties = position_bias(["Tie", "Tie"])
    assert all_ties.fraction_left is None and all_ties.p_value == 1.0
    with pytest.raises(UserError):
        position_bias([])
    with pytest.raises(UserError):
        position_bias(["Left", "A"])  # study-view label where a screen side is expected
    assert position_bias_counts(5, 0, 5).p_value == 1.0


def test_position_bias_is_calibrated_under_random_sides():
    # No bias: p-values below 0.05 about 5% of the time (the exact test is conservative).
    rng = np.random.default_rng(11)
    draws = rng.choice(["Left", "Tie", "Right"], size=(400, 80), p=[0.4, 0.2, 0.4])
    rejections = np.mean([position_bias(row).p_value < 0.05 for row in draws])
    assert rejections <= 0.05 + 0.03


def test_gold_accuracy_per_annotator():
    annotators = ["ann"] * 6 + ["bob"] * 3
    responses = ["Tie", "Tie", "A", "Tie", "tie", "Tie", "Left", "Tie", "Right"]
    acc = gold_accuracy(annotators, responses)
    assert list(acc) == ["ann", "bob"]
    assert acc["ann"].estimate == pytest.approx(5 / 6)
    assert (acc["ann"].low, acc["ann"].high) == pytest.approx(wilson_interval(5, 6))
    assert acc["bob"].estimate == pytest.approx(1 / 3)
    assert acc["bob"].trials == 3


def test_gold_accuracy_with_per_row_expected_answers():
    acc = gold_accuracy(["a", "a", "a"], ["A", "B", "Tie"], expected=["A", "A", "Tie"])
    assert acc["a"].successes == 2
    with pytest.raises(UserError):
        gold_accuracy(["a"], ["A"], expected=["A", "B"])
    with pytest.raises(UserError):
        gold_accuracy(["a"], ["sure"])
    with pytest.raises(UserError):
        gold_accuracy([], [])
    with pytest.raises(UserError):
        gold_accuracy([None], ["Tie"])


def test_summarize_pairwise_report_cell():
    cell = summarize_pairwise(["A"] * 12 + ["Tie"] * 5 + ["B"] * 3)
    assert str(cell.counts) == "12-5-3"
    assert cell.win_rate.estimate == pytest.approx(12 / 15)
    assert cell.win_rate_ties_half.estimate == pytest.approx(14.5 / 20)
    assert cell.sign_test_p == pytest.approx(binomtest(12, 15).pvalue)
    ties_only = summarize_counts(0, 4, 0)
    assert ties_only.win_rate is None and ties_only.win_rate_ties_half.estimate == 0.5
    with pytest.raises(UserError):
        summarize_counts(0, 0, 0)

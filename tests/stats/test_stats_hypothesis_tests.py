import pytest
from scipy.stats import binomtest

from stepeval.errors import UserError
from stepeval.stats import count_outcomes, sign_test, sign_test_outcomes


@pytest.mark.parametrize(
    "wins,losses",
    [(0, 1), (1, 0), (5, 5), (6, 4), (9, 1), (10, 0), (0, 12), (60, 40), (150, 120), (3, 297)],
)
def test_sign_test_matches_scipy_binomtest(wins, losses):
    expected = binomtest(wins, wins + losses, 0.5, alternative="two-sided").pvalue
    assert sign_test(wins, losses) == pytest.approx(expected, rel=1e-10, abs=1e-300)


def test_sign_test_hand_value():
    # 9 wins, 1 loss: 2 * (C(10,0) + C(10,1)) / 2^10 = 22 / 1024.
    assert sign_test(9, 1) == pytest.approx(22 / 1024)


def test_sign_test_without_decisive_judgments_is_one():
    assert sign_test(0, 0) == 1.0


def test_sign_test_outcomes_drops_ties():
    outcomes = ["A"] * 9 + ["B"] + ["Tie"] * 40
    assert sign_test_outcomes(outcomes) == pytest.approx(sign_test(9, 1))


def test_outcome_labels_are_case_insensitive_and_include_codes():
    counts = count_outcomes(["a", " A ", "Win", "tie", "TIE", 0, "b", -1, 1.0, "model_b"])
    assert (counts.wins, counts.ties, counts.losses) == (4, 3, 3)
    assert str(counts) == "4-3-3"


@pytest.mark.parametrize("bad", [["A", "maybe"], ["A", None], ["A", float("nan")], [True]])
def test_unknown_or_missing_labels_are_user_errors(bad):
    with pytest.raises(UserError):
        sign_test_outcomes(bad)

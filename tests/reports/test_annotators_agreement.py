"""Agreement on model-relative labels, Cohen's kappa, gold accuracy and position bias."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from reports import pairwise, statistics
from stepeval.stats import krippendorff_alpha
from tests.reports.helpers import focal_side, frame, j

IA = "instruction_adherence"


def test_alpha_uses_model_relative_labels_not_screen_sides():
    # Both annotators prefer "f" on every item, but saw it on opposite sides of the screen and in
    # opposite study roles: screen labels disagree, model-relative labels agree perfectly.
    rows = []
    for n, r in enumerate("WWLTW"):
        rows.append(focal_side(f"real/H/00{n}", IA, "ann0", "f", "o", r, swapped=False))
        rows.append(focal_side(f"real/H/00{n}", IA, "ann1", "f", "o", r, as_b=True, swapped=False))
    votes = pairwise.oriented_votes(frame(rows), "f")
    ag = statistics.agreement(votes, ("opponent", "dimension"), n_resamples=200, seed=0).iloc[0]
    assert ag.alpha == pytest.approx(1.0)
    assert ag.kappa == pytest.approx(1.0)
    assert (ag["annotators"], ag["items"], ag["items_multi"]) == (2, 5, 5)
    screens = frame(rows).pivot(index="annotator", columns="item_id", values="screen_label")
    assert (screens.loc["ann0"] != screens.loc["ann1"]).sum() == 4  # every non-tie differs on screen


def test_alpha_and_kappa_match_hand_built_reliability_data():
    a0, a1, a2 = "WWTLLW", "WTTLWW", "W-TL-L"  # '-' = did not judge
    rows = []
    for ann, labels in (("a0", a0), ("a1", a1), ("a2", a2)):
        for n, r in enumerate(labels):
            if r != "-":
                rows.append(focal_side(f"real/H/00{n}", IA, ann, "f", "o", r))
    votes = pairwise.oriented_votes(frame(rows), "f")
    ag = statistics.agreement(votes, ("dimension",)).iloc[0]
    code = {"W": 1, "T": 0, "L": -1, "-": None}
    matrix = [[code[c] for c in s] for s in (a0, a1, a2)]
    assert ag.alpha == pytest.approx(krippendorff_alpha(matrix, "ordinal", values=[-1, 0, 1]))
    assert np.isnan(ag.kappa)  # three annotators: kappa is for two
    two = statistics.agreement(votes[votes.annotator != "a2"], ("dimension",)).iloc[0]
    # Hand-computed Cohen's kappa: observed 4/6 agree; marginals a0 (W3,T1,L2), a1 (W3,T2,L1).
    pe = (3 * 3 + 1 * 2 + 2 * 1) / 36
    assert two.kappa == pytest.approx((4 / 6 - pe) / (1 - pe))


def test_gold_accuracy_and_position_bias():
    rows = [j("real/H/001", IA, "ann0", "m", "m", "tie", gold=True), j("real/H/002", IA, "ann0", "m", "m", "A", gold=True),
            j("real/H/001", IA, "ann1", "m", "m", "tie", gold=True)]
    # ann0 picks the left video 7 times, the right once, ties twice (non-gold rows).
    for n, side in enumerate("LLLLLLLRTT"):
        outcome = {"L": "A", "R": "B", "T": "tie"}[side]
        rows.append(j(f"real/H/1{n:02d}", IA, "ann0", "x", "y", outcome))
    judgments = frame(rows)
    gold = statistics.gold_table(judgments).set_index("annotator")
    assert gold.loc["ann0", "accuracy"] == pytest.approx(0.5)
    assert gold.loc["ann1", "accuracy"] == pytest.approx(1.0)
    ref = binomtest(1, 2).proportion_ci(0.95, method="wilson")
    assert (gold.loc["ann0", "low"], gold.loc["ann0", "high"]) == pytest.approx((ref.low, ref.high))
    bias = statistics.position_bias_table(judgments).set_index("annotator")
    assert (bias.loc["ann0", "left"], bias.loc["ann0", "ties"], bias.loc["ann0", "right"]) == (7, 2, 1)
    assert bias.loc["ann0", "fraction_left"] == pytest.approx(7 / 8)
    assert bias.loc["ann0", "p_value"] == pytest.approx(binomtest(7, 8).pvalue)
    assert "(all annotators)" in bias.index


def test_agreement_without_overlap_says_why():
    rows = [focal_side("real/H/001", IA, "a", "f", "o", "W"), focal_side("real/H/002", IA, "b", "f", "o", "L")]
    ag = statistics.agreement(pairwise.oriented_votes(frame(rows), "f"), ("dimension",)).iloc[0]
    assert np.isnan(ag.alpha) and "two or more annotators" in ag.note
    assert isinstance(pd.DataFrame([ag]), pd.DataFrame)

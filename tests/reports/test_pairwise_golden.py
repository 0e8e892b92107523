"""Table 2 and its statistics on judgments built by hand; expected values computed by hand and by scipy."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from reports import pairwise, statistics
from stepeval.stats import resample_counts
from tests.reports.helpers import focal_side, frame, j

F, A, B = "focal", "oppA", "oppB"
IA, CO, PL = "instruction_adherence", "consistency", "physical_laws"


def golden_rows():
    rows = []
    # focal vs oppA, instruction adherence, real: several annotators per item.
    votes = {"real/H/001": "WWL", "real/H/002": "WTL", "real/H/003": "LLT", "real/H/004": "WL", "real/H/005": "T",
             "real/H/006": "W"}
    for item, results in votes.items():
        for k, r in enumerate(results):
            # Alternate which study side the focal model was on: the table must orient every row.
            rows.append(focal_side(item, IA, f"ann{k}", F, A, r, as_b=(k % 2 == 1), swapped=(k == 2)))
    # One annotator each on the other dimensions; real/H/006 lacks them (a consistency failure).
    for item, c, p in zip(["real/H/001", "real/H/002", "real/H/003", "real/H/004", "real/H/005"], "WWWTL", "LLTTW"):
        rows.append(focal_side(item, CO, "ann0", F, A, c))
        rows.append(focal_side(item, PL, "ann0", F, A, p, as_b=True))
    for item, ia, co, pl in (("anime/V/001", "W", "T", "W"), ("anime/V/002", "W", "L", "T")):
        rows += [focal_side(item, IA, "ann0", F, A, ia), focal_side(item, CO, "ann0", F, A, co),
                 focal_side(item, PL, "ann0", F, A, pl)]
    # focal vs oppB: real/H/007 was refused by oppB (its judgment must not count); a cannot-judge flag.
    for item in ("real/H/001", "anime/V/001"):
        rows += [focal_side(item, d, "ann0", F, B, "W") for d in (IA, CO, PL)]
    rows.append(focal_side("real/H/007", IA, "ann0", F, B, "W"))
    rows.append(focal_side("anime/V/001", IA, "ann1", F, B, "L", cannot_judge=True))
    # A gold item (a video against itself) only measures the annotator.
    rows.append(j("real/H/001", IA, "ann0", F, F, "tie", gold=True))
    return rows


def generations():
    rows = [{"model_tag": m, "item_id": i, "sample": 0, "status": "ok"} for m in (F, A, B)
            for i in ["real/H/00%d" % n for n in range(1, 8)] + ["anime/V/001", "anime/V/002", "anime/V/003"]]
    rows += [{"model_tag": B, "item_id": "real/H/007", "sample": 0, "status": "refused"},
             {"model_tag": B, "item_id": "anime/V/003", "sample": 0, "status": "refused"}]
    return pd.DataFrame(rows)


@pytest.fixture
def table():
    return pairwise.build_pairwise(frame(golden_rows()), F, opponents=[A, B], generations=generations())


def test_table2_cells_and_total_match_hand_counts(table):
    display, data = pairwise.table2(table)
    cell = {(r.opponent, r.dimension, r.domain): (r.wins, r.ties, r.losses) for r in data.itertuples()}
    # Majority per item, ties between the top labels -> Tie: 001 W, 002 T, 003 L, 004 T, 005 T, 006 W.
    assert cell[(A, IA, "real")] == (2, 3, 1)
    assert cell[(A, CO, "real")] == (3, 1, 1)
    assert cell[(A, PL, "real")] == (1, 2, 2)
    assert cell[(A, IA, "anime")] == (2, 0, 0)
    assert cell[(A, CO, "anime")] == (0, 1, 1)
    assert cell[(A, PL, "anime")] == (1, 1, 0)
    assert cell[(A, "total", "")] == (9, 8, 5)
    assert cell[(B, IA, "real")] == (1, 0, 0)  # the refused real/H/007 is gone
    assert cell[(B, IA, "anime")] == (1, 0, 0)  # the cannot-judge L is gone
    assert cell[(B, "total", "")] == (6, 0, 0)
    assert list(display.columns) == ["Dimension", "Domain", A, B]
    assert display.iloc[0].tolist() == ["Instruction Adherence", "Real", "2-3-1", "1-0-0"]
    assert display.iloc[-1].tolist() == ["Total", "", "9-8-5", "6-0-0"]


def test_all_votes_counts(table):
    _, data = pairwise.table2(table, all_votes=True)
    cell = {(r.opponent, r.dimension, r.domain): (r.wins, r.ties, r.losses) for r in data.itertuples()}
    # WWL + WTL + LLT + WL + T + W
    assert cell[(A, IA, "real")] == (5, 3, 5)


def test_consistency_check_flags_the_cells_that_do_not_add_up(table):
    bad = table.inconsistent
    assert sorted(zip(bad["opponent"], bad["dimension"], bad["domain"])) == [(A, CO, "real"), (A, PL, "real")]
    row = bad.iloc[0]
    assert (row["cell_total"], row["pairs_judged"]) == (5, 6)
    ok = table.consistency[table.consistency["ok"]]
    assert ((ok["opponent"] == A) & (ok["dimension"] == IA) & (ok["domain"] == "real")).any()
    # Pairs with both videos: oppB lost real/H/007 (refused) -> 6 real pairs.
    exp = table.consistency[(table.consistency["opponent"] == B) & (table.consistency["domain"] == "real")]
    assert set(exp["pairs_expected"]) == {6}


def test_footnotes_name_refused_pairs_and_cannot_judge(table):
    assert table.footnotes[A] == []
    notes = " ".join(table.footnotes[B])
    assert "2 pair(s) excluded because the opponent (oppB) refused the prompt (Real 1, Anime 1)" in notes
    assert "1 judgment(s) flagged 'cannot judge'" in notes


def _wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_statistics_equal_hand_computed_and_scipy_values(table):
    stats = statistics.cell_statistics(table, n_resamples=500, seed=3)
    row = stats[(stats.opponent == A) & (stats.dimension == IA) & (stats.domain == "real")].iloc[0]
    assert (row.wins, row.ties, row.losses, row.n) == (2, 3, 1, 6)
    assert row.win_rate == pytest.approx(2 / 3)
    ref = binomtest(2, 3).proportion_ci(0.95, method="wilson")
    assert (row.win_rate_low, row.win_rate_high) == pytest.approx((ref.low, ref.high), abs=1e-9)
    assert row.tie_half == pytest.approx(3.5 / 6)
    assert (row.tie_half_low, row.tie_half_high) == pytest.approx(_wilson(3.5, 6), abs=1e-9)
    assert row.sign_test_p == pytest.approx(binomtest(2, 3).pvalue)
    assert (row.votes_wins, row.votes_ties, row.votes_losses) == (5, 3, 5)

    total = stats[(stats.opponent == A) & (stats.dimension == "*") & (stats.domain == "*")].iloc[0]
    assert (total.wins, total.ties, total.losses) == (9, 8, 5)
    assert total.sign_test_p == pytest.approx(binomtest(9, 14).pvalue)
    ref = binomtest(9, 14).proportion_ci(0.95, method="wilson")
    assert (total.win_rate_low, total.win_rate_high) == pytest.approx((ref.low, ref.high), abs=1e-9)


def test_bootstrap_resamples_items_with_all_their_annotators(table):
    stats = statistics.cell_statistics(table, n_resamples=500, seed=3)
    total = stats[(stats.opponent == A) & (stats.dimension == "*") & (stats.domain == "*")].iloc[0]
    # Reference: materialise every resample item by item (all of an item's votes, all dimensions).
    votes = table.votes[table.votes.opponent == A]
    items = sorted(votes.item_id.unique())
    per_item = {i: ((votes[votes.item_id == i].code + 1) / 2).tolist() for i in items}
    counts = resample_counts(len(items), 500, np.random.default_rng([3, 0]))  # oppA: the first comparison
    reps = []
    for draw in counts:
        scores = [s for i, c in zip(items, draw) for _ in range(c) for s in per_item[i]]
        reps.append(np.mean(scores))
    low, high = np.quantile(reps, [0.025, 0.975])
    assert (total.boot_low, total.boot_high) == pytest.approx((low, high), abs=1e-12)
    assert total.boot_items == len(items) == 8
    assert total.boot_low < total.tie_half < total.boot_high


def test_orientation_flips_outcomes_when_the_focal_model_is_b():
    rows = [focal_side("real/H/001", IA, "a", F, A, "W", as_b=True), focal_side("real/H/002", IA, "a", F, A, "L")]
    t = pairwise.build_pairwise(frame(rows), F)
    assert sorted(t.resolved.code.tolist()) == [-1, 1]
    t_rev = pairwise.build_pairwise(frame(rows), A)  # the opponent's view is the mirror image
    assert t_rev.counts[["wins", "ties", "losses"]].sum().tolist() == [1, 0, 1]


@pytest.mark.parametrize("votes, expected", [("WWL", 1), ("WLL", -1), ("WTL", 0), ("WL", 0), ("WT", 0), ("TTW", 0),
                                             ("WWTT", 0), ("WWT", 1), ("T", 0), ("LLWT", -1)])
def test_majority_rule(votes, expected):
    rows = [focal_side("real/H/001", IA, f"a{k}", F, A, r) for k, r in enumerate(votes)]
    assert pairwise.build_pairwise(frame(rows), F).resolved.code.tolist() == [expected]


def test_split_by_pair_keeps_rows_after_gold_items():
    rows = [j("real/H/001", IA, "a", "x", "x", "tie", gold=True), j("real/H/002", IA, "a", "x", "y", "A"),
            j("real/H/003", IA, "a", "y", "x", "B"), j("real/H/004", IA, "a", "x", "z", "tie")]
    pairs = pairwise.split_by_pair(frame(rows))
    assert sorted(pairs) == [("x", "y"), ("x", "z")]
    assert pairs[("x", "y")].item_id.tolist() == ["real/H/002", "real/H/003"]
    assert pairs[("x", "z")].item_id.tolist() == ["real/H/004"]

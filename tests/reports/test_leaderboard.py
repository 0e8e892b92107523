"""Bradley-Terry leaderboard: recovery of known strengths, interval coverage, matrices."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from reports import leaderboard, pairwise
from reports.judgments import prepare_judgments
from tests.reports.helpers import frame, j

TRUE = {"strong": 0.6, "middle": 0.0, "weak": -0.6}  # centred log-strengths


def simulate(rng, per_pair, run=0):
    """One battle per item: pairs in random screen order, outcomes drawn from the BT model."""
    models = list(TRUE)
    rows = []
    n = 0
    for x in range(3):
        for y in range(x + 1, 3):
            for _ in range(per_pair):
                a, b = (models[x], models[y]) if rng.random() < 0.5 else (models[y], models[x])
                win = rng.random() < expit(TRUE[a] - TRUE[b])
                rows.append(j(f"real/H/{run}-{n}", "instruction_adherence", "ann", a, b, "A" if win else "B"))
                n += 1
    return frame(rows)


def test_recovers_the_order_of_three_models():
    lb = leaderboard.build_leaderboard(simulate(np.random.default_rng(7), 300), models=list(TRUE), n_resamples=200, seed=1)
    overall = lb.ratings[lb.ratings.scope == leaderboard.OVERALL].sort_values("rank")
    assert overall.model.tolist() == ["strong", "middle", "weak"]
    est = dict(zip(overall.model, overall.log_strength))
    for m, truth in TRUE.items():
        assert est[m] == pytest.approx(truth, abs=0.15)
    # Elo is the same scale: 400 / ln 10 points per unit of log-strength, centred on 1000.
    assert overall.elo.tolist() == pytest.approx((1000 + 400 / np.log(10) * overall.log_strength).tolist())
    assert (overall.elo_low < overall.elo).all() and (overall.elo < overall.elo_high).all()


def test_bootstrap_intervals_cover_the_truth_at_the_stated_rate():
    rng = np.random.default_rng(2024)
    hits = total = 0
    for sim in range(150):
        judgments = simulate(rng, 60, run=sim)
        lb = leaderboard.build_leaderboard(judgments, models=list(TRUE), n_resamples=200, seed=sim)
        r = lb.ratings[lb.ratings.scope == leaderboard.OVERALL]
        for m, lo, hi in zip(r.model, r.log_strength_low, r.log_strength_high):
            hits += lo <= TRUE[m] <= hi
            total += 1
    coverage = hits / total
    assert 0.90 <= coverage <= 1.0, coverage


def test_matrices_and_scopes():
    rows = [j("real/H/001", "consistency", "a", "x", "y", "A"), j("real/H/002", "consistency", "a", "y", "x", "tie"),
            j("real/H/003", "physical_laws", "a", "x", "z", "B"), j("real/H/004", "physical_laws", "a", "z", "y", "A")]
    lb = leaderboard.build_leaderboard(frame(rows), models=["x", "y", "z", "unjudged"], n_resamples=50, seed=0)
    wf = lb.win_fraction[leaderboard.OVERALL]
    assert wf.models == ("x", "y", "z")
    i = {m: k for k, m in enumerate(wf.models)}
    assert wf.values[i["x"], i["y"]] == pytest.approx(0.75)  # one win and one tie
    assert wf.values[i["y"], i["x"]] == pytest.approx(0.25)
    assert np.isnan(wf.values[i["x"], i["x"]])
    bc = lb.battles[leaderboard.OVERALL]
    assert bc.values[i["x"], i["y"]] == 2 and bc.values[i["y"], i["z"]] == 1
    assert set(lb.ratings.scope) == {"overall", "consistency", "physical_laws"}
    assert "unjudged" in lb.notes["models without judgments"]
    # consistency only compared x and y: its scope ranks just those two.
    assert set(lb.ratings[lb.ratings.scope == "consistency"].model) == {"x", "y"}


def test_disconnected_models_get_a_note_not_a_shared_scale():
    rows = [j("real/H/001", "consistency", "a", "x", "y", "A"), j("real/H/002", "consistency", "a", "p", "q", "A")]
    lb = leaderboard.build_leaderboard(frame(rows), n_resamples=20, seed=0)
    assert lb.ratings.empty
    assert "never compared" in lb.notes[leaderboard.OVERALL]


def test_gold_and_cannot_judge_rows_are_not_battles():
    rows = [j("real/H/001", "consistency", "a", "x", "y", "A"), j("real/H/001", "consistency", "b", "x", "x", "tie", gold=True),
            j("real/H/002", "consistency", "a", "x", "y", "B", cannot_judge=True), j("real/H/003", "consistency", "a", "y", "x", "B")]
    usable = pairwise.usable(frame(rows))
    lb = leaderboard.build_leaderboard(usable, n_resamples=20, seed=0)
    assert lb.battles[leaderboard.OVERALL].values.tolist() == [[0, 2], [2, 0]]
    assert prepare_judgments(pd.DataFrame(rows)).shape[0] == 4

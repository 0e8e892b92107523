import math

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from stepeval.errors import UserError
from stepeval.stats import (
    ELO_SCALE,
    battle_count_matrix,
    bootstrap_bradley_terry,
    fit_bradley_terry,
    fit_scores,
    predicted_win_matrix,
    resample_counts,
    to_elo,
    win_fraction_matrix,
)


def simulate(theta, per_pair, rng, tie_prob=0.0, names=None):
    """Battles between every pair of models, sides random, outcomes from the BT model."""
    k = len(theta)
    names = names or [f"m{i}" for i in range(k)]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)] * per_pair
    i, j = np.array(pairs).T
    swap = rng.random(i.size) < 0.5
    a, b = np.where(swap, j, i), np.where(swap, i, j)
    p_a = expit(np.asarray(theta)[a] - np.asarray(theta)[b])
    u = rng.random(i.size)
    tie = rng.random(i.size) < tie_prob
    outcome = np.where(tie, "Tie", np.where(u < p_a, "A", "B"))
    return np.asarray(names)[a], np.asarray(names)[b], outcome


def test_two_models_closed_form_with_ties_as_half_wins():
    # x scored 3 + 1/2 against y's 1/2: the MLE gives theta_x - theta_y = log(3.5 / 0.5) = log 7.
    fit = fit_bradley_terry(["x"] * 4, ["y"] * 4, ["A", "A", "A", "Tie"], l2=1e-9)
    assert fit.log_strength[0] - fit.log_strength[1] == pytest.approx(math.log(7), rel=1e-6)
    assert fit.log_strength.sum() == pytest.approx(0.0, abs=1e-12)
    assert fit.win_probability("x", "y") == pytest.approx(7 / 8, rel=1e-6)


def test_fit_matches_a_generic_optimiser_on_the_same_objective():
    rng = np.random.default_rng(0)
    a, b, out = simulate([0.8, 0.3, -0.2, -0.9], per_pair=15, rng=rng, tie_prob=0.2)
    fit = fit_bradley_terry(a, b, out)
    models = list(fit.models)
    s = np.zeros((4, 4))
    for x, y, o in zip(a, b, out):
        i, j = models.index(x), models.index(y)
        score = {"A": 1.0, "Tie": 0.5, "B": 0.0}[o]
        s[i, j] += score
        s[j, i] += 1 - score

    def neg_objective(t):
        d = t[:, None] - t[None, :]
        return (s * np.logaddexp(0, -d)).sum() + 0.5 * fit.l2 * t @ t

    ref = minimize(neg_objective, np.zeros(4), method="BFGS", options={"gtol": 1e-12}).x
    assert fit.log_strength == pytest.approx(ref, abs=1e-5)


def test_recovers_the_order_of_three_models_with_known_strengths():
    rng = np.random.default_rng(42)
    truth = np.array([0.7, 0.0, -0.7])
    a, b, out = simulate(truth, per_pair=150, rng=rng, tie_prob=0.25, names=["strong", "mid", "weak"])
    fit = fit_bradley_terry(a, b, out, models=["strong", "mid", "weak"])
    assert fit.ranking() == ["strong", "mid", "weak"]
    # Ties as half wins shrink differences by the tie rate (here about 25%), nothing more.
    assert fit.log_strength == pytest.approx(truth * 0.75, abs=0.2)


def test_result_does_not_depend_on_which_side_a_model_was_shown():
    rng = np.random.default_rng(1)
    a, b, out = simulate([0.5, 0.0, -0.5], per_pair=20, rng=rng, tie_prob=0.3)
    flipped = np.array([{"A": "B", "B": "A", "Tie": "Tie"}[o] for o in out])
    one = fit_bradley_terry(a, b, out)
    two = fit_bradley_terry(b, a, flipped)
    assert one.log_strength == pytest.approx(two.log_strength, abs=1e-10)


def test_only_ties_gives_equal_strengths():
    fit = fit_bradley_terry(["x", "y", "z"], ["y", "z", "x"], ["Tie"] * 3)
    assert fit.log_strength == pytest.approx(np.zeros(3), abs=1e-12)


def test_undefeated_model_stays_finite_thanks_to_the_prior():
    fit = fit_bradley_terry(["x"] * 10 + ["y"] * 10, ["y"] * 10 + ["z"] * 10, ["A"] * 20)
    assert np.all(np.isfinite(fit.log_strength))
    assert fit.ranking() == ["x", "y", "z"]


def test_battle_weights_equal_duplicated_battles():
    a, b, out = ["x", "x", "y"], ["y", "z", "z"], ["A", "B", "Tie"]
    weighted = fit_bradley_terry(a, b, out, weights=[2.0, 1.0, 1.0])
    duplicated = fit_bradley_terry(a + ["x"], b + ["y"], out + ["A"])
    assert weighted.log_strength == pytest.approx(duplicated.log_strength, abs=1e-10)


def test_elo_view():
    assert ELO_SCALE == pytest.approx(400 / math.log(10))
    # A log-odds gap of ln 10 (10:1 odds) is 400 Elo points; theta 0 is the base.
    assert to_elo([math.log(10) / 2, -math.log(10) / 2]) == pytest.approx([1200.0, 800.0])
    fit = fit_bradley_terry(["x"] * 4, ["y"] * 4, ["A", "A", "A", "Tie"], l2=1e-9)
    elo = fit.elo()
    assert elo.mean() == pytest.approx(1000.0)
    assert elo[0] - elo[1] == pytest.approx(400 * math.log10(7), rel=1e-6)
    assert fit.elo(base=1500, scale=1.0) == pytest.approx(1500 + fit.log_strength)


def test_pair_matrices_hand_computed():
    a = ["x", "y", "x", "z", "x"]
    b = ["y", "x", "z", "x", "y"]
    out = ["A", "A", "Tie", "B", "B"]
    counts = battle_count_matrix(a, b)
    assert counts.models == ("x", "y", "z")
    assert counts.values.tolist() == [[0, 3, 2], [3, 0, 0], [2, 0, 0]]
    wins = win_fraction_matrix(a, b, out)
    # x vs y: x won, y won, y won -> x scores 1/3. x vs z: tie (1/2) and x won (B as z was A): 3/4.
    assert wins.values[0, 1] == pytest.approx(1 / 3)
    assert wins.values[1, 0] == pytest.approx(2 / 3)
    assert wins.values[0, 2] == pytest.approx(3 / 4)
    assert math.isnan(wins.values[1, 2]) and math.isnan(wins.values[0, 0])
    models, matrix = wins  # unpacks like a tuple
    assert models == ("x", "y", "z")


def test_predicted_win_matrix():
    p = predicted_win_matrix([1.0, 0.0, -0.5])
    assert np.diag(p) == pytest.approx([0.5, 0.5, 0.5])
    assert p + p.T == pytest.approx(np.ones((3, 3)))
    assert p[0, 2] == pytest.approx(expit(1.5))


def test_fit_scores_batches_and_agrees_with_single_fits():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 6, size=(5, 4, 4)).astype(float)
    scores[:, np.arange(4), np.arange(4)] = 0
    batched = fit_scores(scores)
    for r in range(5):
        assert batched[r] == pytest.approx(fit_scores(scores[r]), abs=1e-9)


@pytest.mark.parametrize(
    "a,b,out,kwargs",
    [
        (["x"], ["x"], ["Tie"], {}),  # a gold item: same model on both sides
        (["x", "z"], ["y", "w"], ["A", "B"], {}),  # two groups never compared
        (["x"], ["y"], ["A wins"], {}),  # unknown label
        (["x"], ["y"], ["A"], {"models": ["x"]}),  # model outside the given list
        (["x"], ["y"], ["A"], {"models": ["x", "y", "z"]}),  # listed model without battles
        (["x", "y"], ["y"], ["A"], {}),  # ragged columns
        ([], [], [], {}),  # empty
    ],
)
def test_user_errors(a, b, out, kwargs):
    with pytest.raises(UserError):
        fit_bradley_terry(a, b, out, **kwargs)


def test_bootstrap_is_seeded_and_reports_the_elo_view():
    rng = np.random.default_rng(5)
    a, b, out = simulate([0.6, 0.0, -0.6], per_pair=40, rng=rng, tie_prob=0.2)
    res = bootstrap_bradley_terry(a, b, out, n_resamples=300, seed=7)
    again = bootstrap_bradley_terry(a, b, out, n_resamples=300, seed=7)
    assert np.array_equal(res.replicates, again.replicates)
    assert res.replicates.shape == (300, 3)
    assert res.replicates.sum(axis=1) == pytest.approx(np.zeros(300), abs=1e-9)  # centred
    assert np.all(res.low <= res.log_strength) and np.all(res.log_strength <= res.high)
    elo, low, high = res.elo()
    assert low == pytest.approx(to_elo(res.low)) and high == pytest.approx(to_elo(res.high))
    records = res.as_records()
    assert [r["model"] for r in records] == ["m0", "m1", "m2"]
    assert records[0]["rank"] == 1 and records[0]["elo_low"] <= records[0]["elo"] <= records[0]["elo_high"]
    assert res.resampled == "battles" and res.seed == 7


def test_item_bootstrap_resamples_items_and_marks_absent_models_nan():
    # z appears in one item only: resamples that miss that item cannot rate z.
    items = ["i1", "i1", "i2", "i2", "i3", "i3", "i4"]
    a = ["x", "y", "x", "y", "x", "y", "z"]
    b = ["y", "x", "y", "x", "y", "x", "x"]
    out = ["A", "B", "A", "Tie", "B", "B", "A"]
    res = bootstrap_bradley_terry(a, b, out, items=items, n_resamples=400, seed=1)
    assert res.resampled == "items" and res.n_clusters == 4
    # Rebuild the item draws (same seed, one block) and check NaN exactly where a model had no battle.
    counts = resample_counts(4, 400, np.random.default_rng(1))  # items in sorted order i1..i4
    played = {
        "x": counts.sum(axis=1) > 0,
        "y": counts[:, :3].sum(axis=1) > 0,
        "z": counts[:, 3] > 0,
    }
    for name, did_play in played.items():
        column = res.replicates[:, res.models.index(name)]
        assert np.array_equal(np.isnan(column), ~did_play)
    z = res.models.index("z")
    # P(item i4 not drawn in 4 draws) = (3/4)^4 ~ 0.32.
    assert 0.2 < np.isnan(res.replicates[:, z]).mean() < 0.45
    assert np.isfinite(res.low[z]) and np.isfinite(res.high[z])


def test_bootstrap_intervals_cover_the_true_strengths_at_the_stated_rate():
    truth = np.array([0.5, 0.0, -0.5])  # centred, as the fit is
    rng = np.random.default_rng(20240917)
    reps, hits = 200, np.zeros(3)
    for _ in range(reps):
        a, b, out = simulate(truth, per_pair=100, rng=rng)
        res = bootstrap_bradley_terry(
            a, b, out, models=["m0", "m1", "m2"], n_resamples=300, seed=int(rng.integers(2**31))
        )
        hits += (res.low <= truth) & (truth <= res.high)
    coverage = hits / reps
    assert np.all(np.abs(coverage - 0.95) <= 0.05), coverage


def test_battle_resampling_matches_resampling_each_battle_as_its_own_item():
    # Battles are resampled through counts of battle kinds; that must be the same distribution as
    # the plain bootstrap of battles (every battle its own cluster).
    rng = np.random.default_rng(9)
    a, b, out = simulate([0.4, 0.1, -0.5], per_pair=200, rng=rng, tie_prob=0.2)
    kinds = bootstrap_bradley_terry(a, b, out, n_resamples=3000, seed=1)
    plain = bootstrap_bradley_terry(a, b, out, items=np.arange(len(a)), n_resamples=3000, seed=2)
    assert kinds.replicates.mean(axis=0) == pytest.approx(plain.replicates.mean(axis=0), abs=0.005)
    assert kinds.replicates.std(axis=0) == pytest.approx(plain.replicates.std(axis=0), rel=0.08)
    assert kinds.n_clusters == plain.n_clusters == len(a)

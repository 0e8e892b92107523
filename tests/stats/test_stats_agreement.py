import math

import numpy as np
import pytest

from stepeval.errors import UserError
from stepeval.stats import (
    cohen_kappa,
    krippendorff_alpha,
    krippendorff_alpha_bootstrap,
    reliability_matrix,
)

N = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, values 1-5, missing data. Unit 12 has a single value and is not pairable.
KRIPPENDORFF_EXAMPLE = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


def slow_alpha(data, level, values=None):
    """Reference written straight from the definitions, with loops (Krippendorff 2011).

    Coincidences: every ordered pair of values from different coders within a unit holding m_u
    >= 2 values adds 1 / (m_u - 1). alpha = 1 - (n - 1) sum_ck o_ck d2_ck / sum_ck n_c n_k d2_ck.
    """
    n_coders, n_units = len(data), len(data[0])
    units = []
    for u in range(n_units):
        vals = [data[i][u] for i in range(n_coders) if data[i][u] is not None]
        if len(vals) >= 2:
            units.append(vals)
    if values is None:
        values = sorted({v for vals in units for v in vals})
    o = {(c, k): 0.0 for c in values for k in values}
    for vals in units:
        m = len(vals)
        for i in range(m):
            for j in range(m):
                if i != j:
                    o[(vals[i], vals[j])] += 1.0 / (m - 1)
    n_c = {c: sum(o[(c, k)] for k in values) for c in values}
    n = sum(n_c.values())

    def d2(c, k):
        if level == "nominal":
            return 0.0 if c == k else 1.0
        if level == "ordinal":
            lo, hi = sorted((values.index(c), values.index(k)))
            between = sum(n_c[values[g]] for g in range(lo, hi + 1))
            return (between - (n_c[c] + n_c[k]) / 2.0) ** 2
        if level == "interval":
            return float(c - k) ** 2
        if level == "ratio":
            return ((c - k) / (c + k)) ** 2 if c + k else 0.0
        raise ValueError(level)

    observed = sum(o[(c, k)] * d2(c, k) for c in values for k in values)
    expected = sum(n_c[c] * n_c[k] * d2(c, k) for c in values for k in values)
    return 1.0 - (n - 1.0) * observed / expected


def test_krippendorff_published_values():
    # Values printed in Krippendorff (2011) for this example.
    assert krippendorff_alpha(KRIPPENDORFF_EXAMPLE, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(KRIPPENDORFF_EXAMPLE, "interval") == pytest.approx(0.849, abs=5e-4)
    assert krippendorff_alpha(KRIPPENDORFF_EXAMPLE, "ratio") == pytest.approx(0.797, abs=5e-4)


def test_krippendorff_nominal_exact_fraction():
    # By hand from the paper's coincidence matrix: diagonal o_cc = 7, 10, 8, 4, 3 (sum 32),
    # value totals n_c = 9, 13, 10, 5, 3 (n = 40). Nominal alpha is
    # 1 - (n - 1) (n - sum o_cc) / (n^2 - sum n_c^2).
    expected = 1.0 - 39 * (40 - 32) / (40 * 40 - (81 + 169 + 100 + 25 + 9))
    assert krippendorff_alpha(KRIPPENDORFF_EXAMPLE, "nominal") == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.743, abs=5e-4)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_krippendorff_example_matches_slow_reference(level):
    assert krippendorff_alpha(KRIPPENDORFF_EXAMPLE, level) == pytest.approx(
        slow_alpha(KRIPPENDORFF_EXAMPLE, level), rel=1e-12
    )


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
@pytest.mark.parametrize("seed", range(5))
def test_krippendorff_random_data_matches_slow_reference(level, seed):
    # A study shape: varying number of annotators per item, labels -1/0/+1 (B / Tie / A).
    rng = np.random.default_rng(seed)
    n_coders, n_units = 5, 40
    truth = rng.integers(-1, 2, n_units)
    data = np.where(rng.random((n_coders, n_units)) < 0.7, truth, rng.integers(-1, 2, (n_coders, n_units)))
    mask = rng.random((n_coders, n_units)) < 0.5
    matrix = [[None if mask[i, u] else int(data[i, u]) for u in range(n_units)] for i in range(n_coders)]
    fast = krippendorff_alpha(matrix, level)
    assert fast == pytest.approx(slow_alpha(matrix, level), rel=1e-10)
    # Float matrix with NaN for missing gives the same number.
    as_float = np.where(mask, np.nan, data.astype(float))
    assert krippendorff_alpha(as_float, level) == pytest.approx(fast, rel=1e-12)


def test_ordinal_labels_need_an_order_and_then_match_numeric_codes():
    code = {-1: "B", 0: "Tie", 1: "A"}
    rng = np.random.default_rng(3)
    numeric = rng.integers(-1, 2, (3, 30)).tolist()
    labels = [[code[v] for v in row] for row in numeric]
    with pytest.raises(UserError):
        krippendorff_alpha(labels, "ordinal")
    ordered = krippendorff_alpha(labels, "ordinal", values=["B", "Tie", "A"])
    assert ordered == pytest.approx(krippendorff_alpha(numeric, "ordinal"), rel=1e-12)
    assert krippendorff_alpha(labels, "nominal") == pytest.approx(krippendorff_alpha(numeric, "nominal"))
    with pytest.raises(UserError):
        krippendorff_alpha(labels, "interval", values=["B", "Tie", "A"])


def test_ordinal_metric_penalises_distant_disagreement_more_than_nominal():
    # Disagreements are all adjacent (A vs Tie), never A vs B: ordinal alpha > nominal alpha.
    data = [[1, 1, 0, -1, 0, 1, -1, 0], [1, 0, 0, -1, 1, 1, -1, -1]]
    assert krippendorff_alpha(data, "ordinal") > krippendorff_alpha(data, "nominal")


def test_units_with_a_single_judgment_do_not_change_alpha():
    extended = [row + extra for row, extra in zip(KRIPPENDORFF_EXAMPLE, [[4, N], [N, 1], [N, N], [N, N]])]
    for level in ("nominal", "ordinal", "interval"):
        assert krippendorff_alpha(extended, level) == pytest.approx(
            krippendorff_alpha(KRIPPENDORFF_EXAMPLE, level), rel=1e-12
        )


def test_perfect_agreement_and_no_variation():
    assert krippendorff_alpha([[1, 2, 3], [1, 2, 3]], "ordinal") == pytest.approx(1.0)
    assert math.isnan(krippendorff_alpha([[1, 1, 1], [1, 1, N]], "nominal"))


def test_no_pairable_units_is_a_user_error():
    with pytest.raises(UserError):
        krippendorff_alpha([[1, N], [N, 2]], "nominal")
    with pytest.raises(UserError):
        krippendorff_alpha([[N, N]], "nominal")
    with pytest.raises(UserError):
        krippendorff_alpha([1, 2, 3], "nominal")  # not a matrix
    with pytest.raises(UserError):
        krippendorff_alpha([[1, 2], [1, 7]], "ordinal", values=[1, 2, 3])


def test_alpha_bootstrap_is_seeded_and_brackets_the_estimate():
    res = krippendorff_alpha_bootstrap(KRIPPENDORFF_EXAMPLE, "ordinal", n_resamples=500, seed=3)
    again = krippendorff_alpha_bootstrap(KRIPPENDORFF_EXAMPLE, "ordinal", n_resamples=500, seed=3)
    assert res.estimate == pytest.approx(krippendorff_alpha(KRIPPENDORFF_EXAMPLE, "ordinal"))
    assert np.array_equal(res.replicates, again.replicates, equal_nan=True)
    assert res.low <= res.estimate <= res.high
    assert res.n_clusters == 11  # unit 12 is not pairable


def test_alpha_bootstrap_replicate_equals_alpha_of_the_resampled_units():
    # One replicate, rebuilt by hand: duplicating units by their counts gives the same alpha.
    res = krippendorff_alpha_bootstrap(KRIPPENDORFF_EXAMPLE, "interval", n_resamples=1, seed=5)
    from stepeval.stats.bootstrap import resample_counts

    counts = resample_counts(11, 1, np.random.default_rng(5))[0]
    columns = [u for u in range(11) for _ in range(counts[u])]
    resampled = [[row[u] for u in columns] for row in KRIPPENDORFF_EXAMPLE]
    assert res.replicates[0] == pytest.approx(slow_alpha(resampled, "interval"), rel=1e-10)


def test_reliability_matrix_pivots_a_long_table():
    units = ["u1", "u1", "u2", "u2", "u2", "u3"]
    coders = ["ann", "bob", "ann", "bob", "cy", "cy"]
    labels = ["A", "A", "Tie", "B", "B", "A"]
    rel = reliability_matrix(units, coders, labels)
    assert rel.units == ("u1", "u2", "u3")
    assert rel.coders == ("ann", "bob", "cy")
    assert rel.matrix.tolist() == [["A", "Tie", None], ["A", "B", None], [None, "B", "A"]]
    with pytest.raises(UserError):
        reliability_matrix(["u1", "u1"], ["ann", "ann"], ["A", "B"])


def _pairs(table):
    first, second = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            first += [i] * count
            second += [j] * count
    return first, second


def test_cohen_kappa_2x2_hand_computed():
    # p_o = 35/50 = 0.7; p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa = 0.2 / 0.5 = 0.4.
    first, second = _pairs([[20, 5], [10, 15]])
    assert cohen_kappa(first, second) == pytest.approx(0.4)


def test_cohen_kappa_3x3_hand_computed_unweighted_and_weighted():
    # n = 40, row margins (13, 13, 14), column margins (13, 12, 15).
    first, second = _pairs([[10, 2, 1], [3, 8, 2], [0, 2, 12]])
    # Unweighted: p_o = 30/40, p_e = (13*13 + 13*12 + 14*15) / 1600 = 535/1600.
    p_o, p_e = 30 / 40, 535 / 1600
    assert cohen_kappa(first, second) == pytest.approx((p_o - p_e) / (1 - p_e))
    # Linear: observed disagreement (2+3+2+2)*1 + (1+0)*2 = 11 over 40; chance
    # (13*12 + 13*13 + 13*15 + 14*12)*1 + (13*15 + 14*13)*2 = 1442 over 1600.
    assert cohen_kappa(first, second, weights="linear") == pytest.approx(1 - (11 / 40) / (1442 / 1600))
    # Quadratic: weights 1 and 4: 13 over 40; 688 + 4 * 377 = 2196 over 1600.
    assert cohen_kappa(first, second, weights="quadratic") == pytest.approx(1 - (13 / 40) / (2196 / 1600))


def test_cohen_kappa_labels_missing_and_errors():
    first, second = _pairs([[20, 5], [10, 15]])
    names = {0: "B", 1: "A"}
    a = [names[v] for v in first] + [None]
    b = [names[v] for v in second] + ["A"]
    assert cohen_kappa(a, b) == pytest.approx(0.4)  # the pair with a blank is dropped
    with pytest.raises(UserError):
        cohen_kappa(a, b, weights="linear")  # needs the order of the labels
    assert cohen_kappa(a, b, weights="linear", values=["B", "A"]) == pytest.approx(0.4)  # 2 categories
    with pytest.raises(UserError):
        cohen_kappa(["A"], ["A", "B"])
    with pytest.raises(UserError):
        cohen_kappa([None], ["A"])
    assert math.isnan(cohen_kappa(["A", "A"], ["A", "A"]))

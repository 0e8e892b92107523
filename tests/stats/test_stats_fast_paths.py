"""The fast paths of label coding and id factorising agree with the per-value paths they skip."""

import numpy as np
import pytest

from stepeval.errors import UserError
from stepeval.stats import encode_outcomes, encode_sides
from stepeval.stats._common import factorize


def test_encode_many_labels_matches_elementwise_meaning():
    rng = np.random.default_rng(0)
    pool = ["A", "tie", "B", "Win", "loss", " a ", 1, 0, -1, np.int8(1), 1.0, -1.0]
    labels = [pool[i] for i in rng.integers(0, len(pool), size=5000)]
    meaning = {"a": 1, "tie": 0, "b": -1, "win": 1, "loss": -1, "1": 1, "0": 0, "-1": -1, "1.0": 1, "-1.0": -1}
    expected = [meaning[str(v).strip().lower()] for v in labels]
    assert encode_outcomes(labels).tolist() == expected


def test_encode_refuses_booleans_even_beside_equal_integers():
    with pytest.raises(UserError, match="unknown outcome label"):
        encode_outcomes([1, 0, True])
    with pytest.raises(UserError, match="unknown side label"):
        encode_sides(["left", np.bool_(False)])


def test_encode_reports_missing_and_unknown_with_position():
    with pytest.raises(UserError, match="number 2 .* has no label"):
        encode_outcomes(["A", "B", float("nan"), "A"])
    with pytest.raises(UserError, match="'maybe'"):
        encode_outcomes(["A"] * 10 + ["maybe"])
    with pytest.raises(UserError, match="unknown outcome label"):
        encode_outcomes([["A"], "B"])  # unhashable: the slow path names it


def test_factorize_strings_and_mixed_ids_agree():
    ids = [f"real/H/{i % 37:03d}" for i in range(2000)]
    names, codes = factorize(ids, "item")
    assert list(names) == sorted(set(ids))
    assert [names[c] for c in codes] == ids
    names, codes = factorize([3, "3", "x"], "item")  # numbers compare as strings on the slow path
    assert names == ("3", "x") and codes.tolist() == [0, 0, 1]
    with pytest.raises(UserError, match="item number 1 .* is missing"):
        factorize(["a", None], "item")
    with pytest.raises(UserError, match="not in the given list"):
        factorize(["a", "b"], "model", order=["a"])

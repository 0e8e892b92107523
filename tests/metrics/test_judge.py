"""The automatic judge: metric-derived pairwise Win/Tie/Loss, one function for every mapping."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stepeval.human.dimensions import DIMENSION_NAMES
from stepeval.human.schema import JUDGMENT_COLUMNS
from stepeval.metrics import judge, synthetic, vbench_i2v

MAPPING = {"consistency": ("m/x", "m/y"), "physical_laws": ("m/z",)}
MIRROR = {"A": "B", "B": "A", "tie": "tie"}


def _row(model, item, metric, value, status="ok", sample=0):
    return {"model_tag": model, "item_id": item, "sample": sample, "metric": metric, "value": value, "status": status}


def _outcomes(frame: pd.DataFrame) -> dict[tuple[str, str], str]:
    return {(r.item_id, r.dimension): r.outcome for r in frame.itertuples()}


def test_margin_decides_win_or_tie_on_a_hand_made_frame():
    rows = []
    # i1: A higher by 0.05 on both metrics; i2: within the margin; i3: B higher.
    for item, (a, b) in {"i1": (0.80, 0.75), "i2": (0.80, 0.795), "i3": (0.40, 0.60)}.items():
        rows += [_row("A", item, "m/x", a), _row("B", item, "m/x", b), _row("A", item, "m/y", a), _row("B", item, "m/y", b)]
    out = judge.pairwise_judgments(pd.DataFrame(rows), MAPPING, models=["A", "B"], run_name="r", margin=0.01)
    assert list(out.columns) == list(JUDGMENT_COLUMNS)
    assert _outcomes(out) == {("i1", "consistency"): "A", ("i2", "consistency"): "tie", ("i3", "consistency"): "B"}
    assert "physical_laws" not in set(out["dimension"])  # no m/z anywhere: the dimension is left out
    assert set(out["source"]) == {"auto"} and set(out["annotator"]) == {"auto"}
    assert dict(zip(out["outcome"], out["screen_label"])) == {"A": "left", "tie": "tie", "B": "right"}
    assert set(out["model_a"]) == {"A"} and not out["swapped"].any()


def test_only_metrics_both_videos_have_count_and_failed_or_later_rows_do_not():
    rows = [
        _row("A", "i1", "m/x", 0.9), _row("B", "i1", "m/x", 0.5),
        _row("A", "i1", "m/y", 0.1),  # B has no m/y: A's low m/y must not drag its mean down
        _row("A", "i2", "m/x", 0.9), _row("B", "i2", "m/x", 0.1, status="failed"),  # B's only video failed
        _row("A", "i3", "m/x", 0.2), _row("B", "i3", "m/x", 0.5), _row("A", "i3", "m/x", 0.9),  # A rescored: latest wins
        _row("A", "*", "m/x", 0.0, sample=-1), _row("B", "*", "m/x", 1.0, sample=-1),  # per-model means are not items
        _row("A", "i4", "m/x", 0.9, sample=1), _row("B", "i4", "m/x", 0.1, sample=1),  # only the first sample is judged
    ]
    out = judge.pairwise_judgments(pd.DataFrame(rows), MAPPING, models=["A", "B"], run_name="r")
    assert _outcomes(out) == {("i1", "consistency"): "A", ("i3", "consistency"): "A"}


def test_models_order_sets_a_and_b_and_absent_models_are_skipped():
    rows = [_row(m, "i1", "m/z", v) for m, v in (("A", 0.1), ("B", 0.5), ("C", 0.9))]
    out = judge.pairwise_judgments(pd.DataFrame(rows), MAPPING, models=["C", "ghost", "A", "B"], run_name="r")
    assert [(r.model_a, r.model_b, r.outcome) for r in out.itertuples()] == [("C", "A", "A"), ("C", "B", "A"), ("A", "B", "B")]
    assert judge.pairwise_judgments(None, MAPPING, models=["A"], run_name="r").empty


def test_item_info_fills_domain_and_aspect():
    rows = [_row(m, "real/H/001", "m/z", v) for m, v in (("A", 0.1), ("B", 0.5))]
    out = judge.pairwise_judgments(pd.DataFrame(rows), MAPPING, models=["A", "B"], run_name="r")
    assert (out["domain"].iloc[0], out["aspect"].iloc[0]) == ("real", "H")
    out = judge.pairwise_judgments(pd.DataFrame(rows), MAPPING, models=["A", "B"], run_name="r", item_info=synthetic.judge_item_info,
                                   study_id="s")
    assert (out["domain"].iloc[0], out["aspect"].iloc[0], out["study_id"].iloc[0]) == ("synthetic", "S", "s")


def test_mappings_name_the_protocol_dimensions_and_real_metrics():
    for mapping, metric in ((synthetic.JUDGE_METRICS, synthetic.SyntheticMetric), (vbench_i2v.JUDGE_METRICS, vbench_i2v.VBenchI2V)):
        assert set(mapping) == set(DIMENSION_NAMES)
        assert {m for ms in mapping.values() for m in ms} <= set(metric.columns)
    with pytest.raises(ValueError, match="unknown dimension"):
        judge.pairwise_judgments(pd.DataFrame(), {"beauty": ("m/x",)}, models=["A"], run_name="r")
    with pytest.raises(ValueError, match="non-empty sequence"):
        judge.pairwise_judgments(pd.DataFrame(), {"consistency": "m/x"}, models=["A"], run_name="r")


values = st.one_of(st.floats(0, 1, allow_nan=False), st.none())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(values, values, values, values, values, values), min_size=1, max_size=5),
       st.sampled_from([0.0, 0.01, 0.1]))
def test_swapping_the_models_mirrors_every_outcome(items, margin):
    rows = []
    for n, (ax, ay, az, bx, by, bz) in enumerate(items):
        for model, vals in (("A", (ax, ay, az)), ("B", (bx, by, bz))):
            rows += [_row(model, f"i{n}", metric, v) for metric, v in zip(("m/x", "m/y", "m/z"), vals) if v is not None]
    scores = pd.DataFrame(rows, columns=["model_tag", "item_id", "sample", "metric", "value", "status"])
    ab = _outcomes(judge.pairwise_judgments(scores, MAPPING, models=["A", "B"], run_name="r", margin=margin))
    ba = _outcomes(judge.pairwise_judgments(scores, MAPPING, models=["B", "A"], run_name="r", margin=margin))
    assert ba == {k: MIRROR[v] for k, v in ab.items()}
    # And each outcome is the definition: the means over the metrics both have, compared with the margin.
    for n, (ax, ay, az, bx, by, bz) in enumerate(items):
        for dim, pairs in (("consistency", ((ax, bx), (ay, by))), ("physical_laws", ((az, bz),))):
            both = [(a, b) for a, b in pairs if a is not None and b is not None]
            if not both:
                assert (f"i{n}", dim) not in ab
                continue
            d = sum(a for a, _ in both) / len(both) - sum(b for _, b in both) / len(both)
            expected = "A" if d > margin else ("B" if d < -margin else "tie")
            if not math.isclose(abs(d), margin, abs_tol=1e-12):  # the edge itself is float rounding's call
                assert ab[(f"i{n}", dim)] == expected, (n, dim, d)

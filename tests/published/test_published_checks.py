"""Checking a print against itself: the shipped Step-Video-TI2V tables, constructed tables with one
deliberate inconsistency of each kind, and generated consistent tables (hypothesis)."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stepeval.human.dimensions import DIMENSION_LABELS, DIMENSION_NAMES
from stepeval.metrics.aggregate import DIMENSION_KEYS, aggregate
from stepeval.published import PublishedResults, load
from stepeval.published.checks import check_reference, classify, findings, summary


@pytest.fixture(scope="module")
def shipped_checks():
    return check_reference(load("step-video-ti2v-report")[0])


def _by(checks, **where):
    return [c for c in checks if all(getattr(c, k) == v for k, v in where.items())]


def test_every_printed_aggregate_of_the_shipped_tables_is_checked(shipped_checks):
    kinds = Counter(c.check for c in shipped_checks)
    # Table 3: 4 columns x (3 aggregates + Total from the printed groups); Table 2: 4 columns x
    # (3 totals + 6 cells + 3 dimensions over both domains + 2 domains across dimensions).
    assert kinds == {"vbench_aggregate": 12, "vbench_total_from_groups": 4, "wtl_total": 12, "cell_n": 24,
                     "column_n": 12, "dimension_n": 8}
    assert not _by(shipped_checks, verdict="unchecked")


def test_shipped_table3_rounding_and_the_ostopb_i2v_disagreement(shipped_checks):
    t3 = [c for c in findings(shipped_checks) if c.table == "table3"]
    assert {(c.column, c.quantity.split(" from")[0], c.verdict) for c in t3} == {
        ("stepvideo-ti2v-motion10", "Quality Score", "rounding"),
        ("stepvideo-ti2v-motion10", "I2V Score", "rounding"),
        ("stepvideo-ti2v-motion5", "Total Score", "rounding"),
        ("OSTopB", "Quality Score", "rounding"),
        ("OSTopB", "I2V Score", "disagreement"),
        ("OSTopB", "Total Score", "disagreement"),
    }
    i2v = _by(t3, column="OSTopB", verdict="disagreement")
    i2v = next(c for c in i2v if c.quantity.startswith("I2V"))
    assert i2v.printed == "93.25" and i2v.difference == pytest.approx(93.25 - 92.876, abs=5e-4)
    assert i2v.magnitude > 20 * i2v.allowance
    # The printed Total agrees with the printed I2V: the I2V, not the Total, is off.
    total_from_groups = _by(shipped_checks, column="OSTopB", check="vbench_total_from_groups")[0]
    assert total_from_groups.verdict == "match"
    for c in _by(t3, verdict="rounding"):
        assert 0.005 < c.magnitude <= c.allowance < 0.015


def test_shipped_table2_disagreements_with_their_sizes(shipped_checks):
    bad = [c for c in findings(shipped_checks) if c.table == "table2"]
    assert all(c.verdict == "disagreement" for c in bad)  # counts have no rounding
    total_l = _by(bad, column="OSTopA", check="wtl_total")
    assert [(c.quantity, c.printed, c.recomputed, c.magnitude) for c in total_l] == [("total L", "277", "257", 20.0)]
    assert "69" in total_l[0].note  # one misprinted cell (52-57-49) would explain both findings
    cells = {(c.column, c.quantity): c.difference for c in _by(bad, check="cell_n")}
    assert cells[("OSTopA", "count of Physical Laws, real")] == -20
    assert cells[("OSTopA", "count of Instruction Adherence, real")] == 1
    # CStoPC: 4 refusals in an unnamed domain allow 174-178 real pairs; the print has 160 and 134.
    assert cells[("CStoPC", "count of Physical Laws, real")] == -14
    assert cells[("CStoPC", "count of Physical Laws, anime")] == 14
    # ...though both domains together add up to 298 - 4: the domain split, not the count, is off.
    assert all(c.verdict == "match" for c in _by(shipped_checks, column="CStoPC", check="column_n"))
    assert {c.column for c in _by(bad, check="dimension_n")} == {"OSTopA", "OSTopB", "CStoPD"}
    assert not _by(bad, column="OSTopB", check="wtl_total")


def test_classify():
    assert classify(0.004, 0.005, 0.01) == ("match", 0.015)
    assert classify(-0.012, 0.005, 0.01)[0] == "rounding"
    assert classify(0.02, 0.005, 0.01)[0] == "disagreement"
    assert classify(3, 0.0, 0.0)[0] == "disagreement" and classify(0, 0.0, 0.0)[0] == "match"


# --------------------------------------------------------------------------- constructed tables


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def _vbench_table(columns: dict[str, dict[str, float]], aggregates: dict[str, dict[str, str]]) -> dict:
    return {"id": "t3", "kind": "vbench_i2v", "source": {"table": "Table 3"}, "definitions": {"suite": "VBench-I2V", "scale": 100},
            "columns": [{"id": name, "label": name, "model": name, "values": {k: _fmt(v * 100) for k, v in raw.items()},
                         "aggregates": aggregates[name]} for name, raw in columns.items()]}


def _pairwise_table(cells: dict[str, dict[str, dict[str, tuple[int, int, int]]]], sizes: dict[str, int],
                    totals: dict[str, str] | None = None, refused: dict[str, int] | None = None) -> dict:
    totals, refused = totals or {}, refused or {}
    columns = []
    for opp, per_dim in cells.items():
        col = {"id": opp, "label": opp, "model": opp,
               "cells": {d: {m: "-".join(map(str, c)) for m, c in per_dom.items()} for d, per_dom in per_dim.items()}}
        if opp in totals:
            col["total"] = totals[opp]
        if refused.get(opp):
            col["refused"] = {"count": refused[opp]}
        columns.append(col)
    return {"id": "t2", "kind": "pairwise_wtl", "source": {"table": "Table 2"}, "definitions": {"suite": "human W-T-L"},
            "focal": "F", "dimensions": {d: DIMENSION_LABELS[d] for d in DIMENSION_NAMES}, "domains": sizes, "columns": columns}


def _reference(*tables: dict) -> PublishedResults:
    return PublishedResults.model_validate({"format": "stepeval-published-results", "schema_version": 1, "name": "constructed",
                                            "source": {"title": "constructed"}, "tables": list(tables)})


def _printed_parts(raw: dict[str, float]) -> dict[str, float]:
    return {k: float(_fmt(v * 100)) / 100 for k, v in raw.items()}


def _consistent_aggregates(raw: dict[str, float]) -> dict[str, str]:
    agg = aggregate(_printed_parts(raw)).as_dict()
    return {k: _fmt(v * 100) for k, v in agg.items()}


def _wtl_total(per_dim) -> str:
    w = t = l = 0
    for per_dom in per_dim.values():
        for a, b, c in per_dom.values():
            w, t, l = w + a, t + b, l + c
    return f"{w}-{t}-{l}"


RAW_A = dict(zip(DIMENSION_KEYS, (0.4815, 0.9744, 0.9845, 0.9562, 0.9692, 0.9908, 0.4878, 0.6174, 0.7017)))
RAW_B = dict(zip(DIMENSION_KEYS, (0.2958, 0.9773, 0.9883, 0.9452, 0.9647, 0.9809, 0.5341, 0.6104, 0.7112)))
SIZES = {"real": 10, "anime": 6}


def _cells(refused_real: int = 0):
    def cell(n, k):
        return (k % 4 + 1, n - (k % 4 + 1) - (k % 3), k % 3)
    return {d: {"real": cell(SIZES["real"] - refused_real, i), "anime": cell(SIZES["anime"], i + 1)}
            for i, d in enumerate(DIMENSION_NAMES)}


def _rounding_quality(raw: dict[str, float]) -> tuple[dict[str, float], str]:
    """Printed dimensions whose Quality, recomputed, is NOT rounded to the printed Quality, yet lies
    within what input rounding explains (as when Quality was computed from unrounded values)."""
    for step in range(200):
        moved = dict(raw, imaging_quality=raw["imaging_quality"] + step * 1e-4)
        exact = aggregate(_printed_parts(moved)).quality * 100
        shown = math.floor((exact + 0.005) * 100 + 1) / 100  # the next printed value above the correct one
        if 0.0056 < shown - exact < 0.0110:
            return moved, _fmt(shown)
    raise AssertionError("no rounding case found")  # pragma: no cover


def test_consistent_constructed_tables_have_no_findings():
    cells = {"o1": _cells(), "o2": _cells(refused_real=2)}
    ref = _reference(_vbench_table({"a": RAW_A, "b": RAW_B}, {"a": _consistent_aggregates(RAW_A), "b": _consistent_aggregates(RAW_B)}),
                     _pairwise_table(cells, SIZES, totals={o: _wtl_total(c) for o, c in cells.items()}, refused={"o2": 2}))
    checks = check_reference(ref)
    assert len(checks) > 30 and findings(checks) == []


def test_one_deliberate_inconsistency_of_each_kind_is_found_and_nothing_else():
    raw_a, quality = _rounding_quality(RAW_A)
    aggs_a = {**_consistent_aggregates(raw_a), "quality": quality}  # display rounding
    aggs_b = _consistent_aggregates(RAW_B)
    aggs_b["total"] = _fmt(float(aggs_b["total"]) + 0.5)  # a real disagreement of 0.5 points
    cells = {"o1": _cells(), "o2": _cells()}
    totals = {o: _wtl_total(c) for o, c in cells.items()}
    w, t, l = map(int, totals["o1"].split("-"))
    totals["o1"] = f"{w}-{t}-{l + 3}"  # a total off by 3 losses
    a, b, c = cells["o2"]["physical_laws"]["anime"]
    cells["o2"]["physical_laws"]["anime"] = (a, b, c + 2)  # a cell with 2 pairs too many...
    totals["o2"] = _wtl_total(cells["o2"])  # ...that its total faithfully adds up
    ref = _reference(_vbench_table({"a": raw_a, "b": RAW_B}, {"a": aggs_a, "b": aggs_b}), _pairwise_table(cells, SIZES, totals=totals))
    found = {(c.column, c.check, c.quantity, c.verdict, round(c.magnitude, 4)) for c in findings(check_reference(ref))}
    quality_diff = round(abs(float(quality) - aggregate(_printed_parts(raw_a)).quality * 100), 4)
    total_b = aggregate(_printed_parts(RAW_B)).total * 100
    assert found == {
        ("a", "vbench_aggregate", "Quality Score from the printed dimensions", "rounding", quality_diff),
        ("b", "vbench_aggregate", "Total Score from the printed dimensions", "disagreement", round(abs(float(aggs_b["total"]) - total_b), 4)),
        ("b", "vbench_total_from_groups", "Total Score from the printed Quality and I2V", "disagreement",
         round(abs(float(aggs_b["total"]) - (float(aggs_b["quality"]) + float(aggs_b["i2v"])) / 2), 4)),
        ("o1", "wtl_total", "total L", "disagreement", 3.0),
        ("o2", "cell_n", "count of Physical Laws, anime", "disagreement", 2.0),
        ("o2", "column_n", "count of Physical Laws, all domains", "disagreement", 2.0),
        ("o2", "dimension_n", "counts of anime across dimensions", "disagreement", 2.0),
    }


# --------------------------------------------------------------------------- generated tables

raw_values = st.fixed_dictionaries({k: st.floats(0.3, 1.0, allow_nan=False) for k in DIMENSION_KEYS})


@settings(max_examples=60, deadline=None)
@given(columns=st.lists(raw_values, min_size=1, max_size=4))
def test_generated_vbench_tables(columns):
    named = {f"m{i}": raw for i, raw in enumerate(columns)}
    # Aggregates from the printed parts, then printed: nothing to find.
    consistent = _reference(_vbench_table(named, {n: _consistent_aggregates(r) for n, r in named.items()}))
    assert findings(check_reference(consistent)) == []
    # Aggregates from the unrounded values, then printed (what a paper does): rounding at most.
    unrounded = {n: {k: _fmt(v * 100) for k, v in aggregate(r).as_dict().items()} for n, r in named.items()}
    verdicts = summary(check_reference(_reference(_vbench_table(named, unrounded))))
    assert verdicts["disagreement"] == 0 and verdicts["unchecked"] == 0


cell = st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40))


@settings(max_examples=60, deadline=None)
@given(first=st.lists(st.tuples(cell, cell), min_size=1, max_size=3), data=st.data())
def test_generated_pairwise_tables(first, data):
    cells, refused = {}, {}
    for k, (real, anime) in enumerate(first):
        sizes = {"real": sum(real), "anime": sum(anime)}
        if min(sizes.values()) == 0:
            return
        # Every dimension judges the same pairs: other dimensions are other splits of the same counts.
        per_dim = {}
        for d in DIMENSION_NAMES:
            per_dim[d] = {}
            for m, n in sizes.items():
                w = data.draw(st.integers(0, n))
                t = data.draw(st.integers(0, n - w))
                per_dim[d][m] = (w, t, n - w - t)
        cells[f"o{k}"] = per_dim
        if k == 0:
            base = sizes
        else:
            extra = {m: base[m] - sizes[m] for m in base}
            if min(extra.values()) < 0:
                return
            refused[f"o{k}"] = sum(extra.values())
    totals = {o: _wtl_total(c) for o, c in cells.items()}
    ref = _reference(_pairwise_table(cells, base, totals=totals, refused={o: r for o, r in refused.items() if r}))
    assert findings(check_reference(ref)) == []


def test_a_text_to_video_pairwise_table_is_published_data_too():
    """The Step-Video-T2V report's human evaluation is W-T-L on the T2V protocol's four dimensions per
    category: such a table validates and its printed total is checked like a TI2V one."""
    from stepeval.human.dimensions import PROTOCOLS, dimension_label

    dims = PROTOCOLS["t2v"].dimension_names
    cells = {"Other": {d: {"sports": (3, 5, 4), "food": (6, 4, 2)} for d in dims}}
    table = _pairwise_table(cells, {"sports": 12, "food": 12}, totals={"Other": _wtl_total(cells["Other"])})
    table["dimensions"] = {d: dimension_label(d) for d in dims}
    ref = _reference(table)
    assert list(ref.tables[0].dimensions) == list(dims)
    checks = check_reference(ref)
    totals = [c for c in checks if c.check == "wtl_total"]
    assert totals and all(c.verdict == "match" for c in totals) and not findings(checks)
    wrong = _pairwise_table(cells, {"sports": 12, "food": 12}, totals={"Other": "1-2-3"})
    wrong["dimensions"] = table["dimensions"]
    assert {c.check for c in findings(check_reference(_reference(wrong)))} == {"wtl_total"}
    bad = _pairwise_table({"Other": {**cells["Other"], "looks": {"sports": (1, 1, 1)}}}, {"sports": 12, "food": 12})
    with pytest.raises(ValueError, match="looks"):
        _reference(bad)

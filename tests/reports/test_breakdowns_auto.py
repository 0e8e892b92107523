"""Taxonomy label files, breakdowns, and metric-derived ("auto") judgments."""

import json

import pandas as pd
import pytest

from reports import auto_judgments, breakdowns, pairwise, taxonomy
from reports.judgments import prepare_judgments, split_sources
from stepeval.errors import UserError
from tests.reports.helpers import focal_side, frame, j

IA = "instruction_adherence"


def test_schema_counts_match_the_report():
    s = taxonomy.schema_frame()
    assert s[s.domain == "real"]["count"].sum() == 178
    assert s[s.domain == "anime"]["count"].sum() == 120


def test_label_files_csv_json_and_errors(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("item_id,category\nreal/H/001,Sports\nreal/H/001,surreal imagery\nanime/V/002,I2V Subject\n")
    labels = taxonomy.load_labels(csv)
    assert labels.category.tolist() == ["Sports", "Surreal imagery", "I2V Subject"]
    assert labels.domain.tolist() == ["real", "real", "anime"]  # I2V Subject resolved to the item's domain
    js = tmp_path / "labels.json"
    js.write_text(json.dumps({"anime/V/001": "pixel-art", "real/S/003": ["Camera Motion"]}))
    assert taxonomy.load_labels(js).slug.tolist() == ["pixel-art", "camera-motion"]
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,category\nreal/H/001,Pixel art\n")  # an anime category on a real item
    with pytest.raises(UserError, match="unknown category") as err:
        taxonomy.load_labels(bad)
    assert str(bad) in str(err.value)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,label\n")
    with pytest.raises(UserError, match="item_id,category"):
        taxonomy.load_labels(wrong)


def test_pairwise_breakdown_by_aspect_and_category(tmp_path):
    rows = [focal_side("real/H/001", IA, "a", "f", "o", "W", aspect="H"), focal_side("real/V/002", IA, "a", "f", "o", "L", aspect="V"),
            focal_side("real/V/003", IA, "a", "f", "o", "T", aspect="V")]
    resolved = pairwise.build_pairwise(frame(rows), "f").resolved
    by_aspect = breakdowns.pairwise_breakdown(resolved, "aspect").set_index("group")
    assert (by_aspect.loc["H", "wins"], by_aspect.loc["V", "losses"], by_aspect.loc["V", "ties"]) == (1, 1, 1)
    assert by_aspect.loc["V", "tie_half"] == pytest.approx(0.25)
    path = tmp_path / "l.csv"
    path.write_text("item_id,category\nreal/H/001,Sports\nreal/V/002,Sports\nreal/V/003,Surreal imagery\nreal/V/003,Sports\n")
    by_cat = breakdowns.pairwise_breakdown(resolved, "category", labels=taxonomy.load_labels(path)).set_index("group")
    assert (by_cat.loc["Sports", "wins"], by_cat.loc["Sports", "ties"], by_cat.loc["Sports", "losses"]) == (1, 1, 1)
    assert by_cat.loc["Surreal imagery", "n"] == 1


def _score(model, item, metric, value):
    return {"model_tag": model, "item_id": item, "sample": 0, "metric": metric, "value": value, "status": "ok"}


def test_auto_judgments_are_labelled_and_follow_the_margin():
    rows = []
    for item, (x, y) in {"real/H/001": (0.90, 0.80), "real/H/002": (0.80, 0.805), "anime/V/001": (0.5, 0.7)}.items():
        for metric in ("vbench_i2v/i2v_subject", "vbench_i2v/i2v_background"):
            rows += [_score("x", item, metric, x), _score("y", item, metric, y)]
    auto = auto_judgments.auto_judgments(pd.DataFrame(rows), models=["x", "y"], run_name="r", margin=0.01)
    assert set(auto.source) == {"auto"} and set(auto.annotator) == {"auto"}
    assert set(auto.dimension) == {"consistency"}  # only the metrics it was given
    got = dict(zip(auto.item_id, auto.outcome))
    assert got == {"real/H/001": "A", "real/H/002": "tie", "anime/V/001": "B"}
    assert dict(zip(auto.item_id, auto.domain))["anime/V/001"] == "anime"
    table = pairwise.build_pairwise(prepare_judgments(auto), "x")
    assert table.counts[["wins", "ties", "losses"]].sum().tolist() == [1, 1, 1]


def test_auto_and_human_judgments_are_never_mixed():
    human = j("real/H/001", IA, "a", "x", "y", "A")
    auto = j("real/H/001", IA, "auto", "x", "y", "B", source="auto")
    with pytest.raises(UserError, match="mix human and automatic"):
        prepare_judgments(pd.DataFrame([human, auto]))
    h, a = split_sources(pd.DataFrame([human, auto]))
    assert h.source.tolist() == ["app"] and a.source.tolist() == ["auto"]

"""Export and import of judgments: JSONL and CSV, model- and screen-relative, bad files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from stepeval.errors import UserError
from stepeval.human import DIMENSION_NAMES, AnnotationStore, export_judgments, import_judgments

LABELS = [{"instruction_adherence": "left", "consistency": "tie", "physical_laws": "right"},
          {"instruction_adherence": "right", "consistency": "right", "physical_laws": "tie"}]
KEY = ["annotator", "item_id", "is_gold", "dimension"]


def _judge_all(study) -> pd.DataFrame:
    store = study["store"]
    for name, tok in study["tokens"].items():
        ident = store.authenticate(tok)
        for n, task in enumerate(store.queue(ident.annotator_id)):
            store.submit(task.id, annotator_id=ident.annotator_id, labels=LABELS[n % 2], submission_id=f"{name}-{n}", seconds=n + 0.5)
    # one re-answer, so superseded rows exist
    ident = store.authenticate(study["tokens"]["alice"])
    first = store.queue(ident.annotator_id)[0]
    store.submit(first.id, annotator_id=ident.annotator_id, labels=LABELS[1], submission_id="alice-re", seconds=1.0)
    return store.judgments_frame(study["study_id"])


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
@pytest.mark.parametrize("view", ["both", "model", "screen"])
def test_export_then_import_reproduces_the_judgments(study, tmp_path, suffix, view):
    original = _judge_all(study)
    out = tmp_path / f"j.{suffix}"
    n = export_judgments(study["store"], out, study_id=study["study_id"], view=view)
    assert n == len(original)
    target = AnnotationStore(f"sqlite:///{tmp_path / 'other.sqlite'}")
    report = import_judgments(target, out)
    assert report.judgments == len(original) // len(DIMENSION_NAMES) and report.duplicates == 0
    assert sorted(report.annotators_created) == ["alice", "bob"]
    back = target.judgments_frame(study["study_id"])
    assert (back["source"] == "import").all()
    merged = original.merge(back, on=KEY, suffixes=("", "_imported"))
    assert len(merged) == len(original)
    assert (merged["outcome"] == merged["outcome_imported"]).all()  # the model view always survives
    if view != "model":
        assert (merged["screen_label"] == merged["screen_label_imported"]).all()
        assert (merged["swapped"] == merged["swapped_imported"]).all()
    assert (merged["seconds"] == merged["seconds_imported"]).all()
    again = import_judgments(target, out)
    assert again.judgments == 0 and again.duplicates == report.judgments
    assert target.count_judgments() == report.judgments


def test_import_with_history_rebuilds_supersession(study, tmp_path):
    _judge_all(study)
    out = tmp_path / "all.jsonl"
    export_judgments(study["store"], out, include_superseded=True)
    target = AnnotationStore(f"sqlite:///{tmp_path / 'other.sqlite'}")
    import_judgments(target, out)
    mine = study["store"].judgments_frame(study["study_id"], include_superseded=True)
    theirs = target.judgments_frame(study["study_id"], include_superseded=True)
    assert len(theirs) == len(mine) and theirs["superseded"].sum() == mine["superseded"].sum() == 3


def test_import_from_another_tool_into_our_study(study, tmp_path):
    """A vendor's file: model-relative outcomes, their own A/B order, no screen side."""
    rows = [{"item_id": study["ids"][0], "annotator": "vendor-7", "dimension": d, "outcome": o,
             "model_a": "yakbaseline", "model_b": "zebragen@motion_score=5", "created_at": "2025-01-02T03:04:05Z"}
            for d, o in zip(DIMENSION_NAMES, ["A", "tie", "B"])]
    path = tmp_path / "vendor.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    report = import_judgments(study["store"], path, study_id=study["study_id"])
    assert report.judgments == 1 and report.annotators_created == ["vendor-7"]
    frame = study["store"].judgments_frame(study["study_id"]).query("annotator == 'vendor-7'").set_index("dimension")
    # their A is our B: outcomes flip
    assert frame.loc["instruction_adherence", "outcome"] == "B" and frame.loc["physical_laws", "outcome"] == "A"
    assert frame.loc["consistency", "outcome"] == "tie"


def test_malformed_import_names_the_line_and_writes_nothing(study, tmp_path):
    _judge_all(study)
    store = study["store"]
    before = store.count_judgments()
    good = {"item_id": study["ids"][0], "annotator": "x", "dimension": "consistency", "outcome": "A",
            "model_a": "zebragen@motion_score=5", "model_b": "yakbaseline"}
    lines = [json.dumps({**good, "dimension": d}) for d in DIMENSION_NAMES] + ["{not json"]
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"bad.jsonl: line 4: not valid JSON"):
        import_judgments(store, bad_json, study_id=study["study_id"])
    bad_label = tmp_path / "bad.csv"
    pd.DataFrame([{**good, "dimension": d, "outcome": o} for d, o in zip(DIMENSION_NAMES, ["A", "maybe", "B"])]).to_csv(bad_label, index=False)
    with pytest.raises(UserError, match=r"line 3: outcome 'maybe' is not A, tie or B"):
        import_judgments(store, bad_label, study_id=study["study_id"])
    # (a judgment on fewer dimensions imports: tests/human/test_import_validation.py)
    twice = tmp_path / "twice.jsonl"
    twice.write_text(json.dumps(good) + "\n" + json.dumps({**good, "outcome": "B"}) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"line 2: a second consistency answer"):
        import_judgments(store, twice, study_id=study["study_id"])
    screen_only = tmp_path / "screen.jsonl"
    screen_only.write_text(json.dumps({**good, "outcome": None, "screen_label": "left"}) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"line 1: a screen_label needs the swapped column"):
        import_judgments(store, screen_only, study_id=study["study_id"])
    assert store.count_judgments() == before

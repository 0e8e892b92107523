"""The dimensions and the judgments frame's columns are defined once, in stepeval.human."""

from __future__ import annotations

import json

from stepeval.human import DIMENSION_NAMES, DIMENSIONS, JUDGMENT_COLUMNS, dimension_label
from stepeval.human.dimensions import DIMENSION_LABELS, DIMENSION_SHORT_LABELS, Dimension, dimensions_from_dicts
from stepeval.human.store import FRAME_COLUMNS


def test_every_dimension_has_a_name_title_label_and_short_label():
    assert DIMENSION_NAMES == ("instruction_adherence", "consistency", "physical_laws")
    for d in DIMENSIONS:
        assert d.title and d.label and d.short and len(d.short) <= len(d.label)
    assert dimension_label("physical_laws") == "Physical Laws"
    assert dimension_label("physical_laws", short=True) == "Physics"
    assert dimension_label("smell") == "smell"  # a dimension of another protocol is shown as named


def test_reports_take_names_labels_and_columns_from_stepeval_human():
    import reports.build as build
    import reports.judgments as judgments
    import reports.testing as synthetic

    assert judgments.COLUMNS is JUDGMENT_COLUMNS
    assert list(JUDGMENT_COLUMNS) == FRAME_COLUMNS
    assert [judgments.dimension_name(n) for n in DIMENSION_NAMES] == [DIMENSION_LABELS[n] for n in DIMENSION_NAMES]
    assert judgments.ordered_dimensions({"physical_laws", "zzz", "instruction_adherence"}) == [
        "instruction_adherence", "physical_laws", "zzz"]
    assert not hasattr(build, "SHORT_DIMENSIONS") and not hasattr(judgments, "DIMENSIONS")
    assert DIMENSION_SHORT_LABELS == {d.name: d.short for d in DIMENSIONS}
    frame = synthetic.simulate_judgments(synthetic.step_eval_items(4), ["a", "b"], [0.5, -0.5], run_name="r")
    assert list(frame.columns) == list(JUDGMENT_COLUMNS) and set(frame["dimension"]) == set(DIMENSION_NAMES)


def test_a_study_stored_before_labels_existed_reads_back_with_its_title():
    stored = [{"name": "x", "title": "Some title", "question": "q?", "guideline": "g"}]
    (d,) = dimensions_from_dicts(stored)
    assert d.label == "Some title" and d.short == "Some title"
    round_trip = dimensions_from_dicts(json.loads(json.dumps([dim.to_dict() for dim in DIMENSIONS])))
    assert round_trip == DIMENSIONS and isinstance(round_trip[0], Dimension)

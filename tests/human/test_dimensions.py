"""The dimensions, their templates and the judgments frame's columns are defined once, in stepeval.human."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepeval.benchmark.items import T2V, TASKS, TI2V
from stepeval.errors import UserError
from stepeval.human import DIMENSION_NAMES, DIMENSIONS, JUDGMENT_COLUMNS, PROTOCOLS, dimension_label, get_protocol
from stepeval.human.dimensions import (
    ALL_DIMENSION_NAMES,
    ALL_DIMENSIONS,
    DIMENSION_LABELS,
    DIMENSION_SHORT_LABELS,
    Dimension,
    dimensions_from_dicts,
    protocol_for_dimensions,
)
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


# -- templates -------------------------------------------------------------------------------------


def test_one_template_per_task_and_the_default_is_the_old_one():
    assert set(PROTOCOLS) == set(TASKS)
    assert PROTOCOLS[TI2V].dimensions is DIMENSIONS and PROTOCOLS[TI2V].shows_image
    assert PROTOCOLS[T2V].dimension_names == ("instruction_following", "motion_smoothness", "physical_plausibility", "aesthetic_appeal")
    assert not PROTOCOLS[T2V].shows_image
    for d in PROTOCOLS[T2V].dimensions:
        assert d.title and d.question.endswith("?") and "Tie" in d.guideline and d.label and d.short
    assert "no input image" in PROTOCOLS[T2V].dimensions[0].guideline  # said once, on the first question


def test_names_and_labels_are_unique_across_templates():
    """A report may hold any template's dimensions: a name means one thing, and no two dimensions
    share a heading or a legend label."""
    assert len(ALL_DIMENSION_NAMES) == sum(len(p.dimensions) for p in PROTOCOLS.values())
    assert len({d.label for d in ALL_DIMENSIONS}) == len(ALL_DIMENSIONS)
    assert len({d.short for d in ALL_DIMENSIONS}) == len(ALL_DIMENSIONS)
    assert [dimension_label(n) for n in PROTOCOLS[T2V].dimension_names] == [
        "Instruction Following", "Motion Smoothness", "Physical Plausibility", "Aesthetic Appeal"]
    assert dimension_label("aesthetic_appeal", short=True) == "Aesthetics"
    assert DIMENSION_LABELS == {d.name: d.label for d in DIMENSIONS}  # the old map stays the ti2v one


def test_reports_order_any_templates_dimensions_as_the_template_does():
    import reports.judgments as judgments

    shuffled = {"aesthetic_appeal", "motion_smoothness", "zzz", "instruction_following", "physical_plausibility"}
    assert judgments.ordered_dimensions(shuffled) == [*PROTOCOLS[T2V].dimension_names, "zzz"]


def test_the_app_has_keys_for_every_templates_dimensions():
    from annotation_app.media import ANSWER_KEYS, PAGE_JS

    assert len(ANSWER_KEYS) >= max(len(p.dimensions) for p in PROTOCOLS.values())
    keys = [k for row in ANSWER_KEYS for k in row]
    assert len(set(keys)) == len(keys) and not {"B", "C", "R"} & set(keys)  # back, and Streamlit's own
    assert '"123456789QWE"' in PAGE_JS and "__ANSWER_KEYS__" not in PAGE_JS


@given(st.text(max_size=12))
def test_get_protocol_accepts_a_template_name_in_any_case_and_refuses_anything_else(name):
    key = name.strip().lower()
    if key in PROTOCOLS:
        assert get_protocol(name) is PROTOCOLS[key]
        return
    with pytest.raises(UserError) as err:
        get_protocol(name)
    message = str(err.value)
    assert "unknown study protocol" in message and all(p in message for p in PROTOCOLS)


@given(st.sampled_from(sorted(PROTOCOLS)), st.data())
def test_a_templates_dimensions_are_recognised_as_that_template(name, data):
    protocol = PROTOCOLS[name]
    some = data.draw(st.sets(st.sampled_from(protocol.dimension_names), min_size=1))
    assert protocol_for_dimensions(some) is protocol
    assert protocol_for_dimensions([*some, "smell"]) is None  # a name of no template
    other = next(p for p in PROTOCOLS.values() if p is not protocol)
    assert protocol_for_dimensions([*some, other.dimension_names[0]]) is None  # two templates' names
    assert protocol_for_dimensions([]) is None


@given(st.text(max_size=30))
def test_a_name_no_template_defines_is_shown_as_is(name):
    if name in ALL_DIMENSION_NAMES:
        assert dimension_label(name) == next(d.label for d in ALL_DIMENSIONS if d.name == name)
    else:
        assert dimension_label(name) == name and dimension_label(name, short=True) == name

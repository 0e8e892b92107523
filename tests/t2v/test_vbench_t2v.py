"""VBench's text-to-video aggregation: the spec's formula written out by hand here
(../shared/spec/vbench-i2v.md, last section), the 16 dimensions, refusal of a missing one by name;
VBench's standard prompt suite as a benchmark kind; the report's VBench text-to-video table.
The scorer itself (the VBench environment) is tested in tests/metrics/test_vbench_t2v_metric.py."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.vbench_t2v_table import build_vbench_t2v, t2v_table
from stepeval.benchmark import Subset, load_benchmark
from stepeval.benchmark.vbench_t2v_suite import (
    FULL_INFO_FILE, NUM_PROMPTS, ids_for_dimensions, installed_full_info, load_vbench_t2v_suite,
)  # fmt: skip
from stepeval.cli.main import main
from stepeval.errors import UserError
from stepeval.metrics import aggregate as i2v
from stepeval.metrics.vbench_env import load_env
from stepeval.metrics.vbench_t2v import (
    AGGREGATE_NAMES, BY_KEY, CUSTOM_INPUT_DIMENSIONS, DIMENSION_KEYS, GROUPS, VBENCH_T2V, aggregate, group_score, metric_name,
    total_score,
)  # fmt: skip

RAW = {
    "subject_consistency": 0.95,
    "background_consistency": 0.96,
    "temporal_flickering": 0.97,
    "motion_smoothness": 0.98,
    "dynamic_degree": 0.60,
    "aesthetic_quality": 0.55,
    "imaging_quality": 0.65,
    "object_class": 0.85,
    "multiple_objects": 0.45,
    "human_action": 0.90,
    "color": 0.80,
    "spatial_relationship": 0.50,
    "scene": 0.40,
    "appearance_style": 0.22,
    "temporal_style": 0.24,
    "overall_consistency": 0.26,
}

# n = (raw - min) / (max - min) * weight; group = sum(n) / sum(weights); Total = (4 Q + 1 S) / 5.
QUALITY_BY_HAND = (
    (0.95 - 0.1462) / (1 - 0.1462)
    + (0.96 - 0.2615) / (1 - 0.2615)
    + (0.97 - 0.6293) / (1 - 0.6293)
    + (0.98 - 0.706) / (0.9975 - 0.706)
    + 0.60 * 0.5
    + 0.55
    + 0.65
) / (6 + 0.5)
SEMANTIC_BY_HAND = (
    0.85 + 0.45 + 0.90 + 0.80 + 0.50
    + 0.40 / 0.8222
    + (0.22 - 0.0009) / (0.2855 - 0.0009)
    + 0.24 / 0.364
    + 0.26 / 0.364
) / 9  # fmt: skip
TOTAL_BY_HAND = (4 * QUALITY_BY_HAND + 1 * SEMANTIC_BY_HAND) / 5


def test_the_sixteen_dimensions_in_their_groups():
    assert len(DIMENSION_KEYS) == 16 and set(RAW) == set(DIMENSION_KEYS)
    assert set(GROUPS["quality"]) == {"subject_consistency", "background_consistency", "temporal_flickering", "motion_smoothness",
                                      "dynamic_degree", "aesthetic_quality", "imaging_quality"}  # fmt: skip
    assert len(GROUPS["semantic"]) == 9
    assert set(CUSTOM_INPUT_DIMENSIONS) < set(GROUPS["quality"]) and len(CUSTOM_INPUT_DIMENSIONS) == 6


def test_aggregates_match_the_hand_computation():
    agg = aggregate(RAW)
    assert agg.quality == pytest.approx(QUALITY_BY_HAND, abs=1e-9, rel=0)
    assert agg.semantic == pytest.approx(SEMANTIC_BY_HAND, abs=1e-9, rel=0)
    assert agg.total == pytest.approx(TOTAL_BY_HAND, abs=1e-9, rel=0)
    assert total_score(agg.quality, agg.semantic) == pytest.approx(TOTAL_BY_HAND, abs=1e-9, rel=0)
    # the arithmetic itself, done once in exact fractions, so a wrong float constant cannot pass unnoticed
    assert (QUALITY_BY_HAND, SEMANTIC_BY_HAND, TOTAL_BY_HAND) == pytest.approx((0.8071249463, 0.6811087148, 0.7819217000), abs=1e-9)


@pytest.mark.parametrize("missing", ["temporal_flickering", "overall_consistency", "dynamic_degree"])
def test_a_missing_dimension_is_refused_by_name(missing):
    raw = {k: v for k, v in RAW.items() if k != missing}
    with pytest.raises(UserError, match=missing) as info:
        aggregate(raw)
    text = str(info.value)
    assert "missing dimension(s)" in text and "never counted as 0" in text and "text-to-video" in text


def test_custom_input_dimensions_alone_make_no_total():
    """What custom-input mode scores on one's own prompts is not enough for Quality or Total."""
    custom = {k: RAW[k] for k in CUSTOM_INPUT_DIMENSIONS}
    with pytest.raises(UserError, match="temporal_flickering"):
        group_score(custom, "quality")
    with pytest.raises(UserError, match="object_class"):
        aggregate({**custom, "temporal_flickering": 0.9})


def test_none_and_nan_are_refused():
    with pytest.raises(UserError, match="missing dimension.*color"):
        aggregate({**RAW, "color": None})
    with pytest.raises(UserError, match="non-finite.*scene"):
        aggregate({**RAW, "scene": math.nan})


def test_one_shape_for_both_leaderboards():
    """T2V's scheme is I2V's structure with other dimensions and group weights, not a copy of it."""
    assert type(VBENCH_T2V) is type(i2v.VBENCH_I2V)
    shared = set(DIMENSION_KEYS) & set(i2v.DIMENSION_KEYS)
    for key in shared:  # the six quality dimensions both leaderboards normalise alike
        a, b = VBENCH_T2V.by_key[key], i2v.BY_KEY[key]
        assert (a.weight, a.norm_min, a.norm_max) == (b.weight, b.norm_min, b.norm_max), key


@given(key=st.sampled_from(DIMENSION_KEYS), bump=st.floats(1e-4, 0.05))
def test_each_dimension_raises_its_own_group_and_the_total(key, bump):
    base = aggregate(RAW)
    raised = aggregate({**RAW, key: RAW[key] + bump})
    group = VBENCH_T2V.by_key[key].group
    other = "semantic" if group == "quality" else "quality"
    assert getattr(raised, group) > getattr(base, group) and getattr(raised, other) == getattr(base, other)
    assert raised.total > base.total


# -- VBench's standard prompt suite as a benchmark kind ----------------------------------------------

# VBench's full-info format, as vbench 0.1.5 ships it: blocks named by each entry's first dimension,
# auxiliary info for the semantic ones, and one prompt listed again in a later block.
SMALL_SUITE = [
    {"prompt_en": "In a still frame, a stop sign", "dimension": ["temporal_flickering"]},
    {"prompt_en": "a toilet, frozen in time", "dimension": ["temporal_flickering"]},
    {"prompt_en": "a red car", "dimension": ["color"], "auxiliary_info": {"color": {"color": "red"}}},
    {"prompt_en": "a cat drinking water", "dimension": ["subject_consistency", "dynamic_degree", "motion_smoothness"]},
    {"prompt_en": "The bund Shanghai, oil painting", "dimension": ["appearance_style"],
     "auxiliary_info": {"appearance_style": {"appearance_style": "oil painting"}}},
    {"prompt_en": "Turtle swimming in ocean.", "dimension": ["overall_consistency", "aesthetic_quality", "imaging_quality"]},
    {"prompt_en": "The bund Shanghai, oil painting", "dimension": ["overall_consistency", "aesthetic_quality", "imaging_quality"]},
    {"prompt_en": "", "dimension": ["color"]},
]


def write_suite(folder: Path, entries=SMALL_SUITE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FULL_INFO_FILE
    path.write_text(json.dumps(entries, indent=4), encoding="utf-8")
    return path


def test_the_suite_loads_as_text_only_items_with_ids_blocks_and_dimensions(tmp_path):
    path = write_suite(tmp_path / "copy")
    loaded = load_benchmark(path)  # the file itself names the suite
    assert loaded.name == "vbench-t2v" and loaded.task == "t2v"
    by_id = loaded.by_id()
    # ids: <first dimension>/<line in its block>; the repeated prompt is the first entry's item
    assert list(by_id) == ["temporal_flickering/001", "temporal_flickering/002", "color/001", "subject_consistency/001",
                           "appearance_style/001", "overall_consistency/001"]
    assert all(it.image_path is None and it.task == "t2v" for it in loaded.items)
    assert by_id["subject_consistency/001"].domain == "subject_consistency"
    assert by_id["subject_consistency/001"].extra["dimensions"] == ["subject_consistency", "dynamic_degree", "motion_smoothness"]
    assert by_id["color/001"].extra["auxiliary_info"] == {"color": {"color": "red"}}
    style = by_id["appearance_style/001"]
    assert style.extra["dimensions"] == ["appearance_style", "overall_consistency", "aesthetic_quality", "imaging_quality"]
    assert style.extra["merged_ids"] == ["overall_consistency/002"]
    assert loaded.categories == ["appearance_style", "color", "overall_consistency", "subject_consistency", "temporal_flickering"]
    # the empty prompt is reported, not an item; a copy that is not vbench 0.1.5's says so
    kinds = sorted(p.kind for p in loaded.problems)
    assert kinds == ["bad_prompt", "checksum_mismatch"] and not loaded.is_complete
    assert "entry 7" in str([p for p in loaded.problems if p.kind == "bad_prompt"][0])
    # every prompt VBench scores on a dimension, whichever block it is in
    assert ids_for_dimensions(loaded.items, ["aesthetic_quality"]) == ["appearance_style/001", "overall_consistency/001"]


def test_the_suite_is_found_in_a_folder_a_checkout_and_an_environment(tmp_path):
    write_suite(tmp_path / "copy")
    write_suite(tmp_path / "VBench" / "vbench")
    write_suite(tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "vbench")
    for where in ("copy", "VBench", "venv"):
        loaded = load_benchmark(tmp_path / where)
        assert loaded.name == "vbench-t2v" and len(loaded.items) == 6, where
    assert installed_full_info(tmp_path / "venv").parent.name == "vbench"
    # subsets: by block (domain), by id, sampled per block
    sub = load_benchmark(tmp_path / "copy", subset=Subset(domains=("temporal_flickering",)))
    assert sub.ids == ["temporal_flickering/001", "temporal_flickering/002"]
    assert load_benchmark(tmp_path / "copy", subset=Subset(ids=("color/001",))).ids == ["color/001"]
    with pytest.raises(UserError, match=r"overall_consistency/002 \(the same prompt as appearance_style/001\)"):
        load_vbench_t2v_suite(tmp_path / "copy", ids={"overall_consistency/002"})


def test_a_missing_suite_names_where_it_looked_and_the_fix(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError) as info:
        load_benchmark(tmp_path / "empty", "vbench-t2v")
    text = str(info.value)
    assert FULL_INFO_FILE in text and "stepeval vbench setup" in text
    assert str(tmp_path / "empty" / "lib" / "python3*" / "site-packages" / "vbench" / FULL_INFO_FILE) in text
    with pytest.raises(UserError, match="stepeval vbench setup"):
        installed_full_info(tmp_path / "no-env")
    assert main(["data", "validate", str(tmp_path / "empty"), "--kind", "vbench-t2v"]) == 2
    assert "stepeval vbench setup" in capsys.readouterr().err.replace("\n", " ")


def test_the_real_suite_of_the_vbench_environment():
    """vbench 0.1.5's own file, from the environment `stepeval vbench setup` made (skipped without it)."""
    try:
        env = load_env()
    except UserError as exc:
        pytest.skip(f"no VBench environment here ({exc})")
    loaded = load_benchmark(env.path)  # the environment's folder is enough
    assert loaded.is_complete and loaded.verified == {FULL_INFO_FILE: True}
    assert len(loaded.items) == NUM_PROMPTS == len(loaded.expected_ids)
    assert len(loaded.categories) == 11 and set(loaded.categories) <= set(DIMENSION_KEYS)
    # how many prompts VBench scores each dimension on (its 946 entries; two prompts serve two blocks)
    counts = {d: len(ids_for_dimensions(loaded.items, [d])) for d in DIMENSION_KEYS}
    assert counts["human_action"] == counts["temporal_style"] == 100 and counts["aesthetic_quality"] == 93
    assert counts["color"] == 85 and counts["temporal_flickering"] == 75 and counts["dynamic_degree"] == 72
    merged = [it for it in loaded.items if it.extra.get("merged_ids")]
    assert [it.prompt for it in merged] == ["A beautiful coastal beach in spring, waves lapping on sand by Hokusai, in the style of Ukiyo",
                                           "The bund Shanghai, oil painting"]
    assert loaded.by_id()["color/001"].extra["auxiliary_info"]["color"]


# -- the report's table --------------------------------------------------------------------------------


def _model_rows(tag: str, raw: dict) -> list[dict]:
    return [{"model_tag": tag, "item_id": "*", "sample": -1, "metric": metric_name(k), "value": v, "status": "ok"} for k, v in raw.items()]


def test_the_table_aggregates_all_sixteen_and_refuses_a_missing_one_by_name():
    custom = {k: RAW[k] for k in CUSTOM_INPUT_DIMENSIONS}
    no_color = {k: v for k, v in RAW.items() if k != "color"}
    scores = pd.DataFrame(_model_rows("full", RAW) + _model_rows("own-prompts", custom) + _model_rows("no-color", no_color))
    result = build_vbench_t2v(scores, ["full", "own-prompts", "no-color", "unscored"])
    assert result.models == ["full", "own-prompts", "no-color"]  # a model without T2V scores is not a column
    display, data, bold, notes = t2v_table(result)
    # headings are the metric owner's names
    assert list(display["Dimension"]) == [d.name for d in VBENCH_T2V.dimensions] + list(AGGREGATE_NAMES.values())
    assert display.loc[display["Dimension"] == BY_KEY["temporal_style"].name, "Group"].item() == "Semantic"
    values = data.set_index("dimension")
    assert values.at["total", "full"] == pytest.approx(TOTAL_BY_HAND, abs=1e-9)
    assert values.at["semantic", "full"] == pytest.approx(SEMANTIC_BY_HAND, abs=1e-9)
    # own prompts: six values shown, no aggregate, and the footnote names the ten missing dimensions
    assert display.set_index("Dimension").at["Total Score", "own-prompts"] == "n/a"
    assert pd.isna(values.at["quality", "own-prompts"])
    note = next(n for n in notes if n.startswith("own-prompts:"))
    for missing in set(DIMENSION_KEYS) - set(CUSTOM_INPUT_DIMENSIONS):
        assert missing in note
    assert "never counted as 0" in note
    # one semantic dimension missing: Quality is complete and shown, Semantic and Total are refused naming it
    assert values.at["quality", "no-color"] == pytest.approx(QUALITY_BY_HAND, abs=1e-9)
    assert pd.isna(values.at["total", "no-color"]) and pd.isna(values.at["semantic", "no-color"])
    assert next(n for n in notes if n.startswith("no-color:")) == (
        "no-color: Semantic Score, Total Score not computed: missing color; a missing dimension is never counted as 0.")

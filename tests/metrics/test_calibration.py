"""Calibration: requested vs measured motion score (and Dynamic Degree), Spearman rho."""

from __future__ import annotations

import math

import pytest

from stepeval.generation.tags import requested_value
from stepeval.metrics.calibration import run_calibration
from stepeval.metrics.common import score_row
from stepeval.pipeline_run import run_summary
from stepeval.runs import Run
from stepeval.stats import spearman


def test_requested_value_from_tag():
    assert requested_value("stepvideo-ti2v@motion_score=5", "motion_score") == 5.0
    assert requested_value("m@cfg=7.5,motion_score=10", "motion_score") == 10.0
    assert requested_value("m@motion_scorex=3", "motion_score") is None
    assert requested_value("static", "motion_score") is None


def test_sweep_table_and_spearman(tmp_path):
    run = Run.create(tmp_path / "run", {"benchmark": str(tmp_path)})
    rows = []
    items = ["real/H/001", "real/H/002", "anime/V/003"]
    for level in (2, 5, 10, 20):
        tag = f"sv@motion_score={level}"
        for k, item in enumerate(items):
            # Measured grows with the request except one inversion; dynamic degree is 1 from level 10 on.
            measured = level * 1.5 + k + (30 if (level, k) == (5, 2) else 0)
            rows.append(score_row((tag, item, 0), "motion_score", measured))
            rows.append(score_row((tag, item, 0), "vbench_i2v/dynamic_degree", 1.0 if level >= 10 else 0.0))
        rows.append(score_row((tag, "*", -1), "motion_score", 99.0))  # per-model rows are not items
    rows.append(score_row(("sv@motion_score=20", "anime/V/004", 0), "motion_score", None, status="failed", error="x"))
    rows.append(score_row(("static", "real/H/001", 0), "motion_score", 0.0))  # not part of any sweep
    run.scores.append(rows)
    frame, summary = run_calibration(run)
    assert len(frame) == 12 and set(frame["family"]) == {"sv"}
    row = frame[(frame["requested"] == 10) & (frame["item_id"] == "real/H/002")].iloc[0]
    assert row["measured"] == 16.0 and row["dynamic_degree"] == 1.0
    s = summary.iloc[0]
    assert s["videos"] == 12 and s["levels"] == 4
    # By hand: ranks of requested (ties averaged) vs ranks of measured.
    from scipy.stats import spearmanr

    expected = spearmanr(frame["requested"], frame["measured"]).statistic
    assert s["rho_measured"] == pytest.approx(expected) and 0.5 < s["rho_measured"] < 1
    assert s["rho_dynamic_degree"] == pytest.approx(spearmanr(frame["requested"], frame["dynamic_degree"]).statistic)
    assert s["measured_by_level"][2.0] == pytest.approx(4.0)


def test_constant_or_missing_values_give_nan(tmp_path):
    run = Run.create(tmp_path / "run", {"benchmark": str(tmp_path)})
    run.scores.append([score_row((f"m@motion_score={lv}", "a/b/1", 0), "motion_score", 1.0) for lv in (1, 2, 3)])
    _, summary = run_calibration(run)
    assert math.isnan(summary.iloc[0]["rho_measured"]) and math.isnan(summary.iloc[0]["rho_dynamic_degree"])


def test_a_motion_by_cfg_sweep_is_two_families_in_calibration_and_regression_summary(tmp_path):
    # At cfg=1 the measured motion follows the request; at cfg=3 it runs the other way. Pooled
    # into one family the two would cancel; each family must keep its own rho.
    run = Run.create(tmp_path / "run", {"benchmark": str(tmp_path)})
    rows = []
    for cfg, sign in ((1, 1), (3, -1)):
        for level in (2, 5, 10):
            tag = f"sv@cfg={cfg},motion_score={level}"
            for k, item in enumerate(["real/H/001", "real/H/002", "anime/V/003"]):
                rows.append(score_row((tag, item, 0), "motion_score", 50 + sign * level * 2 + k * 0.1))
    run.scores.append(rows)
    frame, summary = run_calibration(run)
    assert sorted(summary["family"]) == ["sv@cfg=1", "sv@cfg=3"]
    by_family = summary.set_index("family")
    for family, sign in (("sv@cfg=1", 1), ("sv@cfg=3", -1)):
        part = frame[frame["family"] == family]
        expected = spearman(part["requested"], part["measured"])
        assert by_family.loc[family, "rho_measured"] == pytest.approx(expected.rho) and expected.rho * sign > 0.9
        assert by_family.loc[family, "videos"] == 9
    summary_numbers = run_summary(run)
    assert summary_numbers["sv@cfg=1/motion_spearman"] == pytest.approx(round(by_family.loc["sv@cfg=1", "rho_measured"], 4))
    assert summary_numbers["sv@cfg=3/motion_spearman"] < -0.9
    assert "sv/motion_spearman" not in summary_numbers

"""Table 3 (VBench-I2V), the motion sweep and requested-vs-measured motion."""

import numpy as np
import pandas as pd
import pytest

from reports import vbench_table

RAW = {"camera_motion": 0.30, "i2v_subject": 0.95, "i2v_background": 0.96, "subject_consistency": 0.93,
       "background_consistency": 0.94, "motion_smoothness": 0.98, "dynamic_degree": 0.50,
       "aesthetic_quality": 0.60, "imaging_quality": 0.70}
SPEC = {  # weight, min, max from the VBench-I2V leaderboard (docs/vbench-i2v.md)
    "camera_motion": (0.1, 0.0, 1.0), "i2v_subject": (1, 0.1462, 1.0), "i2v_background": (1, 0.2615, 1.0),
    "subject_consistency": (1, 0.1462, 1.0), "background_consistency": (1, 0.2615, 1.0),
    "motion_smoothness": (1, 0.7060, 0.9975), "dynamic_degree": (0.5, 0.0, 1.0), "aesthetic_quality": (1, 0.0, 1.0),
    "imaging_quality": (1, 0.0, 1.0)}


def row(model, item, metric, value, status="ok"):
    return {"model_tag": model, "item_id": item, "sample": -1 if item == "*" else 0, "metric": metric, "value": value,
            "status": status}


def hand_aggregates(raw):
    n = {k: (raw[k] - lo) / (hi - lo) * w for k, (w, lo, hi) in SPEC.items()}
    i2v = (n["camera_motion"] + n["i2v_subject"] + n["i2v_background"]) / 2.1
    quality = sum(n[k] for k in ("subject_consistency", "background_consistency", "motion_smoothness",
                                 "dynamic_degree", "aesthetic_quality", "imaging_quality")) / 5.5
    return quality, i2v, (quality + i2v) / 2


def scores():
    rows = [row("m1", "*", f"vbench_i2v/{k}", v) for k, v in RAW.items()]
    # m2: per-video rows only (mean used), camera_motion excluded on one item, dynamic_degree missing.
    for k, v in RAW.items():
        if k == "dynamic_degree":
            continue
        rows.append(row("m2", "real/H/001", f"vbench_i2v/{k}", v - 0.1))
        rows.append(row("m2", "real/H/002", f"vbench_i2v/{k}", v + 0.05 if k != "camera_motion" else np.nan,
                        status="ok" if k != "camera_motion" else "excluded"))
    return pd.DataFrame(rows)


def test_table3_values_aggregates_and_best_marks():
    result = vbench_table.build_vbench(scores(), ["m1", "m2", "m3"])
    q, i, t = hand_aggregates(RAW)
    assert result.values.at["m1", "quality"] == pytest.approx(q)
    assert result.values.at["m1", "i2v"] == pytest.approx(i)
    assert result.values.at["m1", "total"] == pytest.approx(t)
    # m2: per-video means; the excluded camera_motion row is not part of the mean.
    assert result.values.at["m2", "camera_motion"] == pytest.approx(0.20)
    assert result.values.at["m2", "i2v_subject"] == pytest.approx(0.925)
    assert np.isnan(result.values.at["m2", "dynamic_degree"])
    assert np.isnan(result.values.at["m2", "quality"]) and np.isnan(result.values.at["m2", "total"])
    assert not np.isnan(result.values.at["m2", "i2v"])  # its own three dimensions are all there
    display, data, bold, notes = vbench_table.table3(result)
    assert display.columns.tolist() == ["Dimension", "Group", "m1", "m2", "m3"]
    assert display.iloc[0].tolist() == ["Video-Text Camera Motion", "I2V", "30.00", "20.00", "n/a"]
    dyn = display.index[display.Dimension == "Dynamic Degree"][0]
    assert display.at[dyn, "m2"] == "n/a"  # never 0
    total_row = display.index[display.Dimension == "Total Score"][0]
    assert display.at[total_row, "m1"] == f"{t * 100:.2f}" and display.at[total_row, "m2"] == "n/a"
    assert (0, 2) in bold and (0, 3) not in bold  # m1 has the best camera motion
    assert any("m2" in n and "dynamic_degree" in n and "never counted as 0" in n for n in notes)
    assert any(n.startswith("m3") and "no VBench-I2V scores" in n for n in notes)


def test_stored_aggregate_that_disagrees_is_noted():
    s = pd.concat([scores(), pd.DataFrame([row("m1", "*", "vbench_i2v/total", 0.5)])])
    result = vbench_table.build_vbench(s, ["m1"])
    assert any("stored total" in n for n in result.notes)


def test_motion_sweep_and_requested_vs_measured():
    tags = ["stepvideo@motion_score=2", "stepvideo@motion_score=10", "stepvideo@motion_score=5", "static"]
    rows = []
    for tag, level in zip(tags, (2, 10, 5, 0)):
        for n, noise in enumerate((-0.5, 0.0, 0.5)):
            rows.append(row(tag, f"real/H/00{n}", "motion_score", level + noise))
        rows.append(row(tag, "*", "vbench_i2v/dynamic_degree", level / 20))
    measured = vbench_table.motion_measured(pd.DataFrame(rows), tags)
    assert measured.model_tag.tolist() == tags[:1] + tags[2:3] + tags[1:2]  # sorted by requested score
    assert measured.requested.tolist() == [2, 5, 10]
    assert measured.measured_mean.tolist() == pytest.approx([2, 5, 10])
    assert measured.measured_sd.tolist() == pytest.approx([0.5, 0.5, 0.5])
    assert set(measured.family) == {"stepvideo"}
    sweep = vbench_table.motion_sweep(vbench_table.build_vbench(pd.DataFrame(rows), tags), measured)
    assert sweep.dynamic_degree.tolist() == pytest.approx([10, 25, 50])
    assert vbench_table.motion_family("x@a=1,motion=3") == ("x@a=1", 3.0)

"""`stepeval report RUN --compare-published NAME:COLUMN`: measured vs printed per dimension, with a
bootstrap interval over items and a within-noise / differs verdict."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from reports.published import prepare
from reports.published_compare import compare_one, match_model, verdict
from reports.testing import make_run, step_eval_items
from stepeval.cli.main import main
from stepeval.errors import UserError
from stepeval.metrics.aggregate import DIMENSION_KEYS
from stepeval.published import load

REF = "step-video-ti2v-report"
MOTION10 = "stepvideo-ti2v@motion_score=10"
SHIFT = 0.10  # raw units added to dynamic_degree: far beyond the noise of 60 items


def _scores(tag: str, printed: dict[str, float], items: list[str], *, seed: int = 0) -> list[dict]:
    """Per-video values whose mean over the items is exactly the printed value (raw = printed / 100),
    except dynamic_degree, moved by SHIFT."""
    rng = np.random.default_rng(seed)
    rows = []
    for dim in DIMENSION_KEYS:
        noise = rng.normal(0, 0.01, len(items))
        values = printed[dim] / 100 + noise - noise.mean() + (SHIFT if dim == "dynamic_degree" else 0.0)
        for item, v in zip(items, values):
            rows.append({"model_tag": tag, "item_id": item, "sample": 0, "metric": f"vbench_i2v/{dim}", "value": float(v),
                         "status": "ok", "error": None, "details": "{}", "env": "{}", "scored_at": "2025-01-01T00:00:00+0000"})
    return rows


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmp") / "run"
    items = step_eval_items(60)
    run, _ = make_run(root, [MOTION10, "stepvideo-ti2v@motion_score=5", "static"], items=items, scores=False, annotators=1)
    table = load(REF)[0].table("table3")
    col = next(c for c in table.columns if c.id == "stepvideo-ti2v-motion10")
    run.scores.append(_scores(MOTION10, {k: p.value for k, p in table.printed_values(col).items()}, list(items["item_id"])))
    return root


def test_verdicts_per_dimension(run_dir, tmp_path):
    paths = __import__("reports").build_report(run_dir, tmp_path / "out", annotations=run_dir / "judgments.jsonl",
                                               bootstrap=400, seed=3, formats=["json", "md"],
                                               compare_published=[f"{REF}:stepvideo-ti2v-motion10"])
    doc = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    [cmp] = doc["meta"]["published"]["comparisons"]
    assert cmp["model_tag"] == MOTION10  # found from the column's generator and params
    expected = {k: "within noise" for k in DIMENSION_KEYS} | {"dynamic_degree": "differs", "quality": "differs",
                                                                 "i2v": "within noise", "total": "differs"}
    assert cmp["verdicts"] == expected
    table = next(t for t in doc["tables"] if t["key"].startswith("compare-"))
    rows = {r["key"]: r for r in table["rows"]}
    dd = rows["dynamic_degree"]
    assert dd["difference"] == pytest.approx(SHIFT * 100, abs=1e-6) and dd["low"] > dd["printed_value"]
    for k in ("camera_motion", "i2v_subject", "imaging_quality"):  # measured mean = printed, inside its interval
        assert rows[k]["low"] < rows[k]["printed_value"] < rows[k]["high"] and rows[k]["videos"] == 60
    assert paths.warnings is not None


def test_verdict_rule():
    assert verdict(50.00, 0.005, 50.004, 51.0) == "within noise"  # the printed value's rounding counts
    assert verdict(50.00, 0.005, 50.006, 51.0) == "differs"
    assert verdict(50.0, 0.005, float("nan"), float("nan")) == "no interval"


def test_model_matching(run_dir):
    col = next(c for c in load(REF)[0].table("table3").columns if c.id == "stepvideo-ti2v-motion5")
    models = [MOTION10, "stepvideo-ti2v@motion_score=5", "static"]
    assert match_model(col, models, None, "x") == "stepvideo-ti2v@motion_score=5"
    assert match_model(col, models, "static", "x") == "static"
    with pytest.raises(UserError, match="no model tag 'nope'"):
        match_model(col, models, "nope", "x")
    with pytest.raises(UserError, match="2 model tags"):
        match_model(col, models + ["stepvideo-ti2v@cfg=7,motion_score=5"], None, "x")
    ostopa = next(c for c in load(REF)[0].table("table3").columns if c.id == "OSTopA")
    with pytest.raises(UserError, match="names no stepeval generator"):
        match_model(ostopa, models, None, "x")


def test_a_pairwise_only_column_is_refused(run_dir):
    view = prepare(compare=[f"{REF}:CStoPC=static"])
    scores = pd.DataFrame(columns=["model_tag", "item_id", "sample", "metric", "value", "status"])
    with pytest.raises(UserError, match="no VBench-I2V table"):
        compare_one(scores, ["static"], view, view.compare[0], n_resamples=10, confidence=0.95, seed=0)
    with pytest.raises(UserError, match="needs a column"):
        prepare(compare=[REF])


def test_cli_shows_and_compares_published_columns(run_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["report", str(run_dir), "--out", str(out), "--bootstrap", "50", "--format", "md",
                 "--published", f"{REF}:OSTopA", "--compare-published", f"{REF}:OSTopA={MOTION10}"])
    assert code == 0, capsys.readouterr().err
    md = next((out / "tables").glob("compare-*.md")).read_text(encoding="utf-8")
    assert md.startswith(f"### {MOTION10.replace('_', chr(92) + '_')} against OSTopA")

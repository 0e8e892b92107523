"""The report's "which automatic metric agrees with your annotators" table and calibration charts, on
a seeded simulated study where one metric agrees with people 90% of the time and another 50%."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from reports import build_report
from reports.metric_agreement import JUDGE, human_pairs
from reports.pairwise import usable
from reports.judgments import prepare_judgments
from reports.testing import make_run, step_eval_items

MODELS = ["model-a", "model-b"]
DIM = "physical_laws"


def _score(tag, item, metric, value):
    return {"model_tag": tag, "item_id": item, "sample": 0, "metric": metric, "value": float(value), "status": "ok",
            "error": None, "details": "{}", "env": "{}", "scored_at": "2025-01-01T00:00:00+0000"}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """298 items, one annotator, one pair of models; per-video metrics built from the people's
    Physical Laws labels: `custom/good` picks the video they preferred 90% of the time, `custom/coin` 50%."""
    root = tmp_path_factory.mktemp("agree") / "run"
    run, judgments = make_run(root, MODELS, items=step_eval_items(), annotators=1, scores=False, gold_per_annotator=0)
    labels = prepare_judgments(judgments)
    labels = labels[labels["dimension"] == DIM].set_index("item_id")["code"]  # +1: model-a preferred
    rng = np.random.default_rng(7)
    rows = []
    for item, h in labels.items():
        for metric, p in (("custom/good", 0.9), ("custom/coin", 0.5)):
            side = h if h != 0 else rng.choice([-1, 1])
            side = side if rng.random() < p else -side
            margin = rng.exponential(1.0) + 0.05
            rows += [_score("model-a", item, metric, side * margin), _score("model-b", item, metric, 0.0)]
    run.scores.append(rows)
    return root, labels


def test_the_agreeing_metric_ranks_first_with_intervals_around_the_truth(study, tmp_path):
    root, labels = study
    build_report(root, tmp_path / "out", annotations=root / "judgments.jsonl", bootstrap=600, seed=2, formats=["json", "html"])
    doc = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    rows = pd.DataFrame(next(t for t in doc["tables"] if t["key"] == "metric-agreement")["rows"])
    phys = rows[rows["dimension"] == DIM].set_index("metric")
    good, coin = phys.loc["custom/good"], phys.loc["custom/coin"]
    assert good["rank"] < coin["rank"]
    assert good["accuracy_low"] < 0.9 < good["accuracy_high"] and coin["accuracy_low"] < 0.5 < coin["accuracy_high"]
    assert good["accuracy_low"] > coin["accuracy_high"]
    # Ties stated: every item is one pair; people's ties are counted apart from the accuracy.
    assert good["pairs"] == 298 and good["human_ties"] == int((labels == 0).sum()) and good["metric_ties"] == 0
    assert good["agree"] + good["disagree"] == 298 - good["human_ties"]
    assert good["direction"].startswith("higher")
    # Other dimensions' labels are independent of these metrics: near chance there.
    other = rows[(rows["dimension"] != DIM) & rows["metric"].str.startswith("custom/")]
    assert ((other["accuracy_low"] < 0.5) & (0.5 < other["accuracy_high"])).mean() >= 0.5
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert 'id="metric-agreement"' in html and 'id="chart-calibration-physical_laws"' in html


def test_human_pairs_orient_by_run_order_and_take_the_majority():
    from tests.reports.helpers import focal_side, frame

    rows = [focal_side("real/H/001", DIM, f"a{k}", "model-b", "model-a", r, as_b=True) for k, r in enumerate("WWL")]
    rows += [focal_side("real/H/002", DIM, f"a{k}", "model-b", "model-a", r, as_b=False) for k, r in enumerate("WLT")]
    pairs = human_pairs(usable(frame(rows)), ["model-a", "model-b"]).set_index("item_id")
    # model-a comes first in the run: the rows are from its side; majority W for b -> -1; W-L-T -> tie.
    assert set(pairs["focal"]) == {"model-a"} and pairs.loc["real/H/001", "code"] == -1 and pairs.loc["real/H/002", "code"] == 0


def test_the_automatic_judge_is_a_row(study, tmp_path):
    from reports.metric_agreement import agreement_table, per_video

    root, _ = study
    judged = prepare_judgments(pd.read_json(root / "judgments.jsonl", lines=True))
    pairs = human_pairs(usable(judged), MODELS)
    auto = judged.assign(source="auto", annotator="auto")  # a judge that copies the people exactly
    table, _ = agreement_table(pairs, per_video(None), auto, n_resamples=0, confidence=0.95, seed=0)
    assert set(table["metric"]) == {JUDGE} and (table["accuracy"] == 1.0).all() and (table["tau_b"] == 1.0).all()

"""Table 2 the way the paper reads it: opponents in the user's order (flag or config) or the run's,
never alphabetical; the focal model is the studies' shared model A; each cell's count checked
against the pairs judged, the pairs with both videos and the domain size."""

from __future__ import annotations

import pandas as pd
import pytest

from reports import pairwise
from reports.build import ReportOptions, assemble_report, build_report
from reports.inputs import load_inputs
from reports.testing import make_run, simulate_judgments, step_eval_items

# Run order on purpose neither alphabetical nor with the focal model first.
MODELS = ["zeta", "alpha", "ours", "mid"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("order") / "run"
    items = step_eval_items(20)
    run, _ = make_run(root, MODELS, items=items, judgments=False)
    # The report's design: one study per engine, each with "ours" as model A.
    frame = simulate_judgments(items, MODELS, [0.0, 0.1, 0.5, -0.2], run_name=run.name, annotators=1,
                               pairs=[("ours", m) for m in MODELS if m != "ours"], seed=3)
    # Leave two real items of the mid study unjudged: pairs with both videos that no cell counts.
    first_real = list(items[items["domain"] == "real"]["item_id"][:2])
    skip = frame["model_b"].eq("mid") & frame["item_id"].isin(first_real)
    frame[~skip].to_json(root / "judgments.jsonl", orient="records", lines=True)
    return root


def _t2(report):
    return next(t for t in report.tables if t.key == "table2")


def test_focal_is_the_studies_model_a_and_columns_follow_the_run(run_dir):
    report = assemble_report(load_inputs(run_dir, annotations=run_dir / "judgments.jsonl"), ReportOptions(n_bootstrap=0))
    assert report.meta["focal"] == "ours"
    assert _t2(report).columns == ["Dimension", "Domain", "zeta", "alpha", "mid"]


def test_columns_in_the_order_given_by_flag_or_config(run_dir, tmp_path):
    inputs = load_inputs(run_dir, annotations=run_dir / "judgments.jsonl")
    report = assemble_report(inputs, ReportOptions(n_bootstrap=0, table2_columns=("mid,zeta",)))
    assert _t2(report).columns[2:] == ["mid", "zeta", "alpha"]  # the rest keep the run's order
    inputs.config.report.table2_columns = ["alpha", "nobody"]
    report = assemble_report(inputs, ReportOptions(n_bootstrap=0))
    assert _t2(report).columns[2:] == ["alpha", "zeta", "mid"]
    assert any("nobody" in w for w in report.warnings)
    from stepeval.cli.main import main

    out = tmp_path / "cli"
    assert main(["report", str(run_dir), "--out", str(out), "--annotations", str(run_dir / "judgments.jsonl"),
                 "--bootstrap", "0", "--format", "csv", "--table2-columns", "mid", "--table2-columns", "alpha"]) == 0
    t2 = pd.read_csv(out / "tables" / "table2.csv")
    assert list(dict.fromkeys(t2["opponent"])) == ["mid", "alpha", "zeta"]


def test_consistency_compares_cells_with_pairs_with_both_videos_and_the_domain(run_dir, tmp_path):
    paths = build_report(run_dir, tmp_path / "out", annotations=run_dir / "judgments.jsonl", bootstrap=0, formats=["csv"])
    cons = pd.read_csv(paths.out_dir / "tables" / "consistency.csv")
    real = cons[cons["domain"] == "real"]
    n_real = int((step_eval_items(20)["domain"] == "real").sum())
    assert set(real["domain_size"]) == {n_real} and set(real["pairs_expected"]) == {n_real}
    mid = real[real["opponent"] == "mid"]
    assert set(mid["cell_total"]) == {n_real - 2} and set(mid["unjudged"]) == {2} and mid["ok"].all()
    assert not cons["impossible"].any()


def test_a_cell_counting_more_than_can_exist_is_flagged():
    resolved = pd.DataFrame({"opponent": "b", "dimension": "physical_laws", "domain": "real",
                             "item_id": [f"real/H/{i:03d}" for i in range(5)], "code": 1})
    expected = pd.DataFrame({"opponent": ["b"], "domain": ["real"], "pairs_expected": [4]})
    cons = pairwise.consistency(resolved, expected, {"real": 3})
    row = cons.iloc[0]
    assert (row["cell_total"], row["pairs_expected"], row["domain_size"], row["unjudged"]) == (5, 4, 3, 0)
    assert row["ok"] and row["impossible"]

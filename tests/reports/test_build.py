"""End to end: a synthetic run directory -> the report folder, the CLI, and bad input."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from reports import build_report
from stepeval.runs import Run
from reports.testing import make_run, step_eval_items
from stepeval.errors import UserError

MODELS = ["stepvideo-ti2v@motion_score=2", "stepvideo-ti2v@motion_score=10", "static"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs") / "demo"
    make_run(root, MODELS, items=step_eval_items(24), annotators=2, refused={"static": ["real/H/001"]})
    return root


def test_report_folder_has_every_format(run_dir, tmp_path):
    out = tmp_path / "report"
    paths = build_report(run_dir, out, annotations=run_dir / "judgments.jsonl", bootstrap=100, seed=5)
    assert paths.index == out / "index.html" and paths.index.is_file()
    assert len(paths.pages) == 3  # one page per judged pair
    for suffix in (".csv", ".json", ".md", ".tex"):
        assert (out / "tables" / f"table2{suffix}").is_file()
        assert (out / "tables" / f"vbench{suffix}").is_file()
    t2 = pd.read_csv(out / "tables" / "table2.csv")
    assert set(t2.opponent) == set(MODELS[1:])
    doc = json.loads((out / "report.json").read_text())
    assert doc["meta"]["seed"] == 5 and doc["meta"]["n_bootstrap"] == 100
    keys = {t["key"] for t in doc["tables"]}
    assert {"table2", "table2-stats", "leaderboard", "vbench", "agreement", "gold", "auto-table2"} <= keys
    tex = (out / "tables" / "table2.tex").read_text()
    assert "\\toprule" in tex and "motion\\_score=10" in tex and "\\midrule" in tex
    md = (out / "tables" / "table2.md").read_text()
    assert md.startswith("### Table 2") and "| Total |" in md
    html = paths.index.read_text()
    assert "Table 2: stepvideo-ti2v@motion_score=2 against each opponent" in html
    assert "excluded because the opponent (static) refused the prompt" in html
    assert 'id="auto"' in html and "metric-derived" in html
    # Rebuilding replaces the folder (a previous report may be overwritten, nothing else).
    build_report(run_dir, out, annotations=run_dir / "judgments.jsonl", bootstrap=0, formats=["html"])
    assert not (out / "tables").exists() and (out / "index.html").is_file()


def test_no_annotations_renders_everything_else(tmp_path):
    root = tmp_path / "bare"
    make_run(root, MODELS[:2], items=step_eval_items(12), judgments=False)
    paths = build_report(root, tmp_path / "out", bootstrap=20)
    html = paths.index.read_text()
    assert "No human judgments for this run yet" in html
    assert "Table 3: VBench-I2V scores per model tag" in html
    assert paths.pages == []
    # A run without a human study is not a problem: the section says how to start one, no alarm.
    assert not any("No human judgments" in w for w in paths.warnings)
    assert "stepeval annotate create-study" in html


def test_model_with_no_scores_is_named(tmp_path):
    root = tmp_path / "partial"
    run, _ = make_run(root, MODELS[:2], items=step_eval_items(12), judgments=False)
    Run.create(root, {"models": [{"name": "ghost", "tag": "ghost"}]})
    paths = build_report(root, tmp_path / "out", bootstrap=0)
    assert any("Model ghost has no scores" in w for w in paths.warnings)
    vb = pd.read_csv(tmp_path / "out" / "tables" / "vbench.csv")
    assert vb["ghost"].isna().all()  # n/a, never 0


def test_annotations_of_another_run_are_refused(run_dir, tmp_path):
    frame = pd.read_json(run_dir / "judgments.jsonl", lines=True)
    frame["run_name"] = "someone-else"
    other = tmp_path / "other.csv"
    frame.to_csv(other, index=False)
    with pytest.raises(UserError, match="belong to run 'someone-else', not to 'demo'") as err:
        build_report(run_dir, tmp_path / "out", annotations=other)
    assert str(other) in str(err.value)


def test_output_folder_that_is_not_a_report_is_left_alone(run_dir, tmp_path):
    precious = tmp_path / "docs"
    precious.mkdir()
    (precious / "thesis.tex").write_text("keep me")
    with pytest.raises(UserError, match="not a stepeval report"):
        build_report(run_dir, precious, bootstrap=0)
    assert (precious / "thesis.tex").read_text() == "keep me"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "stepeval.cli.main", *args], capture_output=True, text=True)


def test_cli(run_dir, tmp_path):
    res = cli("report", str(run_dir), "--out", str(tmp_path / "r"), "--annotations", str(run_dir / "judgments.jsonl"),
              "--bootstrap", "50", "--format", "html,latex", "--no-auto")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "r" / "index.html").is_file() and (tmp_path / "r" / "tables" / "table2.tex").is_file()
    assert not (tmp_path / "r" / "tables" / "table2.csv").exists()
    assert 'id="auto"' not in (tmp_path / "r" / "index.html").read_text()
    res = cli("report", str(tmp_path / "nowhere"))
    assert res.returncode == 2 and "not a stepeval run directory" in res.stderr and "Traceback" not in res.stderr


def test_format_and_focal_errors(run_dir, tmp_path):
    from reports.cli import _formats

    assert _formats(["html,tex", "markdown"]) == ("html", "latex", "md")
    with pytest.raises(UserError, match="unknown format 'pdf'"):
        _formats(["pdf"])
    with pytest.raises(UserError, match="focal model 'nobody' has no judgments"):
        build_report(run_dir, tmp_path / "r3", focal="nobody", bootstrap=0, annotations=run_dir / "judgments.jsonl")

"""Published columns in a report: shown beside the run's, marked, never in statistics or rankings;
the checks of the print in the report and in report.json; the CLI flags and the config keys."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from reports.build import ReportOptions, assemble_report, build_report
from reports.inputs import load_inputs
from reports.testing import make_run, step_eval_items
from stepeval.cli.main import main

MODELS = ["stepvideo-ti2v@motion_score=10", "stepvideo-ti2v@motion_score=5", "static"]
REF = "step-video-ti2v-report"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("pub") / "run"
    make_run(root, MODELS, items=step_eval_items(24), annotators=2)
    return root


@pytest.fixture(scope="module")
def reports(run_dir, tmp_path_factory):
    """The same run reported without and with published columns (OSTopB is in Table 2 and Table 3)."""
    out = tmp_path_factory.mktemp("out")
    plain = build_report(run_dir, out / "plain", annotations=run_dir / "judgments.jsonl", bootstrap=30, seed=1)
    shown = build_report(run_dir, out / "shown", annotations=run_dir / "judgments.jsonl", bootstrap=30, seed=1,
                         published=[f"{REF}:OSTopB", f"{REF}:CStoPC"])
    return plain, shown


def _md_rows(path) -> list[list[str]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    rows = [[c.strip() for c in line.strip("|").split(" | ")] for line in lines]
    return [r for r in rows if not all(set(c) <= set("-: ") for c in r)]  # the alignment row dropped


def test_table3_shows_the_printed_column_beside_the_measured_ones(reports):
    plain, shown = reports
    rows = _md_rows(shown.out_dir / "tables" / "vbench.md")
    header = rows[0]
    assert header[-1] == "OSTopB \\[published\\]"
    col = [r[-1] for r in rows[1:]]
    assert col[:9] == ["46.45", "95.88", "96.47", "96.28", "97.38", "99.10", "38.13", "61.82", "70.82"]
    assert col[9:] == ["80.28", "93.25", "86.77"]  # Quality, I2V, Total as printed, not recomputed
    # Nothing published is ever the best of a row, and measured cells keep their bold marks.
    assert not any(r[-1].startswith("**") for r in rows[1:])
    assert [r[:-1] for r in rows[1:]] == _md_rows(plain.out_dir / "tables" / "vbench.md")[1:]
    # The machine-readable table holds measurements only; the printed values have their own table.
    assert pd.read_csv(shown.out_dir / "tables" / "vbench.csv").columns.tolist() == \
        pd.read_csv(plain.out_dir / "tables" / "vbench.csv").columns.tolist()
    values = pd.read_csv(shown.out_dir / "tables" / "published-values.csv", dtype={"printed": str})
    i2v = values[(values["table"] == "table3") & (values["column"] == "OSTopB") & (values["key"] == "i2v")]
    assert i2v["printed"].tolist() == ["93.25"] and i2v["value"].tolist() == [pytest.approx(0.9325)]
    md = (shown.out_dir / "tables" / "vbench.md").read_text(encoding="utf-8")
    assert "not measured in this run" in md and "93.25" in md and "92.8760" in md  # its own disagreement, stated


def test_table2_and_leaderboard_show_published_columns_without_changing_the_ranking(reports):
    plain, shown = reports
    rows = _md_rows(shown.out_dir / "tables" / "table2.md")
    assert rows[0][-2:] == ["OSTopB \\[published\\]", "CStoPC \\[published\\]"]
    assert [r[-2] for r in rows[1:]] == ["101-48-29", "94-16-10", "43-71-64", "50-35-35", "71-40-66", "67-30-24", "426-240-228"]
    lb_plain = pd.read_csv(plain.out_dir / "tables" / "leaderboard.csv")
    lb_shown = pd.read_csv(shown.out_dir / "tables" / "leaderboard.csv")
    pd.testing.assert_frame_equal(lb_plain, lb_shown)  # same fit, same ranks: published rows are display only
    lrows = _md_rows(shown.out_dir / "tables" / "leaderboard.md")
    pub_rows = [r for r in lrows if "published" in r[1]]
    assert [r[1] for r in pub_rows] == ["OSTopB vs Step-Video-TI2V \\[published\\]", "CStoPC vs Step-Video-TI2V \\[published\\]"]
    assert all(r[0] == "\\-" for r in pub_rows)  # unranked
    # OSTopB's printed cells: its wins are Step-Video-TI2V's losses; ties half.
    cells = [(101, 48, 29), (94, 16, 10), (43, 71, 64), (50, 35, 35), (71, 40, 66), (67, 30, 24)]
    n = sum(map(sum, cells))
    assert pub_rows[0][-2:] == [str(n), f"{sum(l + t / 2 for _, t, l in cells) / n:.3f}"]
    t2 = pd.read_csv(shown.out_dir / "tables" / "table2.csv")
    assert set(t2["opponent"]) == set(MODELS[1:])


def test_html_marks_published_columns_and_rows(reports):
    _, shown = reports
    html = shown.index.read_text(encoding="utf-8")
    assert '<th scope="col" class="mark-published">OSTopB [published] <span class="badge mark-badge">published</span></th>' in html
    assert '<td class="mark-published">93.25</td>' in html
    assert 'class="text mark-published mark-first">OSTopB vs Step-Video-TI2V [published]' in html
    assert 'id="published"' in html


def test_findings_are_in_the_report_and_report_json(reports):
    plain, shown = reports
    doc = json.loads((shown.out_dir / "report.json").read_text(encoding="utf-8"))
    pub = doc["meta"]["published"]
    assert pub["checks"][REF]["summary"] == {"match": 39, "rounding": 4, "disagreement": 29, "unchecked": 0}
    found = pub["checks"][REF]["findings"]
    i2v = next(f for f in found if f["column"] == "OSTopB" and f["quantity"].startswith("I2V"))
    assert i2v["verdict"] == "disagreement" and i2v["magnitude"] == pytest.approx(0.374, abs=1e-3)
    assert {"table": "table3", "column": "OSTopB", "reference": REF} in pub["shown"]
    checks = next(t for t in doc["tables"] if t["key"] == "published-checks")
    assert len(checks["rows"]) == 72  # every check, matches included
    assert "published" not in json.loads((plain.out_dir / "report.json").read_text(encoding="utf-8"))["meta"]
    md = (shown.out_dir / "tables" / "published-checks.md").read_text(encoding="utf-8")
    assert "display rounding" in md and "real disagreement" in md


def test_config_keys_choose_published_columns(run_dir, tmp_path):
    inputs = load_inputs(run_dir, annotations=run_dir / "judgments.jsonl")
    inputs.config.report.published = [f"{REF}:stepvideo-ti2v-motion10"]
    report = assemble_report(inputs, ReportOptions(n_bootstrap=0))
    vb = next(t for t in report.tables if t.key == "vbench")
    assert vb.columns[-1] == "Step-Video-TI2V motion=10 [published]" and vb.column_marks == {len(vb.columns) - 1: "published"}
    # The command line wins over the config.
    report = assemble_report(inputs, ReportOptions(n_bootstrap=0, published=(f"{REF}:OSTopA",)))
    assert next(t for t in report.tables if t.key == "vbench").columns[-1] == "OSTopA [published]"


def test_cli_flags_and_a_users_own_reference(run_dir, tmp_path, capsys):
    import yaml

    from stepeval.published.store import SHIPPED

    doc = yaml.safe_load((SHIPPED / f"{REF}.yaml").read_text(encoding="utf-8"))
    doc["name"] = "my-copy"
    doc["tables"] = [t for t in doc["tables"] if t["id"] == "table3"]
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    out = tmp_path / "out"
    code = main(["report", str(run_dir), "--out", str(out), "--annotations", str(run_dir / "judgments.jsonl"),
                 "--bootstrap", "0", "--format", "md,json", "--published", "my-copy:OSTopA",
                 "--published-path", str(mine), "--published", f"{REF}:CStoPD"])
    assert code == 0, capsys.readouterr().err
    assert _md_rows(out / "tables" / "vbench.md")[0][-1] == "OSTopA \\[published\\]"
    assert _md_rows(out / "tables" / "table2.md")[0][-1] == "CStoPD \\[published\\]"
    assert main(["report", str(run_dir), "--out", str(tmp_path / "o2"), "--bootstrap", "0", "--published", f"{REF}:nope"]) == 2
    assert "has no column 'nope'" in capsys.readouterr().err

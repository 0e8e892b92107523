"""The reference-results format: the shipped Step-Video-TI2V tables, validation, user files, selectors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from stepeval.cli.main import main
from stepeval.errors import UserError
from stepeval.human.dimensions import DIMENSION_LABELS
from stepeval.metrics.aggregate import BY_KEY
from stepeval.published import catalogue, json_schema, load, load_file, parse_selector, printed, resolve
from stepeval.published.store import ENV, SHIPPED
from tests.conftest import SHARED

NAME = "step-video-ti2v-report"
SPEC = SHARED / "spec" / "published" / "step-video-ti2v-report.md"
SCHEMA_FILE = SHIPPED.parent / "published-results.schema.json"


def _spec_rows(heading: str) -> list[list[str]]:
    """Rows of the markdown table under `heading` in the spec of the printed tables."""
    text = SPEC.read_text(encoding="utf-8")
    part = text.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in part.splitlines() if line.startswith("|")]
    return [r for r in rows[2:]]  # header and rule dropped


@pytest.fixture(scope="module")
def shipped():
    return load(NAME)[0]


@pytest.mark.skipif(not SPEC.is_file(), reason=f"the printed tables' transcription is not at {SPEC}")
def test_table3_values_are_exactly_as_printed(shipped):
    table = shipped.table("table3")
    rows = _spec_rows("## Table 3")
    names = {"Total Score (printed)": "total", "I2V Score (printed)": "i2v", "Quality Score (printed)": "quality"}
    for row in rows:
        key, cells = row[0], row[1:]
        assert len(cells) == len(table.columns)
        for column, text in zip(table.columns, cells):
            stored = column.aggregates[names[key]] if key in names else column.values[key]
            assert stored == text  # the text, so "87.80" keeps its last digit


@pytest.mark.skipif(not SPEC.is_file(), reason=f"the printed tables' transcription is not at {SPEC}")
def test_table2_cells_are_exactly_as_printed(shipped):
    table = shipped.table("table2")
    label_to_name = {label: name for name, label in table.dimensions.items()}
    for row in _spec_rows("## Table 2"):
        dim, domain, cells = row[0], row[1], row[2:]
        for column, text in zip(table.columns, cells):
            if dim.startswith("Total"):
                assert column.total == text
            else:
                assert column.cells[label_to_name[dim]][domain] == text
    # Caption: refusals as printed.
    caption = SPEC.read_text(encoding="utf-8")
    for column in table.columns:
        if column.refused:
            assert column.refused.text in caption


def test_shipped_file_names_its_source_and_definitions(shipped):
    assert shipped.source.url and shipped.source.date
    for table in shipped.tables:
        assert table.source.table in ("Table 2", "Table 3") and table.definitions.suite
    t2 = shipped.table("table2")
    assert t2.domains == {"real": 178, "anime": 120}
    assert {c.id: (c.refused.count if c.refused else 0) for c in t2.columns} == {"OSTopA": 0, "OSTopB": 0, "CStoPC": 4, "CStoPD": 15}
    # Printed row labels are the protocol's own labels (one owner of the names).
    assert t2.dimensions == {k: DIMENSION_LABELS[k] for k in t2.dimensions}
    assert set(shipped.table("table3").columns[0].values) == set(BY_KEY)


def test_shipped_json_schema_is_current_and_validates_the_shipped_file():
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == json_schema(), \
        "regenerate it: stepeval published schema -o stepeval/published/published-results.schema.json"
    data = yaml.safe_load((SHIPPED / f"{NAME}.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(data, json_schema())  # an independent validator agrees with pydantic


def test_printed_numbers_keep_their_digits():
    assert printed("80.10").decimals == 2 and printed("80.10").text == "80.10"
    assert printed("7").decimals == 0 and printed(7).value == 7.0
    assert printed(80.1, 2).text == "80.10" and printed(80.1, 2).half_unit == pytest.approx(0.005)
    with pytest.raises(ValueError, match="bare number"):
        printed(80.1)
    for bad in ("8O.1", "1e3", "", "nan"):
        with pytest.raises(ValueError):
            printed(bad)


def _minimal(**over) -> dict:
    doc = {
        "format": "stepeval-published-results", "schema_version": 1, "name": "mine",
        "source": {"title": "My paper", "date": "2025-06"},
        "tables": [{"id": "t3", "kind": "vbench_i2v", "source": {"table": "Table 1"},
                    "definitions": {"suite": "VBench-I2V", "scale": 100}, "decimals": 2,
                    "columns": [{"id": "m", "label": "M", "model": "M", "values": {"dynamic_degree": 50.1},
                                 "aggregates": {}}]}],
    }
    doc.update(over)
    return doc


def _write(tmp_path: Path, doc: dict, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_bare_numbers_take_the_tables_decimals(tmp_path):
    ref = load_file(_write(tmp_path, _minimal()))
    t = ref.tables[0]
    assert t.printed_values(t.columns[0])["dynamic_degree"].text == "50.10"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["tables"][0]["columns"][0]["values"].update(dynamic_degre="1.0"), "unknown VBench-I2V dimension"),
    (lambda d: d["tables"][0]["columns"][0]["aggregates"].update(overall="1.0"), "unknown aggregate"),
    (lambda d: d["tables"][0].pop("decimals"), "bare number"),
    (lambda d: d["tables"][0].update(colums=[]), "colums"),
    (lambda d: d["source"].update(date="March 2025"), "ISO 8601"),
    (lambda d: d.update(format="something-else"), "not a reference-results file"),
    (lambda d: d["tables"].append({**d["tables"][0]}), "appear more than once"),
])
def test_bad_files_are_refused_with_the_file_and_place(tmp_path, mutate, message):
    doc = _minimal()
    mutate(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(UserError, match=message) as err:
        load_file(path)
    assert str(path) in str(err.value)


def test_pairwise_cells_are_checked_against_the_tables_dimensions_and_domains(tmp_path):
    table = {"id": "t2", "kind": "pairwise_wtl", "source": {"table": "Table 2"}, "definitions": {"suite": "human"},
             "focal": "F", "dimensions": {"physical_laws": "Physics"}, "domains": {"real": 3},
             "columns": [{"id": "o", "label": "O", "model": "O", "cells": {"physical_laws": {"anime": "1-1-1"}}}]}
    with pytest.raises(UserError, match="unknown domain"):
        load_file(_write(tmp_path, _minimal(tables=[table])))
    table["columns"][0]["cells"] = {"physical_laws": {"real": "1-1"}}
    with pytest.raises(UserError, match="W-T-L"):
        load_file(_write(tmp_path, _minimal(tables=[table])))
    table["columns"][0]["cells"] = {"instruction_adherence": {"real": "1-1-1"}}
    with pytest.raises(UserError, match="do not list"):
        load_file(_write(tmp_path, _minimal(tables=[table])))


def test_user_files_join_and_replace_shipped_ones(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    mine = tmp_path / "a" / "mine.json"
    mine.write_text(json.dumps(_minimal()), encoding="utf-8")  # JSON works as well as YAML
    shipped_doc = yaml.safe_load((SHIPPED / f"{NAME}.yaml").read_text(encoding="utf-8"))
    shipped_doc["source"]["notes"] = "my corrected copy"
    (tmp_path / "b").mkdir()
    fix = _write(tmp_path / "b", shipped_doc, "fix.yaml")
    monkeypatch.delenv(ENV, raising=False)
    assert set(catalogue()) >= {NAME} and "mine" not in catalogue()
    found = catalogue([tmp_path / "a", fix])
    assert found["mine"].path == mine and not found["mine"].shipped
    assert found[NAME].path == fix and found[NAME].replaces == SHIPPED / f"{NAME}.yaml"
    assert load(NAME, [fix])[0].source.notes == "my corrected copy"
    monkeypatch.setenv(ENV, str(tmp_path / "a"))
    assert "mine" in catalogue()
    with pytest.raises(UserError, match="no such reference-results file"):
        catalogue([tmp_path / "missing"])


def test_selectors_choose_columns_in_every_table_that_has_them():
    assert parse_selector("x:y").column == "y" and parse_selector("x").column is None
    sel = parse_selector("x:y=stepvideo-ti2v@motion_score=10", allow_model=True)
    assert (sel.name, sel.column, sel.model_tag) == ("x", "y", "stepvideo-ti2v@motion_score=10")
    for bad in ("", ":col", "x:"):
        with pytest.raises(UserError, match="selector"):
            parse_selector(bad)
    chosen = resolve([f"{NAME}:ostopa"])
    assert [(c.table.id, c.column_id) for c in chosen] == [("table2", "OSTopA"), ("table3", "OSTopA")]
    assert "published" in chosen[0].label
    assert len(resolve([NAME, f"{NAME}:OSTopA"])) == 8  # every column once, order kept
    with pytest.raises(UserError, match="has no column 'nope'.*OSTopA"):
        resolve([f"{NAME}:nope"])
    with pytest.raises(UserError, match="unknown published reference"):
        resolve(["no-such-paper"])


def test_cli_lists_and_checks(capsys):
    assert main(["published", "list"]) == 0
    assert NAME in capsys.readouterr().out
    assert main(["published", "check", NAME, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["reference"] == NAME and sum(doc["summary"].values()) == len(doc["checks"])
    assert main(["published", "check", "no-such-paper"]) == 2
    assert re.search(r"unknown published reference", capsys.readouterr().err)


def test_documented_keys_are_the_formats_keys():
    """docs/published-results.md's key tables list exactly the model's fields."""
    from stepeval.published.schema import PairwiseColumn, PairwiseTable, PublishedResults, VBenchColumn, VBenchTable

    doc = (Path(__file__).parents[2] / "docs" / "published-results.md").read_text(encoding="utf-8")
    keys = set(re.findall(r"^\| (?:columns\[\]\.)?([a-z_]+(?:, [a-z_]+)*) \|", doc, flags=re.M))
    documented = {k.strip() for group in keys for k in group.split(",")}
    fields = set(PublishedResults.model_fields)
    for model in (VBenchTable, PairwiseTable):
        fields |= set(model.model_fields)
    fields |= (set(VBenchColumn.model_fields) | set(PairwiseColumn.model_fields)) - {"id", "label", "model", "generator",
                                                                                     "params", "category", "notes"}
    assert fields - {"kind", "id", "source", "definitions", "columns", "notes"} <= documented


def test_run_config_keys(tmp_path):
    """report.published* in a run config: one value or a list; paths relative to the config's folder."""
    from stepeval.runs.schema import read_config_file

    (tmp_path / "refs").mkdir()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"benchmark": {"synthetic": {"n": 2}}, "report": {
        "published": f"{NAME}:OSTopA", "published_paths": ["refs"], "compare_published": [f"{NAME}:OSTopA=static"]}}))
    report = read_config_file(cfg)["report"]
    assert report["published"] == [f"{NAME}:OSTopA"] and report["compare_published"] == [f"{NAME}:OSTopA=static"]
    assert report["published_paths"] == [str(tmp_path / "refs")]

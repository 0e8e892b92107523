"""The on-disk contracts as documented (docs/data-contracts.md, docs/run-yaml.md) are what the code
writes: a run made by the real command is read back and its columns and keys compared with the
documents' tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from stepeval.cli.main import main
from stepeval.human.schema import JUDGMENT_COLUMNS
from stepeval.runs.schema import RunConfig, RunRecord

DOCS = Path(__file__).parents[1] / "docs"


def documented_columns(doc: Path, heading: str) -> list[str]:
    """First-column names of the first markdown table under the heading `heading` (or `heading (...)`)
    (a cell `a, b` documents two columns)."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    titles = {i: line.lstrip("#").strip() for i, line in enumerate(lines) if line.startswith("#")}
    start = next(i for i, t in titles.items() if t == heading or t.startswith(heading + " ("))
    names: list[str] = []
    in_table = False
    fenced = False
    for line in lines[start + 1:]:
        if line.startswith("```"):
            fenced = not fenced
        if fenced:
            continue
        if line.startswith("#"):
            break
        if line.startswith("|"):
            cell = line.split("|")[1].strip()
            if not in_table:
                in_table = True  # the header row
                continue
            if set(cell) <= {"-", ":"}:
                continue
            names += [n.strip().strip("`") for n in cell.split(",")]
        elif in_table:
            break
    assert names, f"no table under {heading!r} in {doc}"
    return names


@pytest.fixture(scope="module")
def made_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("contracts")
    cfg = tmp / "tiny.yaml"
    cfg.write_text(
        "benchmark: {synthetic: {n: 3}}\ndevice: cpu\nvbench_view: false\n"
        "models:\n  - {name: static, params: {height: 64, width: 64, num_frames: 17, fps: 8}}\n"
        "  - {name: camera, params: {height: 64, width: 64, num_frames: 17, fps: 8}}\n"
        "metrics: {motion_score: {}, synthetic: {}}\nreport: {bootstrap: 20, formats: [json]}\n", encoding="utf-8")
    assert main(["run", str(cfg), "--run-dir", str(tmp / "run"), "--no-progress"]) == 0
    return tmp / "run"


def test_generations_columns_are_documented(made_run):
    written = list(pd.read_parquet(made_run / "generations.parquet").columns)
    assert sorted(written) == sorted(documented_columns(DOCS / "data-contracts.md", "`generations.parquet`"))


def test_scores_columns_are_documented(made_run):
    written = list(pd.read_parquet(made_run / "scores.parquet").columns)
    assert sorted(written) == sorted(documented_columns(DOCS / "data-contracts.md", "`scores.parquet`"))


def test_judgment_columns_are_documented(made_run):
    documented = documented_columns(DOCS / "data-contracts.md", "Human judgments frame")
    assert list(JUDGMENT_COLUMNS) == documented
    rows = [json.loads(line) for line in (made_run / "auto-judgments.jsonl").read_text().splitlines()]
    assert rows and all(list(r) == documented for r in rows)


def test_run_yaml_keys_are_documented(made_run):
    body = yaml.safe_load((made_run / "run.yaml").read_text())
    documented = documented_columns(DOCS / "run-yaml.md", "`run.yaml`")
    assert set(body) <= set(documented) == set(RunRecord.model_fields)
    assert body["schema_version"] == 2


def test_run_config_keys_are_documented():
    documented = documented_columns(DOCS / "run-yaml.md", "The run config")
    assert set(documented) == set(RunConfig.model_fields)


def test_run_yaml_example_validates():
    text = (DOCS / "run-yaml.md").read_text(encoding="utf-8")
    example = re.search(r"## `run.yaml`\n\n```yaml\n(.*?)```", text, re.S).group(1)
    body = yaml.safe_load(example.replace("...", "x"))
    RunRecord.model_validate(body)

"""A text-to-video run from the CLI, end to end: `stepeval generate` on Step-Video-T2V-Eval prompts,
`stepeval score` with VBench's custom-input dimensions (the real vbench package, random weights),
`stepeval annotate create-study` with the T2V protocol's four dimensions, an
annotator's answers recorded as the app records them, `stepeval annotate export`, and `stepeval
report` with the VBench text-to-video table and the per-category Win / Tie / Loss.

Needs the VBench environment (skipped without it, except under CI=true)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd
import pytest

from stepeval.cli.main import main
from stepeval.human.dimensions import PROTOCOLS, dimension_label, to_outcome
from stepeval.human.store import AnnotationStore
from stepeval.metrics.testing import write_random_weights
from stepeval.metrics.vbench_t2v import CUSTOM_INPUT_DIMENSIONS, metric_name
from stepeval.runs import Run
from tests.metrics.vbench_support import require_vbench_env
from tests.t2v.conftest import T2V_EVAL

# VBench's RAFT and AMT need more than 32 pixels a side
SIZE = ["--set", "height=64", "--set", "width=64", "--set", "num_frames=5", "--set", "fps=8"]
STILL, NOISE = "still@fps=8,height=64,num_frames=5,width=64", "noise@fps=8,height=64,num_frames=5,width=64"
T2V_NAMES = PROTOCOLS["t2v"].dimension_names
ANSWERS = ("left", "tie", "right")


def test_generate_score_study_report(tmp_path, capsys):
    if not (T2V_EVAL / "Step-Video-T2V-Eval").is_file():
        pytest.skip("shared Step-Video-T2V-Eval copy not found")
    env = require_vbench_env()
    cache, thome = write_random_weights(env_path=env.path, dims=CUSTOM_INPUT_DIMENSIONS)
    run_dir = tmp_path / "run"
    # one prompt from each of three categories (stratified sample)
    assert main(["generate", str(T2V_EVAL), "--model", "still", "--model", "noise", *SIZE, "--sample", "3", "--seed", "1",
                 "--run-dir", str(run_dir)]) == 0
    run = Run.open(run_dir)
    categories = {it.id: it.domain for it in run.load_items().items}
    assert len(set(categories.values())) == 3

    assert main(["score", str(run_dir), "--metrics", "vbench_t2v", "--device", "cpu",
                 "--vbench-cache", str(cache), "--torch-home", str(thome)]) == 0, capsys.readouterr().out[-3000:]
    scores = run.scores.latest(("model_tag", "item_id", "sample", "metric"))
    videos = scores[(scores["item_id"] != "*") & scores["metric"].isin([metric_name(d) for d in CUSTOM_INPUT_DIMENSIONS])]
    assert len(videos) == 2 * 3 * len(CUSTOM_INPUT_DIMENSIONS) and (videos["status"] == "ok").all()

    capsys.readouterr()
    assert main(["annotate", "create-study", str(run_dir), "--model-a", STILL, "--model-b", NOISE, "--study-id", "t2v",
                 "--study-seed", "2"]) == 0
    assert "t2v" in " ".join(capsys.readouterr().out.split())
    store = AnnotationStore.open(run_root=run_dir)
    annotator = store.authenticate(store.add_annotator("t2v", "alice")).annotator_id
    expected: dict[tuple[str, str], str] = {}  # (item, dimension) -> outcome from still's side
    for n, task in enumerate(store.queue(annotator)):
        labels = {dim: ANSWERS[(n + k) % 3] for k, dim in enumerate(T2V_NAMES)}
        store.submit(task.id, annotator_id=annotator, labels=labels, submission_id=uuid.uuid4().hex, seconds=4.0,
                     comment="", cannot_judge=False)  # what the app's submit button records
        expected.update({(task.item_id, dim): to_outcome(label, task.swapped) for dim, label in labels.items()})
    assert len(expected) == 3 * 4

    export = tmp_path / "judgments.jsonl"
    assert main(["annotate", "export", str(run_dir), str(export)]) == 0
    assert {json.loads(line)["dimension"] for line in export.read_text(encoding="utf-8").splitlines()} == set(T2V_NAMES)

    out = tmp_path / "report"
    assert main(["report", str(run_dir), "--annotations", str(export), "--out", str(out), "--format", "html,md,csv",
                 "--media", "none", "--bootstrap", "20"]) == 0
    vbench = pd.read_csv(out / "tables" / "vbench-t2v.csv").set_index("dimension")
    assert vbench.at["subject_consistency", STILL] == pytest.approx(1.0, abs=1e-6)  # a held frame is its own subject
    assert vbench.at["subject_consistency", NOISE] < 1.0 - 1e-3
    by_category = pd.read_csv(out / "tables" / "pairwise-by-domain.csv", keep_default_na=False)
    assert set(by_category["group"]) == set(categories.values())
    assert list(dict.fromkeys(by_category["dimension"])) == list(T2V_NAMES)
    words = {"A": "wins", "tie": "ties", "B": "losses"}
    for (item, dim), outcome in expected.items():
        row = by_category[(by_category["dimension"] == dim) & (by_category["group"] == categories[item])].iloc[0]
        assert row["n"] == 1 and row[words[outcome]] == 1
    html = (out / "index.html").read_text(encoding="utf-8")
    assert all(dimension_label(d) in html for d in T2V_NAMES) and "VBench (text-to-video)" in html

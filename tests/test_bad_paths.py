"""Every command that takes a path, given a hostile one: a missing path, a file where a folder
belongs (and the reverse), a file that is not what it claims (binary bytes named .yaml, .jsonl, .db),
a damaged table inside a run. Each case ends in exit code 2 with one message that names the file and
says how to fix it, no traceback, and nothing already on disk changes.

The good inputs (a benchmark folder and a run with two models) are made by the commands themselves.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stepeval.cli.main import main

SMALL = ["--set", "height=32", "--set", "width=32", "--set", "num_frames=5", "--set", "fps=8"]
GARBAGE = b"\x00\x01\x02 not what the name says \xff\xfe"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    bench = root / "bench"
    bench.mkdir()
    for n in range(2):
        Image.fromarray(np.random.default_rng(n).integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(bench / f"it{n}.png")
        (bench / f"it{n}.txt").write_text("a cat walks to the left", encoding="utf-8")
    for model in ("static", "camera"):
        assert main(["generate", str(bench), "--model", model, *SMALL, "--run-dir", str(root / "run")]) == 0
    (root / "a-file.txt").write_text("just text", encoding="utf-8")
    (root / "a-folder").mkdir()
    for name in ("garbage.yaml", "garbage.jsonl", "garbage.db", "garbage.csv"):
        (root / name).write_bytes(GARBAGE)
    # runs with one damaged part each, copied from the good one
    for name, damage in (("bad-yaml", "run.yaml"), ("bad-generations", "generations.parquet")):
        shutil.copytree(root / "run", root / name)
        target = root / name / damage
        target.write_bytes(target.read_bytes()[: 200] if damage.endswith(".parquet") else b"config: {{{\n")
    shutil.copytree(root / "run", root / "bad-scores")
    (root / "bad-scores" / "scores.parquet").write_bytes(b"PAR1 cut short")
    return root


def _snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


TAGS = ["--model-a", "static@fps=8,height=32,num_frames=5,width=32", "--model-b", "camera@fps=8,height=32,num_frames=5,width=32"]

# (command line with {w} for the world folder, the file the message must name, words it must contain)
CASES = [
    ("data info {w}/missing", "missing", "not found"),
    ("data info {w}/a-file.txt", "a-file.txt", "is a file"),
    ("data validate {w}/a-file.txt", "a-file.txt", "is a file"),
    ("data ids {w}/missing", "missing", "not found"),
    ("data export {w}/bench {w}/a-file.txt", "a-file.txt", "is a file"),
    ("data fetch {w}/a-file.txt", "a-file.txt", "cannot create"),
    ("generate {w}/missing --model static", "missing", "not found"),
    ("generate --config {w}/missing.yaml", "missing.yaml", "not found"),
    ("generate --config {w}/garbage.yaml", "garbage.yaml", "cannot read"),
    ("generate --config {w}/a-folder", "a-folder", "not found"),
    ("generate {w}/bench --model static --run-dir {w}/a-file.txt", "a-file.txt", "cannot write"),
    ("generate import {w}/bench {w}/missing --engine e", "missing", "not found"),
    ("generate import {w}/bench {w}/a-folder --engine e --mapping {w}/missing.csv", "missing.csv", "not found"),
    ("generate import {w}/bench {w}/a-folder --engine e --mapping {w}/garbage.yaml", "garbage.yaml", "cannot read"),
    ("score {w}/missing --metrics motion_score", "missing", "not a stepeval run"),
    ("score {w}/a-folder --metrics motion_score", "a-folder", "not a stepeval run"),
    ("score {w}/missing", "missing", "not a stepeval run"),  # the run is checked before the metric choice
    ("score {w}/bad-scores --metrics motion_score", "scores.parquet", "damaged"),
    ("score {w}/bad-generations --metrics motion_score", "generations.parquet", "damaged"),
    ("score {w}/bad-yaml --metrics motion_score", "run.yaml", "cannot read"),
    ("generate --config {w}/bad-generations/run.yaml", "generations.parquet", "damaged"),
    ("report {w}/missing", "missing", "not a stepeval run"),
    ("report {w}/run --out {w}/a-file.txt", "a-file.txt", "refusing to replace"),
    ("report {w}/bad-generations --out {w}/report-out", "generations.parquet", "damaged"),
    ("report {w}/bad-yaml --out {w}/report-out", "run.yaml", "cannot read"),
    ("report {w}/run --out {w}/report-out --labels {w}/garbage.yaml", "garbage.yaml", "not UTF-8"),
    ("annotate import {w}/run {w}/garbage.jsonl", "garbage.jsonl", "not UTF-8"),
    ("report {w}/run --out {w}/report-out --annotations {w}/missing.jsonl", "missing.jsonl", "not found"),
    ("run {w}/missing.yaml", "missing.yaml", "not found"),
    ("run {w}/garbage.yaml", "garbage.yaml", "cannot read"),
    ("config check {w}/garbage.yaml", "garbage.yaml", "cannot read"),
    ("config schema --out {w}/a-folder", "a-folder", "is a folder"),
    ("annotate create-study {w}/missing " + " ".join(TAGS), "missing", "not a stepeval run"),
    ("annotate create-study {w}/bad-yaml " + " ".join(TAGS), "run.yaml", "cannot read"),
    ("annotate create-study {w}/run --db {w}/garbage.db " + " ".join(TAGS), "garbage.db", "not an annotation database"),
    ("annotate status {w}/run --db {w}/garbage.db", "garbage.db", "not an annotation database"),
    ("annotate import {w}/run {w}/missing.jsonl", "missing.jsonl", "not found"),
    ("annotate serve {w}/missing", "missing", "not a stepeval run"),
    ("vbench check --path {w}/missing", "missing", "no VBench environment"),
    ("train-tiny --out {w}/a-file.txt", "a-file.txt", "is a file"),
]


@pytest.mark.parametrize(("line", "names", "words"), CASES, ids=[c[0].replace("{w}/", "") for c in CASES])
def test_hostile_path_is_one_clear_message_and_changes_nothing(world, capsys, line, names, words):
    before = _snapshot(world)
    rc = main(line.format(w=world).split())
    out, err = capsys.readouterr()
    text = out + err
    assert rc == 2, text
    assert "Traceback" not in text
    errors = [ln for ln in text.splitlines() if ln.startswith("error")]
    assert len(errors) == 1, text  # one message, not one per metric or per retry
    message = " ".join(text[text.index(errors[0]):].split())
    assert names in message and words in message, message
    assert "fix:" in message, message
    assert _snapshot(world) == before, "a refused command changed files on disk"


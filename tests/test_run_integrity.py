"""A run directory under hostile conditions: read-only, written while read, left half-written by a
killed process, imported into twice; each ends in a clear message or a consistent run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stepeval.cli.main import main
from stepeval.runs import Run

SMALL = ["--set", "height=32", "--set", "width=32", "--set", "num_frames=17", "--set", "fps=8"]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A run made by `stepeval generate` on the synthetic benchmark, scored once."""
    from stepeval.benchmark.synthetic import write_smoke_benchmark

    tmp = tmp_path_factory.mktemp("integrity")
    bench = write_smoke_benchmark(tmp / "bench", n=3)
    run_dir = tmp / "run"
    assert main(["generate", str(bench), "--model", "static", *SMALL, "--run-dir", str(run_dir), "--no-vbench-view"]) == 0
    assert main(["score", str(run_dir), "--metrics", "motion_score"]) == 0
    return bench, run_dir


def _as_unprivileged(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The CLI in a child process that cannot bypass file permissions, even when the tests run as root."""
    cmd = [sys.executable, "-m", "stepeval.cli.main", *argv]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)


def test_read_only_run_is_a_clear_error_for_score_and_report(made, tmp_path):
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be enforced")
    _, run_dir = made
    ro = tmp_path / "ro"
    shutil.copytree(run_dir, ro)
    for path in [ro, *ro.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        score = _as_unprivileged(["score", str(ro), "--metrics", "motion_score", "--rescore"], tmp_path)
        assert score.returncode == 2, score.stderr
        assert str(ro) in score.stderr and "writable" in score.stderr and "Traceback" not in score.stderr
        report = _as_unprivileged(["report", str(ro)], tmp_path)
        assert report.returncode == 2, report.stderr
        assert "--out" in report.stderr and "Traceback" not in report.stderr
        # The fix the message names works: the same read-only run, reported elsewhere.
        elsewhere = _as_unprivileged(["report", str(ro), "--out", str(tmp_path / "out")], tmp_path)
        assert elsewhere.returncode == 0, elsewhere.stderr
    finally:
        for path in [ro, *ro.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_score_and_report_during_generation_say_so(made, tmp_path, capsys):
    _, run_dir = made
    run = Run.open(run_dir)
    with run.lock():  # what `stepeval generate` holds while it writes the run
        assert run.writer_active()
        assert main(["score", str(run_dir), "--metrics", "motion_score"]) == 0
        assert "still being generated" in capsys.readouterr().err
        assert main(["report", str(run_dir), "--out", str(tmp_path / "report")]) == 0
        assert "still being generated" in (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert not run.writer_active()


def test_a_killed_writers_temporary_table_is_cleaned(made):
    _, run_dir = made
    stale = run_dir / ".generations.parquet.k1ll3d.tmp"  # what atomic_write leaves when SIGKILLed mid-write
    stale.write_bytes(b"PAR1 half a table")
    run = Run.open(run_dir)
    before = len(run.generations.read())
    run.generations.append([{"model_tag": "static", "item_id": "x", "sample": 0, "status": "failed"}])
    assert not stale.exists()
    assert len(run.generations.read()) == before + 1


def test_repeated_imports_keep_every_engines_provenance(made, tmp_path):
    bench, run_dir = made
    folder = next((run_dir / "videos").iterdir())  # the one model tag's videos
    target = tmp_path / "imports"
    for engine, date in (("kling-1.6", "2025-03-01"), ("hailuo-02", "2025-04-02")):
        code = main(["generate", "import", str(bench), str(folder), "--engine", engine, "--date", date, "--run-dir", str(target)])
        assert code == 0
    imports = Run.open(target).record.imports
    assert {k: v.date for k, v in imports.items()} == {"kling-1.6": "2025-03-01", "hailuo-02": "2025-04-02"}
    assert Run.open(target).configured_tags() == ["kling-1.6", "hailuo-02"]


def test_a_folder_named_like_a_video_is_named_as_a_folder(made, tmp_path, capsys):
    bench, run_dir = made
    item = Run.open(run_dir).item_ids[0]
    folder = tmp_path / "vids"
    (folder / f"{item}.mp4").mkdir(parents=True)
    code = main(["generate", "import", str(bench), str(folder), "--engine", "x", "--ids", item, "--run-dir", str(tmp_path / "r")])
    assert code == 1
    assert "is a folder, not a video file" in capsys.readouterr().err

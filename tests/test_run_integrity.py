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


def test_ctrl_c_during_scoring_keeps_what_was_scored_and_the_rerun_finishes(tmp_path):
    """Ctrl-C at a terminal (SIGINT to the foreground process group, pool workers included) once the
    progress bar shows some videos done: exit 130, the resume message, the rows scored so far kept;
    the same command again scores only the rest."""
    import os
    import pty
    import re
    import select
    import signal
    import time

    import pandas as pd

    from stepeval.benchmark.synthetic import write_smoke_benchmark
    from stepeval.metrics.common import MODEL_ITEM

    bench = write_smoke_benchmark(tmp_path / "bench", n=8)
    run_dir = tmp_path / "run"
    big = ["--set", "height=256", "--set", "width=256", "--set", "num_frames=49", "--set", "fps=8"]
    assert main(["generate", str(bench), "--model", "static", "--model", "camera", *big, "--run-dir", str(run_dir), "--no-vbench-view"]) == 0
    total = 16
    argv = [sys.executable, "-m", "stepeval.cli.main", "score", str(run_dir), "--metrics", "motion_score", "--workers", "1"]
    master, slave = pty.openpty()  # a terminal, so the progress bar is live as a user sees it
    # A user's terminal delivers Ctrl-C to a process whose SIGINT is the default; a test runner started
    # in the background by a shell without job control inherits it ignored, so the child gets it back.
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True, env={**os.environ, "COLUMNS": "120"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(slave)
    seen, done = b"", 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if select.select([master], [], [], 0.2)[0]:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
            counts = [int(m) for m in re.findall(rb"(\d+)/%d" % total, seen)]
            done = max(counts, default=0)
            if 2 <= done < total - 2:
                os.killpg(proc.pid, signal.SIGINT)
                break
    assert 2 <= done < total - 2, f"never saw the bar mid-way: {seen[-500:]!r}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # read to the end: the terminal closes when the process exits
        if select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    rc = proc.wait(timeout=30)
    os.close(master)
    text = " ".join(seen.decode("utf-8", "replace").split())
    assert rc == 130, text[-1000:]
    assert "interrupted" in text and "rerun the same command to resume" in text and "Traceback" not in text
    kept = pd.read_parquet(run_dir / "scores.parquet")
    kept = kept[(kept["metric"] == "motion_score") & (kept["item_id"] != MODEL_ITEM)]
    assert 1 <= len(kept) < total  # what was scored before Ctrl-C is on disk
    assert not list(run_dir.glob(".scores.parquet.*.tmp"))

    again = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    rows = pd.read_parquet(run_dir / "scores.parquet")
    rows = rows[(rows["metric"] == "motion_score") & (rows["status"] == "ok") & (rows["item_id"] != MODEL_ITEM)]
    assert len(rows) == total and not rows.duplicated(["model_tag", "item_id", "sample"]).any()
    assert set(kept["item_id"] + kept["model_tag"]) <= set(rows["item_id"] + rows["model_tag"])

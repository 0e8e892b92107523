"""Independent shards: `--shard I/N`, `--launcher local --shards N`, part files, `stepeval status`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from stepeval.errors import UserError
from stepeval.runs import Run, Shard, Table
from stepeval.runs.shards import shard_of
from stepeval.video import read_video
from tests.generation.helpers import REPO, make_folder_benchmark, stepeval

TINY = ["--set", "height=32", "--set", "width=32", "--set", "num_frames=5", "--set", "fps=8"]
GEN_KEYS = ["model_tag", "item_id", "sample"]
SCORE_KEYS = ["model_tag", "item_id", "sample", "metric"]
# Columns that say when, where and how fast a row was made; everything else must match exactly.
CIRCUMSTANCES = {"created_at", "host", "rank", "seconds", "peak_memory_bytes", "scored_at", "env"}
DETAIL_CIRCUMSTANCES = {"decode_seconds", "flow_seconds", "video_signature"}  # timings; the file's mtime


def _frames(run_dir: Path) -> dict[str, np.ndarray]:
    return {p.relative_to(run_dir).as_posix(): read_video(p) for p in sorted((run_dir / "videos").rglob("*.mp4"))}


def _same_rows(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> None:
    cols = [c for c in a.columns if c not in CIRCUMSTANCES]
    assert sorted(cols) == sorted(c for c in b.columns if c not in CIRCUMSTANCES)
    a = a[cols].sort_values(keys).reset_index(drop=True)
    b = b[cols].sort_values(keys).reset_index(drop=True)
    if "details" in cols:
        for frame in (a, b):
            frame["details"] = [{k: v for k, v in json.loads(d).items() if k not in DETAIL_CIRCUMSTANCES} for d in frame["details"]]
    pd.testing.assert_frame_equal(a, b)


def _invocation_shards(run_dir: Path) -> list[str | None]:
    return [inv.get("shard") for inv in yaml.safe_load((run_dir / "run.yaml").read_text())["invocations"]]


# -- the assignment ---------------------------------------------------------------------------------


def test_every_unit_has_exactly_one_shard_whatever_the_order_or_the_other_units():
    units = [(f"m{m}", f"item{i:02d}", s) for m in range(3) for i in range(40) for s in range(2)]
    for n in (1, 2, 3, 4, 7):
        owners = [[k for k in range(n) if Shard(k, n).owns(*u)] for u in units]
        assert all(len(o) == 1 for o in owners)
        # The same unit lands in the same shard in another process (no salted hash) and in a run
        # with other units around it.
        probe = subprocess.run([sys.executable, "-c", "from stepeval.runs.shards import shard_of; import sys;"
                                f"print([shard_of(t, i, s, {n}) for t, i, s in {units[::17]!r}])"],
                               capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONHASHSEED": "random"})
        assert probe.stdout.strip() == str([shard_of(*u, n) for u in units[::17]])
    assert {shard_of(*u, 4) for u in units} == {0, 1, 2, 3}


@pytest.mark.parametrize("text", ["4/4", "-1/4", "1/0", "1", "a/b", "1/2/3"])
def test_a_bad_shard_is_refused(text):
    with pytest.raises(UserError):
        Shard.parse(text)


def test_shard_in_a_config_file_is_checked(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 1)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"benchmark": str(bench), "models": ["static"], "shard": "3/3"}))
    res = stepeval("config", "check", cfg)
    assert res.returncode == 2 and "shard: a shard is I/N" in res.stderr


# -- the table of a run is its main file plus every part ----------------------------------------------


def test_a_table_reads_its_parts_and_the_latest_row_across_files_is_the_last_written(tmp_path):
    main = Table(tmp_path / "generations.parquet", order_by="created_at")
    part = Table(tmp_path / "generations.parquet", part=Shard(1, 2).part, order_by="created_at")
    main.append([{"model_tag": "m", "item_id": "a", "sample": 0, "status": "failed", "created_at": "2026-01-01T00:00:00+0000"},
                 {"model_tag": "m", "item_id": "b", "sample": 0, "status": "failed", "created_at": "2026-01-01T00:00:01+0000"}])
    part.append([{"model_tag": "m", "item_id": "a", "sample": 0, "status": "ok", "created_at": "2026-01-01T00:00:05+0000"}])
    main.append([{"model_tag": "m", "item_id": "b", "sample": 0, "status": "ok", "created_at": "2026-01-01T00:00:09+0000"}])
    assert sorted(p.name for p in tmp_path.glob("*.parquet")) == ["generations.parquet", "generations.part-1-of-2.parquet"]
    assert len(pd.read_parquet(tmp_path / "generations.part-1-of-2.parquet")) == 1  # a part holds only its writer's rows
    assert len(main.read()) == len(part.read()) == 4  # every reader sees one table
    latest = main.latest(GEN_KEYS).set_index("item_id")["status"].to_dict()
    assert latest == {"a": "ok", "b": "ok"}


# -- generate and score in shards -------------------------------------------------------------------


def test_four_local_shards_make_and_score_what_one_process_does(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 6)
    gen = ["generate", bench, "--model", "static", "--model", "camera", *TINY, "--seed", "3"]
    one = stepeval(*gen, "--run-dir", tmp_path / "one", cwd=REPO)
    assert one.returncode == 0, one.stderr
    four = stepeval(*gen, "--run-dir", tmp_path / "four", "--launcher", "local", "--shards", "4", cwd=REPO)
    assert four.returncode == 0, four.stdout + four.stderr
    assert "0/4" in four.stderr and "3/4" in four.stderr

    a, b = _frames(tmp_path / "one"), _frames(tmp_path / "four")
    assert len(a) == 12 and sorted(a) == sorted(b)
    assert [n for n in a if not np.array_equal(a[n], b[n])] == []
    parts = sorted(p.name for p in (tmp_path / "four").glob("generations*.parquet"))
    assert "generations.parquet" not in parts and len(parts) >= 2  # each shard wrote its own part
    _same_rows(Run.open(tmp_path / "one").generations.read(), Run.open(tmp_path / "four").generations.read(), GEN_KEYS)
    # Every shard recorded its invocation in run.yaml: none was lost to another.
    assert sorted(_invocation_shards(tmp_path / "four")) == ["0/4", "1/4", "2/4", "3/4"]

    # A shard rerun after completion does nothing.
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "four").glob("generations*.parquet")}
    again = stepeval(*gen, "--run-dir", tmp_path / "four", "--shard", "2/4", cwd=REPO)
    assert again.returncode == 0, again.stderr
    assert "0 made, 0 failed, 0 refused" in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "four").glob("generations*.parquet")} == stamps
    assert _frames(tmp_path / "four").keys() == b.keys()

    # Scoring per shard gives the same scores table as scoring in one process, per-model rows included.
    score = ["--metrics", "motion_score", "--motion-every", "2", "--motion-short-side", "32"]
    s1 = stepeval("score", tmp_path / "one", *score, cwd=REPO)
    assert s1.returncode == 0, s1.stdout + s1.stderr
    for i in range(4):
        si = stepeval("score", tmp_path / "four", *score, "--shard", f"{i}/4", cwd=REPO)
        assert si.returncode == 0, si.stdout + si.stderr
    one_scores = Run.open(tmp_path / "one").scores.latest(SCORE_KEYS)
    four_scores = Run.open(tmp_path / "four").scores.latest(SCORE_KEYS)
    assert (one_scores["item_id"] == "*").sum() == 2 and (one_scores["status"] == "ok").all()
    _same_rows(one_scores, four_scores, SCORE_KEYS)
    assert not (tmp_path / "four" / "scores.parquet").exists()

    status = stepeval("status", tmp_path / "four", "--json", cwd=REPO)
    assert status.returncode == 0, status.stderr
    prog = json.loads(status.stdout)
    assert prog["complete"] and sum(c["done"] for c in prog["shards"]["4"].values()) == 12
    assert all(c["done"] == 6 and c["left"] == 0 for c in prog["models"].values())
    assert all(c["done"] == 6 for c in prog["scores"]["motion_score"].values())


def test_score_with_the_local_launcher(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 3)
    assert stepeval("generate", bench, "--model", "camera", *TINY, "--run-dir", tmp_path / "run", cwd=REPO).returncode == 0
    res = stepeval("score", tmp_path / "run", "--metrics", "motion_score", "--motion-every", "2", "--launcher", "local", "--shards", "2", cwd=REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    scores = Run.open(tmp_path / "run").scores.latest(SCORE_KEYS)
    assert len(scores) == 4 and set(scores["status"]) == {"ok"}  # 3 videos and the model's mean
    assert sorted((tmp_path / "run" / "logs").glob("score.part-*.log"))


def test_a_killed_shard_fails_the_launch_and_rerunning_it_alone_completes_the_run(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 8)
    run_dir = tmp_path / "run"
    gen = ["generate", bench, "--model", "static", *TINY, "--set", "delay_s=0.4", "--run-dir", run_dir]
    victim = next(i for i in range(4) if sum(Shard(i, 4).owns(t, f"item{k:02d}", 0) for k in range(8)
                                          for t in ["static@delay_s=0.4,fps=8,height=32,num_frames=5,width=32"]) >= 2)
    launch = subprocess.Popen([sys.executable, "-m", "stepeval.cli.main", *map(str, gen), "--launcher", "local", "--shards", "4"],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    try:
        lock = run_dir / f".run.{Shard(victim, 4).part}.lock"
        deadline = time.monotonic() + 240
        pid = None
        while pid is None:  # the shard writes who holds its lock once it has started on its videos
            assert launch.poll() is None and time.monotonic() < deadline, "the shard never started"
            try:
                pid = json.loads(lock.read_text())["pid"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        out, err = launch.communicate(timeout=240)
    finally:
        launch.kill()
    assert launch.returncode == 1, err
    assert f"{victim}/4" in err and "-9" in err and f"--shard {victim}/4" in err  # which shard failed, and how to finish

    status = json.loads(stepeval("status", run_dir, "--json", cwd=REPO).stdout)
    assert not status["complete"]
    assert {k for k, c in status["shards"]["4"].items() if c["left"]} == {f"{victim}/4"}

    rerun = stepeval(*gen, "--shard", f"{victim}/4", cwd=REPO)
    assert rerun.returncode == 0, rerun.stderr
    status = json.loads(stepeval("status", run_dir, "--json", cwd=REPO).stdout)
    assert status["complete"] and status["models"][next(iter(status["models"]))]["done"] == 8
    latest = Run.open(run_dir).generations.latest(GEN_KEYS)
    assert len(latest) == 8 and set(latest["status"]) == {"ok"}
    assert not list((run_dir / "videos").rglob(".*.partial.mp4"))


def test_shards_of_a_config_run_by_hand_then_by_the_launcher_with_gpus_per_shard(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 4)
    run_dir = tmp_path / "run"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"benchmark": str(bench), "run_dir": str(run_dir), "device": "cpu",
                                   "models": [{"name": "static", "params": {"height": 32, "width": 32, "num_frames": 5}}]}))
    first = stepeval("generate", "--config", cfg, "--shard", "0/2", cwd=REPO)
    assert first.returncode == 0, first.stderr
    tag = Run.open(run_dir).config.models[0].tag
    mine = {f"item{i:02d}" for i in range(4) if Shard(0, 2).owns(tag, f"item{i:02d}", 0)}
    assert set(Run.open(run_dir).generations.read()["item_id"]) == mine
    assert sorted(p.name for p in run_dir.glob("generations*.parquet")) == ["generations.part-0-of-2.parquet"]

    # The launcher starts both shards; shard 0 finds its work done, shard 1 makes the rest.
    res = stepeval("generate", "--config", cfg, "--launcher", "local", "--shards", "2", "--gpus-per-shard", "1", cwd=REPO,
                   env={"CUDA_VISIBLE_DEVICES": "3,5"})
    assert res.returncode == 0, res.stdout + res.stderr
    latest = Run.open(run_dir).generations.latest(GEN_KEYS)
    assert set(latest["item_id"]) == {f"item{i:02d}" for i in range(4)} and len(Run.open(run_dir).generations.read()) == 4


def test_each_local_shard_gets_its_own_slice_of_the_gpus():
    from stepeval.launch.local import gpu_assignment

    assert [gpu_assignment(i, 2, None) for i in range(3)] == ["0,1", "2,3", "4,5"]
    assert [gpu_assignment(i, 1, "4,6,7") for i in range(3)] == ["4", "6", "7"]
    assert gpu_assignment(0, 0, "4,6") is None
    for visible in ("4,6,7", ""):  # more GPUs than the launcher may use
        with pytest.raises(UserError):
            gpu_assignment(1, 2, visible)

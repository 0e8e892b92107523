"""A run killed with SIGKILL resumes exactly; torchrun sharding makes the same videos."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from stepeval.runs import Run, Table
from stepeval.video import read_video
from tests.generation.helpers import REPO, SMALL, make_folder_benchmark, stepeval

KEYS = ["model_tag", "item_id", "sample"]


def _rows(run_dir) -> pd.DataFrame:
    # Read through the run's own reader: one snapshot of a file the writer replaces while we poll.
    frame = Table(run_dir / "generations.parquet").read()
    return frame if len(frame) else pd.DataFrame(columns=KEYS)


def test_sigkill_mid_run_then_rerun_makes_exactly_the_missing_videos(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 12)
    run_dir = tmp_path / "run"
    args = [sys.executable, "-m", "stepeval.cli.main", "generate", bench, "--model", "static", *SMALL, "--set", "delay_s=0.3", "--run-dir", run_dir]
    proc = subprocess.Popen(list(map(str, args)), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while len(_rows(run_dir)) < 4:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    tag_dir = run_dir / "videos" / "static@delay_s=0.3,height=48,num_frames=6,width=64"
    before = _rows(run_dir)
    done = set(before["item_id"])
    assert 4 <= len(done) < 12 and len(before) == len(done)
    stamps = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in tag_dir.glob("*.mp4") if not p.name.startswith(".")}
    assert set(stamps) >= {f"{i}.mp4" for i in done}  # every recorded video is there (one may be there unrecorded)

    res = stepeval("generate", bench, "--model", "static", *SMALL, "--set", "delay_s=0.3", "--run-dir", run_dir, cwd=REPO)
    assert res.returncode == 0, res.stderr
    after = _rows(run_dir)
    assert len(after) == 12 and not after.duplicated(KEYS).any()  # one row per video
    assert set(after["status"]) == {"ok"}
    made_now = set(after.iloc[len(before):]["item_id"])
    assert made_now == {f"item{i:02d}" for i in range(12)} - done  # exactly the missing ones
    for name, stamp in stamps.items():
        if name[:-4] in done:  # videos finished before the kill were not touched
            p = tag_dir / name
            assert (p.stat().st_ino, p.stat().st_mtime_ns) == stamp
    mp4s = sorted(tag_dir.glob("*.mp4"))  # pathlib's glob includes hidden files: no partial is left
    assert [p.name for p in mp4s] == [f"item{i:02d}.mp4" for i in range(12)]
    for p in mp4s:
        assert read_video(p).shape == (6, 48, 64, 3)


def _frames_by_file(run_dir) -> dict[str, np.ndarray]:
    return {p.relative_to(run_dir).as_posix(): read_video(p) for p in sorted((run_dir / "videos").rglob("*.mp4"))}


def test_torchrun_two_ranks_make_the_same_videos_as_one_process(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 5, prompts=["镜头向左移动", "camera zooms in", "镜头上移", "固定镜头", "a cat"])
    common = ["generate", bench, "--model", "noise", "--model", "camera", *SMALL, "--num-samples", "2", "--seed", "11"]
    one = stepeval(*common, "--run-dir", tmp_path / "one", cwd=REPO)
    assert one.returncode == 0, one.stderr
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "stepeval.cli.main",
         *map(str, common), "--run-dir", str(tmp_path / "two"), "--device", "cpu"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = _frames_by_file(tmp_path / "one"), _frames_by_file(tmp_path / "two")
    assert len(a) == 20 and sorted(a) == sorted(b)
    differ = [n for n in a if not np.array_equal(a[n], b[n])]
    assert not differ, f"{len(differ)} of {len(a)} videos decode differently with 2 ranks: {differ}"
    rows = Run.open(tmp_path / "two").generations.read()
    assert len(rows) == 20 and sorted(rows["rank"].unique()) == [0, 1]  # both ranks took a share
    one_rows = Run.open(tmp_path / "one").generations.read().set_index(KEYS)["seed"]
    assert rows.set_index(KEYS)["seed"].sort_index().equals(one_rows.sort_index())


def test_ranks_of_one_sequence_parallel_group_share_items(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 3)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "stepeval.cli.main",
         "generate", str(bench), "--model", "static", *SMALL, "--run-dir", str(tmp_path / "run"), "--device", "cpu", "--sp-degree", "2"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    rows = Run.open(tmp_path / "run").generations.read()
    # One group of two ranks: every video made once, written by the group's first rank.
    assert len(rows) == 3 and set(rows["rank"]) == {0} and set(rows["status"]) == {"ok"}

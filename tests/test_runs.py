import multiprocessing as mp
import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from stepeval.errors import UserError
from stepeval.runs import Run, Table
from stepeval.video import write_video


def _append_many(path, worker, n):
    t = Table(path)
    for i in range(n):
        t.append([{"worker": worker, "i": i, "params": {"a": i}}])


def _config(tmp_path, **more):
    bench = tmp_path / "bench"
    bench.mkdir(exist_ok=True)
    return {"benchmark": str(bench), **more}


def test_create_records_config_and_environment(tmp_path):
    Run.create(tmp_path / "r", _config(tmp_path, models=[{"name": "static", "tag": "static"}]), command="stepeval generate", items=["b", "a"])
    meta = yaml.safe_load((tmp_path / "r" / "run.yaml").read_text())
    assert meta["schema_version"] == 2
    assert meta["config"]["models"] == [{"name": "static", "params": {}, "tag": "static"}]
    assert meta["items"] == ["a", "b"]
    assert meta["environment"]["packages"]["numpy"]
    assert meta["environment"]["python"] == sys.version.split()[0]
    # reopening (resume) keeps old models and adds new ones, adds items, and logs the invocation
    Run.create(tmp_path / "r", {"models": [{"name": "camera", "tag": "camera"}]}, command="again", items=["c"])
    meta = yaml.safe_load((tmp_path / "r" / "run.yaml").read_text())
    assert [m["tag"] for m in meta["config"]["models"]] == ["static", "camera"]
    assert [i["command"] for i in meta["invocations"]] == ["stepeval generate", "again"]
    reopened = Run.open(tmp_path / "r")
    assert reopened.benchmark_path == (tmp_path / "bench").absolute()
    assert reopened.item_ids == ["a", "b", "c"]
    assert reopened.configured_tags() == ["static", "camera"]


def test_a_run_keeps_its_benchmark(tmp_path):
    Run.create(tmp_path / "r", _config(tmp_path))
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(UserError, match="made on the benchmark"):
        Run.create(tmp_path / "r", {"benchmark": str(other)})


def test_open_non_run_is_clear(tmp_path):
    with pytest.raises(UserError, match="not a stepeval run directory"):
        Run.open(tmp_path)


def test_read_only_location_is_clear(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        if os.geteuid() == 0:
            res = subprocess.run(
                ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c",
                 f"from stepeval.runs import Run\ntry:\n  Run.create({str(ro / 'run')!r}, {{'benchmark': '.'}})\nexcept Exception as e: print(type(e).__name__, e)"],
                capture_output=True, text=True)
            assert "UserError" in res.stdout and "cannot write the run directory" in res.stdout, res.stdout + res.stderr
        else:
            with pytest.raises(UserError, match="cannot write the run directory"):
                Run.create(ro / "run", {"benchmark": "."})
    finally:
        os.chmod(ro, 0o755)


def test_lock_refuses_a_second_writer(tmp_path):
    run = Run.create(tmp_path / "r", _config(tmp_path))
    code = f"from stepeval.runs import Run\nfrom stepeval.errors import UserError\ntry:\n  with Run.open({str(run.root)!r}).lock(): print('got it')\nexcept UserError as e: print('refused:', e)"
    with run.lock():
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert res.stdout.startswith("refused:") and f"pid\": {os.getpid()}" in res.stdout.replace("'", '"')
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.stdout.strip() == "got it"  # released when the holder is done


def test_table_appends_from_processes_lose_nothing(tmp_path):
    path = tmp_path / "t.parquet"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(path, w, 15)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    df = pd.read_parquet(path)
    assert len(df) == 60 and sorted(df.groupby("worker").size().tolist()) == [15] * 4
    assert df["params"].iloc[0].startswith("{")
    assert not list(tmp_path.glob(".t.parquet.*.tmp"))


def test_latest_and_missing(tmp_path, pattern):
    run = Run.create(tmp_path / "r", _config(tmp_path))
    ids = ["real/H/002", "real/H/003", "anime/V/013"]
    write_video(run.video_path("static", "real/H/002"), pattern(2, 16, 16), fps=8)
    run.generations.append([
        {"model_tag": "static", "item_id": "real/H/002", "sample": 0, "status": "ok"},
        {"model_tag": "static", "item_id": "real/H/003", "sample": 0, "status": "failed", "error": "boom"},
        {"model_tag": "static", "item_id": "anime/V/013", "sample": 0, "status": "ok"},  # row but file lost
    ])
    assert run.missing("static", ids) == [("anime/V/013", 0)]
    assert run.missing("static", ids, retry_failed=True) == [("real/H/003", 0), ("anime/V/013", 0)]
    assert run.missing("static", ids[:1], samples=2) == [("real/H/002", 1)]
    assert run.missing("other", ids[:1]) == [("real/H/002", 0)]
    run.generations.append([{"model_tag": "static", "item_id": "real/H/003", "sample": 0, "status": "ok"}])
    latest = run.generations.latest(["model_tag", "item_id", "sample"])
    assert len(latest) == 3 and set(latest["status"]) == {"ok"}
    assert run.video_path("static", "real/H/002", 1).name == "002-1.mp4"
    assert run.model_tags() == ["static"]


@pytest.mark.parametrize("tag", ["a/b", "../x", "has space", ""])
def test_bad_model_tags(tmp_path, tag):
    run = Run.create(tmp_path / "r", _config(tmp_path))
    with pytest.raises(UserError, match="invalid model tag"):
        run.video_path(tag, "x")

"""`--launcher slurm`: the shards as a SLURM job array through submitit, against stand-in SLURM
commands (tests/generation/fake_slurm) that record what is submitted and run the tasks here."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from stepeval.runs import Run, Shard
from tests.generation.helpers import REPO, make_folder_benchmark, stepeval

pytest.importorskip("submitit")

TINY = ["--set", "height=32", "--set", "width=32", "--set", "num_frames=5", "--set", "fps=8"]
COMMANDS = ("sbatch", "srun", "sacct", "squeue", "scancel", "scontrol")


@pytest.fixture
def slurm(tmp_path):
    """PATH with the stand-in SLURM commands; their records in the returned folder."""
    bin_dir, state = tmp_path / "slurm-bin", tmp_path / "slurm-state"
    bin_dir.mkdir()
    state.mkdir()
    impl = REPO / "tests" / "generation" / "fake_slurm" / "commands.py"
    for name in COMMANDS:
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\nexec {sys.executable} {impl} {name} \"$@\"\n")
        script.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_SLURM_DIR": str(state), "PYTHONPATH": str(REPO)}
    return state, env


def _calls(state: Path, command: str) -> list[list[str]]:
    lines = (state / "calls.jsonl").read_text().splitlines() if (state / "calls.jsonl").exists() else []
    return [c["args"] for c in map(json.loads, lines) if c["command"] == command]


def test_slurm_launcher_submits_one_array_task_per_shard_and_a_preempted_task_resumes(tmp_path, slurm):
    state, env = slurm
    bench = make_folder_benchmark(tmp_path / "bench", 9)
    run_dir = tmp_path / "run"
    env = {**env, "FAKE_SLURM_RUN_DIR": str(run_dir)}
    tag = "static@delay_s=0.3,fps=8,height=32,num_frames=5,width=32"
    sizes = [sum(Shard(i, 3).owns(tag, f"item{k:02d}", 0) for k in range(9)) for i in range(3)]
    victim = sizes.index(max(sizes))
    assert sizes[victim] >= 3
    (state / "preempt").write_text(str(victim))  # this task gets SLURM's warning signal after its first video
    res = stepeval("generate", bench, "--model", "static", *TINY, "--set", "delay_s=0.3", "--run-dir", run_dir,
                   "--launcher", "slurm", "--shards", "3", "--nodes", "1", "--gpus-per-node", "1", "--partition", "gpu",
                   "--time", "01:30:00", "--wait", cwd=REPO, env=env, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr + "".join(p.read_text() for p in (run_dir / ".slurm").glob("*.err"))

    # One sbatch call: a job array of 3 tasks with the resources asked for and requeue on.
    (sbatch,) = _calls(state, "sbatch")
    script = (state / "job-1000.sh").read_text()
    flags = dict(re.findall(r"^#SBATCH --([\w-]+)(?:=(.*))?$", script, re.M))
    assert flags["array"] == "0-2%3"
    assert flags["nodes"] == "1" and flags["gpus-per-node"] == "1" and flags["partition"] == "gpu"
    assert flags["time"] == "90" and flags["ntasks-per-node"] == "1"
    assert "requeue" in flags and flags["signal"].startswith("USR2@")  # SLURM requeues; submitit is warned first
    assert "submitit.core._submit" in script and Path(sbatch[-1]).parent == run_dir / ".slurm"

    # The warned task asked SLURM to requeue it, ran again, and its shard resumed.
    assert _calls(state, "scontrol") == [["requeue", f"1000_{victim}"]]
    assert [(state / f"runs-1000_{i}").read_text() for i in range(3)] == ["2" if i == victim else "1" for i in range(3)]
    run = Run.open(run_dir)
    latest = run.generations.latest(["model_tag", "item_id", "sample"])
    assert len(latest) == 9 and set(latest["status"]) == {"ok"}
    assert not latest.duplicated(["item_id"]).any()
    assert {p.name for p in run_dir.glob("generations.part-*.parquet")} <= {f"generations.part-{i}-of-3.parquet" for i in range(3)}
    shards = [inv.shard for inv in run.record.invocations]
    assert sorted(set(shards)) == ["0/3", "1/3", "2/3"] and shards.count(f"{victim}/3") == 2  # resumed: recorded twice
    # The requeued shard made only what it had not made before the signal: one row per video.
    assert len(run.generations.read()) == 9
    assert "0/3" in res.stderr and "2/3" in res.stderr


def test_the_launcher_section_of_a_config_submits_too(tmp_path, slurm):
    import yaml

    state, env = slurm
    bench = make_folder_benchmark(tmp_path / "bench", 2)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"benchmark": str(bench), "models": [{"name": "static", "params": {"height": 32, "width": 32, "num_frames": 5}}],
                                   "run_dir": str(tmp_path / "run"),
                                   "launcher": {"kind": "slurm", "shards": 2, "requeue": False, "partition": "cpu"}}))
    res = stepeval("generate", "--config", cfg, "--wait", cwd=REPO, env={**env, "FAKE_SLURM_RUN_DIR": str(tmp_path / "run")}, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    flags = dict(re.findall(r"^#SBATCH --([\w-]+)(?:=(.*))?$", (state / "job-1000.sh").read_text(), re.M))
    assert flags["array"] == "0-1%2" and "no-requeue" in flags and "requeue" not in flags
    assert len(Run.open(tmp_path / "run").generations.latest(["model_tag", "item_id", "sample"])) == 2

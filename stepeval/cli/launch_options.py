"""The options `stepeval generate` and `stepeval score` share to work on one shard of a run or to
start all of its shards (docs/sharding.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from stepeval.errors import UserError

ShardOpt = Annotated[Optional[str], typer.Option("--shard", help="I/N: work only on shard I (0..N-1) of the run's videos; shards run anywhere, in any order, and append to their own part files.")]
LauncherOpt = Annotated[Optional[str], typer.Option("--launcher", help="local: run --shards N shards as subprocesses here and wait for them; slurm: submit them as a SLURM job array (submitit).")]
ShardsOpt = Annotated[Optional[int], typer.Option("--shards", min=1, help="With --launcher: the number of shards.")]
GpusPerShardOpt = Annotated[Optional[int], typer.Option("--gpus-per-shard", min=0, help="--launcher local: GPUs per shard through CUDA_VISIBLE_DEVICES (shard I gets GPUs I*G .. I*G+G-1).")]
NodesOpt = Annotated[Optional[int], typer.Option("--nodes", min=1, help="--launcher slurm: nodes per shard.")]
GpusPerNodeOpt = Annotated[Optional[int], typer.Option("--gpus-per-node", min=0, help="--launcher slurm: GPUs per node; more than 1 runs each shard as a torchrun group.")]
PartitionOpt = Annotated[Optional[str], typer.Option("--partition", help="--launcher slurm: partition.")]
TimeOpt = Annotated[Optional[str], typer.Option("--time", help="--launcher slurm: time limit per task (minutes or HH:MM:SS); a task that reaches it is requeued and resumes.")]
RequeueOpt = Annotated[Optional[bool], typer.Option("--requeue/--no-requeue", help="--launcher slurm: requeue preempted or timed-out tasks (default: on).")]
WaitOpt = Annotated[bool, typer.Option("--wait", help="--launcher slurm: wait for every task and report its exit code (default: submit and return).")]


def launcher_section(section: dict | None, **flags) -> dict | None:
    """The run config's `launcher:` section with the launcher flags given laid over it."""
    given = {k: v for k, v in flags.items() if v is not None}
    if not section and not given:
        return None
    return {**(section or {}), **given}


def start_shards(launcher, run_dir: Path, command: str, out: Console, *, wait: bool = False) -> int:
    """Start the shards of the running command as `launcher` (a LauncherConfig) says; the exit code."""
    from stepeval.cli.state import STATE

    if launcher.kind == "local":
        from stepeval.launch.local import run_local

        return run_local(STATE.argv, launcher.shards, run_dir=run_dir, command=command, gpus_per_shard=launcher.gpus_per_shard, console=out)
    if launcher.kind == "slurm":
        from stepeval.launch.slurm import submit

        return submit(STATE.argv, launcher, run_dir=run_dir, wait=wait, console=out)
    raise UserError(f"unknown launcher {launcher.kind!r}", hint="use --launcher local or --launcher slurm")

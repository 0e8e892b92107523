"""`--launcher local --shards N`: the N shards of a command as subprocesses of this machine.

For a workstation with several GPUs: shard I sees GPUs I*G .. I*G+G-1 (`--gpus-per-shard G`,
through CUDA_VISIBLE_DEVICES, so each shard's `cuda:0` is its own GPU). Each shard writes its output
to RUN/logs/<command>.part-I-of-N.log. The launcher waits for all, reports each exit code, and fails
when any shard failed; rerunning that shard alone (`--shard I/N`) completes the run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from stepeval.errors import UserError
from stepeval.launch.argv import shard_argv
from stepeval.runs.shards import Shard


@dataclass
class ShardOutcome:
    shard: Shard
    returncode: int
    seconds: float
    log: Path


def gpu_assignment(index: int, gpus_per_shard: int, visible: str | None) -> str | None:
    """CUDA_VISIBLE_DEVICES for shard `index`: its slice of the GPUs this process may use."""
    if gpus_per_shard <= 0:
        return None
    pool = [g.strip() for g in visible.split(",") if g.strip()] if visible is not None else None
    first = index * gpus_per_shard
    if pool is None:
        return ",".join(str(g) for g in range(first, first + gpus_per_shard))
    if first + gpus_per_shard > len(pool):
        raise UserError(f"shard {index} needs GPUs {first}..{first + gpus_per_shard - 1}, but CUDA_VISIBLE_DEVICES names {len(pool)}",
                        hint="use fewer --shards or a smaller --gpus-per-shard")
    return ",".join(pool[first:first + gpus_per_shard])


def run_local(argv: list[str], shards: int, *, run_dir: Path, command: str, gpus_per_shard: int = 0,
              console: Console | None = None) -> int:
    """Run `stepeval ARGV --shard I/N` for I in 0..N-1 at once; 0 when every shard exited 0, else 1."""
    console = console or Console(stderr=True)
    logs = Path(run_dir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    procs: list[tuple[Shard, subprocess.Popen, float, Path]] = []
    try:
        for i in range(shards):
            shard = Shard(i, shards)
            env = dict(os.environ)
            gpus = gpu_assignment(i, gpus_per_shard, visible)
            if gpus is not None:
                env["CUDA_VISIBLE_DEVICES"] = gpus
            log = logs / f"{command}.{shard.part}.log"
            with open(log, "w", encoding="utf-8") as out:
                # Each shard runs in its own process group, so a Ctrl-C here reaches it once, from us.
                proc = subprocess.Popen([sys.executable, "-m", "stepeval.cli.main", *shard_argv(argv, i, shards)],
                                        stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
            procs.append((shard, proc, time.perf_counter(), log))
        console.print(f"started {shards} shard(s) of `stepeval {command}`; logs in {logs}", highlight=False)
        outcomes = []
        for shard, proc, started, log in procs:
            code = proc.wait()
            outcomes.append(ShardOutcome(shard, code, time.perf_counter() - started, log))
    except BaseException:
        for _, proc, _, _ in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)  # a shard interrupted keeps what it wrote; rerun resumes
        for _, proc, _, _ in procs:
            proc.wait()
        raise
    report(outcomes, console, argv)
    return 0 if all(o.returncode == 0 for o in outcomes) else 1


def report(outcomes: list[ShardOutcome], console: Console, argv: list[str]) -> None:
    table = Table(title="shards")
    for col in ("shard", "exit code", "seconds", "log"):
        table.add_column(col)
    for o in outcomes:
        table.add_row(str(o.shard), str(o.returncode), f"{o.seconds:.1f}", str(o.log))
    console.print(table)
    failed = [o for o in outcomes if o.returncode != 0]
    for o in failed:
        try:
            tail = o.log.read_text(encoding="utf-8", errors="replace").splitlines()[-8:]
        except OSError:
            tail = []
        console.print(f"[red]shard {o.shard} exited {o.returncode}[/]; last lines of {o.log}:", highlight=False)
        for line in tail:
            console.print(f"  {line}", markup=False, highlight=False)
    if failed:
        again = " ".join(["stepeval", *shard_argv(argv, failed[0].shard.index, failed[0].shard.count)])
        console.print(f"rerun a failed shard alone to complete the run, e.g.: {again}", markup=False, highlight=False, soft_wrap=True)

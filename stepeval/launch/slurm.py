"""`--launcher slurm --shards N`: the N shards of a command as one SLURM job array, through submitit.

Each array task runs one shard: `stepeval ... --shard I/N` on its node, or, with more than one GPU
per node, a torchrun group of one process per GPU (across `nodes` nodes, rendezvous on the first
node of the task). Tasks are `submitit.helpers.Checkpointable`-style callables: when SLURM warns a
task of preemption or of its time limit (submitit asks for `--signal USR2@90`), submitit
resubmits the same call and requeues the task (`scontrol requeue`), and the shard resumes because
the work it already did is skipped. `max_requeues` bounds how often.

submitit keeps its job files and logs in `RUN/.slurm/` (or `launcher.logs`): the job script
(`*_submission.sh`), each task's pickled call and result, stdout and stderr.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from stepeval.errors import UserError
from stepeval.launch.argv import shard_argv

TORCHRUN_PORT = 29511


def time_minutes(text: str | None) -> int | None:
    """SLURM's time forms (`MM`, `HH:MM:SS`, `D-HH:MM`, ...) as whole minutes (submitit's `time`)."""
    if text is None:
        return None
    text = str(text).strip()
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if not m:
        raise UserError(f"invalid --time {text!r}", hint="write minutes (90), HH:MM:SS (01:30:00) or D-HH:MM (1-00:00)")
    days, a, b, c = (int(g) if g else None for g in m.groups())
    if days is None and b is None:  # MM
        minutes = a
    elif days is None and c is None:  # MM:SS
        minutes = a + (1 if b else 0)
    elif days is None:  # HH:MM:SS
        minutes = a * 60 + b + (1 if c else 0)
    else:  # D-HH[:MM[:SS]]
        minutes = days * 1440 + a * 60 + (b or 0) + (1 if c else 0)
    return max(1, minutes)


class ShardTask:
    """One array task: run shard `index` of `count` of the command `argv` (arguments after
    `stepeval`) and return its exit code. Picklable: submitit sends it to the node."""

    def __init__(self, argv: list[str], count: int, gpus_per_node: int = 0, nodes: int = 1, workdir: str | None = None):
        self.argv, self.count, self.gpus_per_node, self.nodes = list(argv), count, gpus_per_node, nodes
        self.workdir = workdir or os.getcwd()

    def command(self, index: int) -> list[str]:
        args = ["-m", "stepeval.cli.main", *shard_argv(self.argv, index, self.count)]
        if self.gpus_per_node <= 1 and self.nodes == 1:
            return [sys.executable, *args]
        group = ["--nproc_per_node", str(max(1, self.gpus_per_node))]
        if self.nodes == 1:
            group = ["--standalone", *group]
        else:
            import submitit

            env = submitit.JobEnvironment()
            group = [*group, "--nnodes", str(self.nodes), "--node_rank", str(env.node),
                     "--rdzv_backend", "c10d", "--rdzv_endpoint", f"{env.hostnames[0]}:{TORCHRUN_PORT}", "--rdzv_id", str(env.job_id)]
        return [sys.executable, "-m", "torch.distributed.run", *group, *args]

    def __call__(self, index: int) -> int:
        return subprocess.run(self.command(index), cwd=self.workdir).returncode


class RequeueingShardTask(ShardTask):
    """A ShardTask that submitit requeues on preemption or time-out: the same call again, which
    resumes the shard (what it made is skipped)."""

    def checkpoint(self, index: int):
        import submitit

        return submitit.helpers.DelayedSubmission(self, index)


def executor(launcher, folder: Path):
    """A submitit SlurmExecutor with the launcher's resources (`stepeval.runs.schema.LauncherConfig`)."""
    try:
        import submitit
    except ImportError as exc:
        raise UserError("--launcher slurm needs submitit", hint="pip install 'stepeval[slurm]' (or pip install submitit)") from exc
    ex = submitit.SlurmExecutor(folder=str(folder), max_num_timeout=launcher.max_requeues if launcher.requeue else 0)
    params: dict = {"nodes": launcher.nodes, "ntasks_per_node": 1, "job_name": "stepeval",
                    "array_parallelism": launcher.max_parallel or launcher.shards}
    if launcher.gpus_per_node:
        params["gpus_per_node"] = launcher.gpus_per_node
    for key in ("partition", "account", "qos", "cpus_per_task"):
        if getattr(launcher, key) is not None:
            params[key] = getattr(launcher, key)
    if launcher.time is not None:
        params["time"] = time_minutes(launcher.time)
    if launcher.mem_gb is not None:
        params["mem"] = f"{launcher.mem_gb:g}GB"
    # --requeue lets SLURM itself requeue a task its node lost or a preemption took; submitit requeues
    # the ones warned in time. Without requeue, neither.
    params["additional_parameters"] = {"requeue": True, **launcher.extra} if launcher.requeue else {"no-requeue": True, **launcher.extra}
    ex.update_parameters(**params)
    return ex


def submit(argv: list[str], launcher, *, run_dir: Path, wait: bool = False, console: Console | None = None) -> int:
    """Submit the shards as one job array; with `wait`, wait for every task and report its exit code."""
    console = console or Console(stderr=True)
    folder = Path(launcher.logs) if launcher.logs else Path(run_dir) / ".slurm"
    ex = executor(launcher, folder)
    cls = RequeueingShardTask if launcher.requeue else ShardTask
    task = cls(argv, launcher.shards, launcher.gpus_per_node, launcher.nodes)
    jobs = ex.map_array(task, list(range(launcher.shards)))
    array_id = jobs[0].job_id.split("_")[0] if jobs else "?"
    console.print(f"submitted job array {array_id}: {launcher.shards} task(s), one per shard; job files and logs in {folder}", highlight=False)
    console.print(f"follow it with `squeue -j {array_id}` and `stepeval status {run_dir}`", highlight=False)
    if not wait:
        return 0
    table = Table(title=f"shards (job array {array_id})")
    for col in ("shard", "job", "exit code", "log"):
        table.add_column(col)
    failed = []
    for i, job in enumerate(jobs):
        try:
            code = job.result()
        except Exception as exc:  # the task itself failed (submitit's error carries its traceback)
            code = f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        if code != 0:
            failed.append(i)
        table.add_row(f"{i}/{launcher.shards}", job.job_id, str(code), str(job.paths.stdout))
    console.print(table)
    if failed:
        again = " ".join(["stepeval", *shard_argv(argv, failed[0], launcher.shards)])
        console.print(f"rerun a failed shard alone to complete the run, e.g.: {again}", markup=False, highlight=False, soft_wrap=True)
    return 1 if failed else 0

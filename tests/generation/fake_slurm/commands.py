"""Stand-ins for SLURM's sbatch, srun, sacct, squeue, scancel and scontrol, for tests on machines
without SLURM: they record what is asked of them in $FAKE_SLURM_DIR and run a job array's tasks on
this machine, with the environment SLURM gives a task.

`sbatch` answers at once ("Submitted batch job N") and starts the tasks in the background, each once
submitit has put its pickled call in place, as a cluster would a little later. A task's id file
`$FAKE_SLURM_DIR/preempt` (a task id) makes that task receive SIGUSR2 (SLURM's warning of
preemption or of the time limit) once its shard has made a video; `scontrol requeue` then kills the task
and runs it again, as SLURM does.

Run as `python commands.py NAME ARGS...` (the test writes one small script per command on PATH).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

STATE = Path(os.environ["FAKE_SLURM_DIR"])


def _record(name: str, args: list[str]) -> None:
    with open(STATE / "calls.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"command": name, "args": args}) + "\n")


def sbatch(args: list[str]) -> int:
    script = Path(args[-1])
    text = script.read_text()
    job = 1000 + len(list(STATE.glob("job-*.sh")))
    (STATE / f"job-{job}.sh").write_text(text)
    subprocess.Popen([sys.executable, __file__, "_run_array", str(job)], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=open(STATE / f"runner-{job}.err", "w"))
    print(f"Submitted batch job {job}")
    return 0


def _flags(text: str) -> dict[str, str]:
    return dict(re.findall(r"^#SBATCH --([\w-]+)(?:=(.*))?$", text, re.M))


def _run_array(args: list[str]) -> int:
    job = args[0]
    script = STATE / f"job-{job}.sh"
    flags = _flags(script.read_text())
    first, last = map(int, flags["array"].split("%")[0].split("-"))
    folder = Path(flags["output"]).parent
    preempt = (STATE / "preempt").read_text().strip() if (STATE / "preempt").exists() else None
    tasks = {}
    for a in range(first, last + 1):
        while not (folder / f"{job}_{a}_submitted.pkl").exists():  # submitit moves it in place after sbatch returns
            time.sleep(0.05)
        tasks[a] = _start_task(job, a, script)
    if preempt is not None and int(preempt) in tasks:
        tasks[int(preempt)] = _preempt(job, int(preempt), tasks[int(preempt)], script)
    for a, proc in tasks.items():
        code = proc.wait()
        (STATE / f"state-{job}_{a}").write_text("COMPLETED" if code == 0 else "FAILED")
    return 0


def _start_task(job: str, a: int, script: Path) -> subprocess.Popen:
    runs = STATE / f"runs-{job}_{a}"
    runs.write_text(str(int(runs.read_text()) + 1 if runs.exists() else 1))
    (STATE / f"state-{job}_{a}").write_text("RUNNING")
    env = {**os.environ, "SLURM_JOB_ID": f"{job}{a:03d}", "SLURM_ARRAY_JOB_ID": job, "SLURM_ARRAY_TASK_ID": str(a),
           "SLURM_NTASKS": "1", "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0",
           "SLURM_JOB_NODELIST": "localhost", "SLURM_JOB_NUM_NODES": "1", "FAKE_SLURM_TASK": f"{job}_{a}"}
    return subprocess.Popen(["bash", str(script)], env=env, start_new_session=True)


def _preempt(job: str, a: int, proc: subprocess.Popen, script: Path) -> subprocess.Popen:
    """Warn the task (SIGUSR2 to its step, as --signal asks) once its shard holds its lock; when
    submitit asks for a requeue, kill the task and start it again."""
    pid_file = STATE / f"step-{job}_{a}.pid"
    count = _flags(script.read_text())["array"].split("%")[0].split("-")[1]
    part = Path(os.environ["FAKE_SLURM_RUN_DIR"]) / f"generations.part-{a}-of-{int(count) + 1}.parquet"
    deadline = time.monotonic() + 120
    while not (pid_file.exists() and part.exists()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # until the shard has made its first video
    os.kill(int(pid_file.read_text()), signal.SIGUSR2)
    requeued = STATE / f"requeued-{job}_{a}"
    deadline = time.monotonic() + 60
    while not requeued.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not requeued.exists():
        return proc
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return _start_task(job, a, script)


def srun(args: list[str]) -> int:
    out = err = None
    rest = list(args)
    while rest and rest[0].startswith("--"):
        opt = rest.pop(0)
        if opt in ("--output", "--error"):
            value = rest.pop(0)
            for k, v in (("%A", os.environ["SLURM_ARRAY_JOB_ID"]), ("%a", os.environ["SLURM_ARRAY_TASK_ID"]), ("%t", "0"),
                         ("%j", os.environ["SLURM_JOB_ID"])):
                value = value.replace(k, v)
            if opt == "--output":
                out = value
            else:
                err = value
    (STATE / f"step-{os.environ['FAKE_SLURM_TASK']}.pid").write_text(str(os.getpid()))
    fo = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND) if out else 1
    fe = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_APPEND) if err else fo
    os.dup2(fo, 1)
    os.dup2(fe, 2)
    os.execvp(rest[0], rest)  # the step's process is the task's command itself, as under SLURM
    return 127


def sacct(args: list[str]) -> int:
    print("JobID|State|NodeList")
    for f in sorted(STATE.glob("state-*")):
        print(f"{f.name[len('state-'):]}|{f.read_text()}|localhost")
    return 0


def scontrol(args: list[str]) -> int:
    if args[:1] == ["requeue"]:
        (STATE / f"requeued-{args[1]}").write_text("")
    return 0


def squeue(args: list[str]) -> int:
    print("JOBID PARTITION NAME USER ST TIME NODES NODELIST(REASON)")
    return 0


def scancel(args: list[str]) -> int:
    return 0


if __name__ == "__main__":
    name, *rest = sys.argv[1:]
    if name != "_run_array":
        _record(name, rest)
    sys.exit(globals()[name](rest))

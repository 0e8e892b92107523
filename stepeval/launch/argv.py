"""The command line of one shard: the launching command minus its launcher options, plus `--shard`."""

from __future__ import annotations

# Options that choose how shards are started; a shard itself takes none of them.
LAUNCHER_OPTIONS = ("--launcher", "--shards", "--gpus-per-shard", "--nodes", "--gpus-per-node", "--partition", "--time",
                    "--account", "--qos", "--cpus-per-task", "--mem-gb", "--max-parallel", "--slurm-logs", "--shard")


def strip_launcher_options(argv: list[str]) -> list[str]:
    """`argv` without the launcher options (each takes one value: `--opt V` or `--opt=V`) and
    without the launcher flags `--requeue`, `--no-requeue`, `--wait`."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in LAUNCHER_OPTIONS:
            skip = "=" not in arg
            continue
        if arg in ("--requeue", "--no-requeue", "--wait"):
            continue
        out.append(arg)
    return out


def shard_argv(argv: list[str], index: int, count: int) -> list[str]:
    """The arguments (after `stepeval`) that run shard `index` of `count` of the same command."""
    return [*strip_launcher_options(argv), "--shard", f"{index}/{count}"]

"""Starting the shards of a run (`stepeval.runs.shards`): `--launcher local` runs them as
subprocesses of this machine, `--launcher slurm` submits them as a SLURM job array.

A launcher only starts `stepeval ... --shard I/N` processes; everything a shard does (resume, part
files, locks) is the shard's own, so a launcher adds no state to the run and any shard it started
can be rerun by hand with the same command and `--shard I/N`.
"""

from __future__ import annotations

from stepeval.launch.argv import shard_argv, strip_launcher_options

__all__ = ["shard_argv", "strip_launcher_options"]

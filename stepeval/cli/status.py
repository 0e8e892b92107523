"""`stepeval status RUN`: how far a run is, per model and per shard, and what is left to do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
LEFT_SHOWN = 20


def status(
    run_dir: Annotated[Path, typer.Argument(help="The run directory.")],
    shards: Annotated[Optional[int], typer.Option("--shards", min=1, help="Count per shard of this split (default: the splits the run has used).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the progress as JSON (every video left, with its shard).")] = False,
) -> None:
    """Videos done / failed / left per model and per shard, scores per metric, what is left to do.

    Exit code 0 whatever the progress (a status is not a check)."""
    from stepeval.runs import Run
    from stepeval.runs.progress import run_progress, shard_counts_seen

    run = Run.open(run_dir)
    counts = sorted({*shard_counts_seen(run), shards}) if shards else None
    prog = run_progress(run, shard_counts=counts)
    if as_json:
        typer.echo(json.dumps(prog.to_dict(), indent=1, ensure_ascii=False))
        return
    table = Table(title=f"generation: {run.name}")
    for col in ("model", "done", "failed", "left", "total"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for tag, c in prog.models.items():
        table.add_row(escape(tag), str(c.done), str(c.failed), str(c.left), str(c.total))
    console.print(table)
    for n, per in prog.shards.items():
        st = Table(title=f"shards of {n}")
        for col in ("shard", "done", "failed", "left", "total"):
            st.add_column(col, justify="left" if col == "shard" else "right")
        for i, c in per.items():
            st.add_row(f"{i}/{n}", str(c.done), str(c.failed), str(c.left), str(c.total))
        console.print(st)
    for metric, per in prog.scores.items():
        mt = Table(title=f"scores: {metric} (of the videos done)")
        for col in ("model", "scored", "failed", "left"):
            mt.add_column(col, justify="left" if col == "model" else "right")
        for tag, c in per.items():
            mt.add_row(escape(tag), str(c.done), str(c.failed), str(c.left))
        console.print(mt)
    if prog.active:
        console.print(f"writing now: {', '.join(prog.active)}", highlight=False)
    if not prog.left:
        console.print(f"every video of the run is made or recorded as failed ({len(prog.failed)} failed)", highlight=False)
        return
    console.print(f"left to make: {len(prog.left)} video(s)", highlight=False)
    for tag, item_id, s in prog.left[:LEFT_SHOWN]:
        console.print(f"  {escape(tag)} {escape(item_id)}" + (f" #{s}" if s else ""), highlight=False)
    if len(prog.left) > LEFT_SHOWN:
        console.print(f"  ... and {len(prog.left) - LEFT_SHOWN} more (--json lists them all)", highlight=False)
    rerun = f"stepeval generate --config {run.root / 'run.yaml'}"
    for n, per in prog.shards.items():
        todo = [f"{i}/{n}" for i, c in per.items() if c.left]
        console.print(f"to finish the split into {n}: rerun shard(s) {', '.join(todo)}: {rerun} --shard I/{n}", highlight=False, soft_wrap=True)
    if not prog.shards:
        console.print(f"to finish: {rerun}", highlight=False, soft_wrap=True)

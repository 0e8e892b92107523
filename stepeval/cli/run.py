"""`stepeval run CONFIG.yaml`: generate -> score -> report in one resumable command, with an
optional regression check against a committed baseline."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from stepeval import pipeline_run
from stepeval.runs import Run

console = Console(stderr=True)

app = typer.Typer(
    help="Run a whole evaluation from one YAML config: generate every model, score, build the report.",
    pretty_exceptions_enable=False,
    context_settings={"allow_interspersed_args": True},
    subcommand_metavar="",
)


@app.callback(invoke_without_command=True)
def run(
    config: Annotated[Optional[str], typer.Argument(help="Config YAML, or the name of a shipped config (smoke, motion-sweep, step-video-ti2v-eval). Default: smoke.")] = None,
    run_dir: Annotated[Optional[Path], typer.Option("--run-dir", help="Run directory (default: the config's run_dir, else runs/<name>).")] = None,
    check_against: Annotated[Optional[Path], typer.Option("--check-against", help="Baseline JSON: fail (exit 1) when a metric moves beyond its stated tolerance.")] = None,
    write_baseline: Annotated[Optional[Path], typer.Option("--write-baseline", help="Write this run's metrics as a new baseline file (with the default tolerances).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
) -> None:
    """Generate, score and report everything the config names; rerun the same command to resume."""
    path = pipeline_run.resolve_config_path(config)
    started = time.perf_counter()
    console.print(f"config: {path}", highlight=False)
    result = pipeline_run.run_pipeline(path, console=console, run_dir=run_dir, show_progress=progress,
                                       command=" ".join(["stepeval", *sys.argv[1:]]))
    total = time.perf_counter() - started
    table = Table(title="wall time by stage", show_footer=True)
    table.add_column("stage", footer="total")
    table.add_column("seconds", justify="right", footer=f"{total:.1f}")
    for stage, seconds in result.stage_seconds.items():
        table.add_row(stage, f"{seconds:.1f}")
    console.print(table)
    run_obj = Run.open(result.run_dir)
    summary = pipeline_run.run_summary(run_obj)
    (result.run_dir / "metrics-summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    headline, described = pipeline_run.headline_table(summary)
    if headline is not None:
        table = Table(title=f"per model, mean over its videos: {described} (every metric: metrics-summary.json)")
        for col in headline.columns:
            table.add_column(col, justify="left" if col == "model" else "right", overflow="fold")
        for row in headline.itertuples(index=False):
            table.add_row(*(v if isinstance(v, str) else ("-" if v != v else f"{v:.3g}") for v in row))
        console.print(table)
    if write_baseline:
        pipeline_run.write_baseline(summary, write_baseline, pipeline_run.DEFAULT_TOLERANCES,
                                    note=f"written by `stepeval run {config or 'smoke'}`")
        console.print(f"baseline written: {write_baseline}", highlight=False)
    failed = False
    if check_against:
        check = pipeline_run.check_against(summary, check_against)
        table = Table(title=f"regression check against {check_against}")
        for col in ("metric", "baseline", "value", "allowed", "status"):
            table.add_column(col)
        for row in check["checked"]:
            if row["status"] != "ok":
                table.add_row(*(str(row[c]) for c in ("metric", "baseline", "value", "allowed", "status")))
        if check["failures"]:
            console.print(table)
        console.print(f"regression check: {len(check['checked']) - len(check['failures'])}/{len(check['checked'])} metrics within tolerance"
                      + ("" if check["ok"] else f"; [bold red]{len(check['failures'])} moved or missing[/]"))
        failed = not check["ok"]
    where = result.report or result.run_dir
    typer.echo(f"report: {where}")
    if failed:
        raise typer.Exit(1)

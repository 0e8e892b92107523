"""`stepeval report RUN`: build the report of a run (registered through the `stepeval.commands`
entry point, so stepeval itself never imports this package)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from reports.build import FORMATS, build_report
from stepeval.errors import UserError

console = Console(stderr=True)

app = typer.Typer(
    help="Build a run's report: Table 2 with statistics, leaderboard, VBench-I2V Table 3, HTML + CSV/JSON/Markdown/LaTeX.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # One command, written as a group callback so that `stepeval report RUN` needs no sub-command
    # name; options may then follow RUN as in any command.
    context_settings={"allow_interspersed_args": True},
    subcommand_metavar="",
)


def _formats(values: list[str] | None) -> tuple[str, ...]:
    if not values:
        return FORMATS
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip().lower()
            part = {"markdown": "md", "tex": "latex"}.get(part, part)
            if part == "all":
                out += FORMATS
            elif part:
                if part not in FORMATS:
                    raise UserError(f"unknown format {part!r}", hint=f"choose from {', '.join(FORMATS)} (or all)")
                out.append(part)
    return tuple(dict.fromkeys(out))


@app.callback(invoke_without_command=True)
def report(
    run: Annotated[Path, typer.Argument(help="Run directory (holds run.yaml, generations.parquet, scores.parquet).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder (default: RUN/report). Replaced atomically.")] = None,
    fmt: Annotated[Optional[list[str]], typer.Option("--format", "-f", help=f"Output formats, repeatable or comma-separated: {', '.join(FORMATS)} (default: all).")] = None,
    annotations: Annotated[Optional[str], typer.Option("--annotations", help="Judgments: exported .jsonl/.csv file, .sqlite store or SQLAlchemy URL (default: RUN/annotations.sqlite if present).")] = None,
    labels: Annotated[Optional[Path], typer.Option("--labels", help="Taxonomy label file (CSV item_id,category; or JSON/YAML) for the per-category breakdown.")] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples for every interval (0 = none).")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every bootstrap (recorded in the report).")] = 0,
    focal: Annotated[Optional[str], typer.Option("--focal", help="Model tag of Table 2's focal model (default: run.yaml report.focal; for one study its model A; else the first judged model).")] = None,
    auto: Annotated[bool, typer.Option("--auto/--no-auto", help="Add metric-derived pairwise judgments (a separate section, labelled AUTO).")] = True,
) -> None:
    """Build the report of RUN."""
    with console.status("building the report"):
        paths = build_report(run, out, formats=_formats(fmt), annotations=annotations, labels=labels,
                             bootstrap=bootstrap, seed=seed, focal=focal, auto=auto)
    for warning in paths.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    where = paths.index or paths.json or paths.out_dir
    typer.echo(f"report: {where} ({len(paths.files)} files)")

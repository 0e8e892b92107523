"""`stepeval report RUN`: build the report of a run (registered through the `stepeval.commands`
entry point, so stepeval itself never imports this package)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from reports.build import FORMATS, build_report
from reports.media import MEDIA_MODES
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
    focal: Annotated[Optional[str], typer.Option("--focal", help="Model tag of Table 2's focal model (default: run.yaml report.focal; when every study has the same model A, that model; else the run's first judged model).")] = None,
    auto: Annotated[bool, typer.Option("--auto/--no-auto", help="Add metric-derived pairwise judgments (a separate section, labelled AUTO).")] = True,
    published: Annotated[Optional[list[str]], typer.Option("--published", help="Show a published column beside the run's, marked as published: NAME or NAME:COLUMN (repeatable; `stepeval published list`).")] = None,
    published_path: Annotated[Optional[list[Path]], typer.Option("--published-path", help="A reference-results file or folder of your own (repeatable; docs/published-results.md).")] = None,
    compare_published: Annotated[Optional[list[str]], typer.Option("--compare-published", help="Compare the run with a published column per dimension: NAME:COLUMN or NAME:COLUMN=MODEL_TAG (repeatable).")] = None,
    table2_columns: Annotated[Optional[list[str]], typer.Option("--table2-columns", help="Table 2's opponents in this order, comma-separated or repeated (default: run.yaml report.table2_columns, else the run's model order).")] = None,
    media: Annotated[str, typer.Option("--media", help="The gallery's videos: preview (small copies made for the report, cached; the folder is self-contained and portable), link (relative links to the run's own files) or none.")] = "preview",
    media_workers: Annotated[Optional[int], typer.Option("--media-workers", min=1, help="Processes encoding previews (default: one per CPU).")] = None,
) -> None:
    """Build the report of RUN."""
    if media not in MEDIA_MODES:
        raise UserError(f"unknown --media {media!r}", hint=f"choose one of {', '.join(MEDIA_MODES)}")
    with console.status("building the report") as status:
        def progress(done: int, total: int) -> None:
            status.update(f"building the report: gallery media {done}/{total}")

        paths = build_report(run, out, formats=_formats(fmt), annotations=annotations, labels=labels,
                             bootstrap=bootstrap, seed=seed, focal=focal, auto=auto, published=published or (),
                             published_paths=[str(p) for p in published_path or ()],
                             compare_published=compare_published or (), table2_columns=table2_columns or (), media=media, media_workers=media_workers,
                             media_progress=progress)
    for warning in paths.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    where = paths.index or paths.json or paths.out_dir
    if paths.gallery is not None and paths.media.get("mode") == "preview":
        typer.echo(f"gallery: {paths.gallery} ({paths.media['encoded']} media made, {paths.media['cached']} from the cache)")
    elif paths.gallery is not None:
        typer.echo(f"gallery: {paths.gallery} (media: {paths.media.get('mode')})")
    typer.echo(f"report: {where} ({len(paths.files)} files)")

"""`stepeval score RUN --metrics vbench-i2v[:dims] motion`: score a run's videos into scores.parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from stepeval.cli.options import Ids
from stepeval.errors import UserError

console = Console()
METRICS_HELP = (
    "Metrics to compute: `motion`, `vbench-i2v` (all nine dimensions) or `vbench-i2v:DIM,DIM` (`vbench-i2v:ci` = the six "
    "CI dimensions). Repeat the option or list them after it: --metrics vbench-i2v:dynamic_degree motion."
)


def _split_metrics(values: list[str]) -> list[tuple[str, str | None]]:
    out = []
    for value in values:
        name, _, arg = value.partition(":")
        if name not in ("motion", "vbench-i2v"):
            raise UserError(f"unknown metric {value!r}", hint="use motion, vbench-i2v or vbench-i2v:DIM,DIM")
        out.append((name, arg or None))
    return out


def _ids(ids: str | None) -> list[str] | None:
    if not ids:
        return None
    from stepeval.benchmark.subsets import read_ids_file

    return read_ids_file(Path(ids[1:])) if ids.startswith("@") else [i.strip() for i in ids.split(",") if i.strip()]


def score(
    run_dir: Annotated[Path, typer.Argument(help="The run directory (holds run.yaml, videos/, generations.parquet).")],
    more: Annotated[Optional[list[str]], typer.Argument(help="More metrics (same forms as --metrics).", show_default=False)] = None,
    metrics: Annotated[Optional[list[str]], typer.Option("--metrics", "-m", help=METRICS_HELP)] = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", help="Score only this model tag. Repeatable.")] = None,
    ids: Ids = None,
    rescore: Annotated[bool, typer.Option("--rescore", help="Recompute scores that are already there.")] = False,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Motion score: worker processes (0 = in this process).")] = 0,
    motion_every: Annotated[int, typer.Option("--motion-every", min=1, help="Motion score: sampling interval in frames.")] = 12,
    motion_short_side: Annotated[int, typer.Option("--motion-short-side", min=16, help="Motion score: working short side in pixels.")] = 256,
    motion_top_fraction: Annotated[float, typer.Option("--motion-top-fraction", min=1e-6, max=1.0, help="Motion score: fraction of largest flow magnitudes averaged.")] = 0.1,
    device: Annotated[str, typer.Option("--device", help="VBench: cpu, cuda, cuda:0,cuda:1 (one process per GPU) or auto.")] = "auto",
    vbench_env: Annotated[Optional[Path], typer.Option("--vbench-env", help="VBench environment (default: where `stepeval vbench setup` put it).")] = None,
    vbench_cache: Annotated[Optional[Path], typer.Option("--vbench-cache", envvar="VBENCH_CACHE_DIR", help="VBench weight folder.")] = None,
    torch_home: Annotated[Optional[Path], typer.Option("--torch-home", envvar="TORCH_HOME", help="torch.hub root for VBench's hub models.")] = None,
    benchmark: Annotated[Optional[Path], typer.Option("--benchmark", help="Benchmark folder with the input images (default: the one in run.yaml).")] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, help="VBench: CPU threads per process.")] = None,
) -> None:
    """Score a run's generated videos; resumable (already scored videos are skipped).

    Exit code 0 when every video was scored, 1 when some failed (their errors are recorded in
    scores.parquet and listed here), 2 when a metric could not run at all (e.g. no VBench environment).
    """
    from stepeval.metrics import motion as motion_metric
    from stepeval.metrics import vbench_i2v
    from stepeval.runs import Run
    from stepeval.runs.lock import exclusive_lock

    chosen = _split_metrics(list(metrics or []) + list(more or []))
    if not chosen:
        raise UserError("no metric chosen", hint="add --metrics motion and/or --metrics vbench-i2v")
    run = Run.open(run_dir)
    item_ids = _ids(ids)
    failed_any = False
    fatal: list[str] = []
    summary = Table(title=f"scores for {run.name}")
    for col in ("metric", "scored", "failed", "excluded", "skipped"):
        summary.add_column(col, justify="left" if col == "metric" else "right")
    with exclusive_lock(run.root / ".score.lock", what="run's scoring"):
        for name, arg in chosen:
            try:
                if name == "motion":
                    settings = motion_metric.MotionSettings(every=motion_every, short_side=motion_short_side, top_fraction=motion_top_fraction)
                    with Progress(TextColumn("[bold]motion score"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
                        task = progress.add_task("motion", total=None)
                        rep = motion_metric.score_run_motion(run, model_tags=model, item_ids=item_ids, settings=settings, workers=workers,
                                                             rescore=rescore, on_progress=lambda done, total: progress.update(task, completed=done, total=total))
                    summary.add_row("motion_score", str(rep.scored), str(rep.failed), "0", str(rep.skipped))
                    for tag, item, sample, err in rep.errors[:10]:
                        console.print(f"[red]failed[/] motion_score {escape(tag)} {escape(item)}#{sample}: {escape(err)}", soft_wrap=True)
                    failed_any |= rep.failed > 0
                else:
                    dims = vbench_i2v.parse_dimensions(arg)
                    rep = vbench_i2v.score_run_vbench(run, dims, env_path=vbench_env, devices=device, cache_dir=vbench_cache, torch_home=torch_home,
                                                      benchmark=benchmark, model_tags=model, item_ids=item_ids, rescore=rescore, threads=threads,
                                                      log=lambda msg: console.print(msg, soft_wrap=True))
                    for dim in dims:
                        summary.add_row(vbench_i2v.metric_name(dim), str(rep.scored.get(dim, 0)), str(rep.failed.get(dim, 0)),
                                        str(rep.excluded.get(dim, 0)), str(rep.skipped.get(dim, 0)))
                    for tag, item, sample, dim, err in rep.errors[:10]:
                        console.print(f"[red]failed[/] {dim} {escape(tag)} {escape(item)}#{sample}: {escape(err)}", soft_wrap=True)
                    if len(rep.errors) > 10:
                        console.print(f"... and {len(rep.errors) - 10} more failures (see the error column of scores.parquet)")
                    failed_any |= bool(rep.errors)
            except UserError as exc:
                # One metric that cannot run (no VBench environment) must not stop the others.
                console.print(f"[bold red]error[/] ({name}): {escape(str(exc))}", soft_wrap=True)
                fatal.append(str(exc))
    console.print(summary)
    if fatal:
        raise UserError(f"{len(fatal)} metric(s) could not run: " + " / ".join(m.split(chr(10))[0] for m in fatal),
                        hint="see the messages above; the other metrics were scored")
    if failed_any:
        raise typer.Exit(1)

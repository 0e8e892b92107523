"""`stepeval score RUN --metrics NAME[:SELECTOR] ...`: score a run's videos into scores.parquet.

Metrics come from the metric registry (entry-point group `stepeval.metrics`), under the one name
they have everywhere; `stepeval score --list-metrics` lists what is installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from stepeval.cli.launch_options import (
    GpusPerNodeOpt, GpusPerShardOpt, LauncherOpt, NodesOpt, PartitionOpt, RequeueOpt, ShardOpt, ShardsOpt, TimeOpt, WaitOpt,
    launcher_section, start_shards,
)
from stepeval.cli.options import Ids
from stepeval.errors import UserError

console = Console()
err_console = Console(stderr=True)
METRICS_HELP = (
    "Metrics to compute (see --list-metrics): motion_score, synthetic, vbench_i2v (all nine dimensions) or "
    "vbench_i2v:DIM,DIM (vbench_i2v:ci = what CI runs: all nine), vbench_t2v (VBench's text-to-video dimensions: "
    "the six custom-input ones on any text-only run, all 16 on VBench's standard prompt suite). Repeat the option or list them after it: "
    "--metrics vbench_i2v:dynamic_degree motion_score. The older spellings motion and vbench-i2v still work."
)
SET_HELP = "METRIC.KEY=VALUE: a setting of a chosen metric (repeatable); --list-metrics shows each metric's settings."
MAX_ERRORS_SHOWN = 10


def _list_metrics(value: bool) -> None:
    if not value:
        return
    from stepeval.metrics import registry

    # Piped output has no screen to fit: keep the column names whole rather than folded.
    out = console if console.is_terminal else Console(width=160)
    table = Table(title=f"metrics (entry-point group {registry.GROUP})", show_lines=True)
    table.add_column("name", no_wrap=True)
    table.add_column("writes (scores.parquet metric)", no_wrap=True)
    table.add_column("needs")
    table.add_column("description")
    for name in registry.available():
        try:
            metric = registry.get(name)
        except UserError as exc:
            table.add_row(escape(name), "-", "-", escape(str(exc)))
            continue
        better = {True: "higher is better", False: "lower is better", None: "a measurement: neither higher nor lower is better"}[metric.higher_is_better]
        settings = ", ".join(metric.settings) or "(none)"
        table.add_row(escape(name), escape("\n".join(metric.columns) or "-"), escape(metric.needs()),
                      escape(f"{metric.description}\n{better}; settings: {settings}"))
    out.print(table)
    aliases = ", ".join(f"{old} -> {new}" for old, new in registry.DEPRECATED_ALIASES.items())
    out.print(f"deprecated names, still read: {escape(aliases)}", highlight=False)
    raise typer.Exit()


def _ids(ids: str | None) -> list[str] | None:
    if not ids:
        return None
    from stepeval.benchmark.subsets import read_ids_file

    return read_ids_file(Path(ids[1:])) if ids.startswith("@") else [i.strip() for i in ids.split(",") if i.strip()]


def _parse_sets(values: list[str]) -> dict[str, dict[str, Any]]:
    """`motion_score.every=6` -> {"motion_score": {"every": 6}} (metric names may be old spellings)."""
    from stepeval.generation.tags import parse_value
    from stepeval.metrics import registry

    out: dict[str, dict[str, Any]] = {}
    for text in values:
        target, eq, value = text.partition("=")
        metric, dot, key = target.strip().partition(".")
        if not eq or not dot or not metric or not key.strip():
            raise UserError(f"bad --set {text!r}: expected METRIC.KEY=VALUE", hint="e.g. --set motion_score.every=6")
        out.setdefault(registry.canonical_name(metric), {})[key.strip()] = parse_value(value.strip())
    return out


class _Bar:
    """A progress bar that appears on a metric's first progress report (some only log)."""

    def __init__(self, label: str):
        self.label = label
        self.progress: Progress | None = None
        self.task = None

    def __call__(self, done: int, total: int) -> None:
        if self.progress is None:
            self.progress = Progress(TextColumn(f"[bold]{escape(self.label)}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                     console=console)
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total)
        self.progress.update(self.task, completed=done, total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def score(
    run_dir: Annotated[Path, typer.Argument(help="The run directory (holds run.yaml, videos/, generations.parquet).")],
    more: Annotated[Optional[list[str]], typer.Argument(help="More metrics (same forms as --metrics).", show_default=False)] = None,
    metrics: Annotated[Optional[list[str]], typer.Option("--metrics", "-m", help=METRICS_HELP)] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help=SET_HELP)] = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", help="Score only this model tag. Repeatable.")] = None,
    ids: Ids = None,
    rescore: Annotated[bool, typer.Option("--rescore", help="Recompute scores that are already there.")] = False,
    workers: Annotated[int, typer.Option("--workers", min=0, help="motion_score: worker processes (0 = in this process).")] = 0,
    motion_every: Annotated[int, typer.Option("--motion-every", min=1, help="motion_score: sampling interval in frames.")] = 12,
    motion_short_side: Annotated[int, typer.Option("--motion-short-side", min=16, help="motion_score: working short side in pixels.")] = 256,
    motion_top_fraction: Annotated[float, typer.Option("--motion-top-fraction", min=1e-6, max=1.0, help="motion_score: fraction of largest flow magnitudes averaged.")] = 0.1,
    device: Annotated[str, typer.Option("--device", help="vbench_i2v, vbench_t2v: cpu, cuda, cuda:0,cuda:1 (one process per GPU) or auto.")] = "auto",
    vbench_env: Annotated[Optional[Path], typer.Option("--vbench-env", help="vbench_i2v, vbench_t2v: the VBench environment (default: where `stepeval vbench setup` put it).")] = None,
    vbench_cache: Annotated[Optional[Path], typer.Option("--vbench-cache", envvar="VBENCH_CACHE_DIR", help="vbench_i2v, vbench_t2v: VBench weight folder.")] = None,
    torch_home: Annotated[Optional[Path], typer.Option("--torch-home", envvar="TORCH_HOME", help="vbench_i2v, vbench_t2v: torch.hub root for VBench's hub models.")] = None,
    benchmark: Annotated[Optional[Path], typer.Option("--benchmark", help="Benchmark folder for the metrics that read it (default: the one in run.yaml).")] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, help="vbench_i2v, vbench_t2v: CPU threads per process.")] = None,
    shard: ShardOpt = None,
    launcher: LauncherOpt = None,
    shards: ShardsOpt = None,
    gpus_per_shard: GpusPerShardOpt = None,
    nodes: NodesOpt = None,
    gpus_per_node: GpusPerNodeOpt = None,
    partition: PartitionOpt = None,
    time_limit: TimeOpt = None,
    requeue: RequeueOpt = None,
    wait: WaitOpt = False,
    list_metrics: Annotated[bool, typer.Option("--list-metrics", callback=_list_metrics, is_eager=True, help="List the installed metrics and exit.")] = False,
) -> None:
    """Score a run's generated videos; resumable (already scored videos are skipped).

    Exit code 0 when every video was scored, 1 when some failed (their errors are recorded in
    scores.parquet and listed here), 2 when a metric could not run at all (e.g. no VBench environment).
    """
    from stepeval.metrics import registry
    from stepeval.runs import Run, Shard

    run = Run.open(run_dir, Shard.parse(shard))
    # The run's own tables are read once up front: a damaged one is one message, before any work.
    run.generations.read()
    run.scores.read()
    specs = [registry.parse_spec(v) for v in list(metrics or []) + list(more or [])]
    if not specs:
        raise UserError("no metric chosen", hint="add --metrics NAME (`stepeval score --list-metrics` lists them)")
    for spec in specs:
        if spec.note:
            err_console.print(f"[yellow]note:[/] {escape(spec.note)}", soft_wrap=True)
    sets = _parse_sets(list(set_ or []))
    chosen = {s.name for s in specs}
    stray = sorted(set(sets) - chosen)
    if stray:
        raise UserError(f"--set names metric(s) not chosen: {', '.join(stray)}", hint=f"the chosen metrics are {', '.join(sorted(chosen))}")
    # The dedicated options fill the settings of the metrics they are named after; --set wins over them.
    from_options: dict[str, dict[str, Any]] = {
        "motion_score": {"every": motion_every, "short_side": motion_short_side, "top_fraction": motion_top_fraction, "workers": workers},
        "vbench_i2v": {"devices": device, "env_path": vbench_env, "cache_dir": vbench_cache, "torch_home": torch_home, "threads": threads},
        "vbench_t2v": {"devices": device, "env_path": vbench_env, "cache_dir": vbench_cache, "torch_home": torch_home, "threads": threads},
    }
    # Every setting is checked before anything is scored, so a typo costs nothing.
    jobs = []
    for spec in specs:
        metric = registry.get(spec.name)
        settings = {k: v for k, v in from_options.get(spec.name, {}).items() if v is not None and k in metric.settings}
        if benchmark is not None and "benchmark" in metric.settings:
            settings["benchmark"] = str(benchmark)
        settings.update(spec.settings)
        settings.update(sets.get(spec.name, {}))
        jobs.append((spec.name, registry.check_settings(metric, settings)))

    launch = launcher_section(None, kind=launcher, shards=shards, gpus_per_shard=gpus_per_shard, nodes=nodes,
                              gpus_per_node=gpus_per_node, partition=partition, time=time_limit, requeue=requeue)
    if shard is None and launch:
        from stepeval.runs.schema import LauncherConfig, describe_errors

        try:
            chosen = LauncherConfig.model_validate(launch)
        except ValidationError as exc:
            raise UserError("invalid launcher options: " + "; ".join(describe_errors(exc, LauncherConfig))) from None
        raise typer.Exit(start_shards(chosen, run.root, "score", err_console, wait=wait))
    if run.writer_active():
        err_console.print("[yellow]note:[/] videos are still being generated into this run: scoring the ones that exist now; "
                          "run the same command again when generation has finished to score the rest", soft_wrap=True)
    item_ids = _ids(ids)
    failed_any = False
    fatal: list[str] = []
    summary = Table(title=f"scores for {run.name}")
    for col in ("metric", "scored", "failed", "excluded", "skipped"):
        summary.add_column(col, justify="left" if col == "metric" else "right")
    with run.score_lock():
        for name, settings in jobs:
            bar = _Bar(name)
            try:
                rep = registry.score(name, run, settings=settings, model_tags=model, item_ids=item_ids, rescore=rescore,
                                     log=lambda msg: console.print(msg, soft_wrap=True), progress=bar)
            except UserError as exc:
                # One metric that cannot run (no VBench environment) must not stop the others.
                console.print(f"[bold red]error[/] ({name}): {escape(str(exc))}", soft_wrap=True)
                fatal.append(str(exc))
                continue
            finally:
                bar.close()
            for column, counts in (rep.columns or {name: rep.counts()}).items():
                summary.add_row(escape(column), *(str(counts.get(k, 0)) for k in ("scored", "failed", "excluded", "skipped")))
            for err in rep.errors[:MAX_ERRORS_SHOWN]:
                console.print(f"[red]failed[/] {escape(err.column)} {escape(err.model_tag)} {escape(err.item_id)}#{err.sample}: {escape(err.error)}",
                              soft_wrap=True)
            if len(rep.errors) > MAX_ERRORS_SHOWN:
                console.print(f"... and {len(rep.errors) - MAX_ERRORS_SHOWN} more failures (see the error column of scores.parquet)")
            failed_any |= rep.failed > 0 or bool(rep.errors)
    console.print(summary)
    if fatal:
        raise UserError(f"{len(fatal)} metric(s) could not run: " + " / ".join(m.split(chr(10))[0] for m in fatal),
                        hint="see the messages above; the other metrics were scored")
    if failed_any:
        raise typer.Exit(1)

"""`stepeval generate`: make (or import) the videos of a run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from stepeval.cli.launch_options import (
    GpusPerNodeOpt, GpusPerShardOpt, LauncherOpt, NodesOpt, PartitionOpt, RequeueOpt, ShardOpt, ShardsOpt, TimeOpt, WaitOpt,
    launcher_section, start_shards,
)
from stepeval.cli.options import Aspect, Domain, Ids, Kind, PresentOnly, Sample, build_subset
from stepeval.errors import UserError

console = Console(stderr=True)

HELP = """Generate the videos of a run: benchmark subset x model settings x samples.

\b
  stepeval generate BENCHMARK --model static --model camera --sample 24
  stepeval generate BENCHMARK --model stepvideo-ti2v --set motion_score=2,5,10,20
  stepeval generate --config run.yaml
  stepeval generate import BENCHMARK FOLDER --engine kling-1.6 --mapping map.csv
  torchrun --nproc_per_node 8 -m stepeval.cli.main generate --config run.yaml

Videos land in RUN_DIR/videos/<model_tag>/<item_id>.mp4, one row per attempt in RUN_DIR/generations.parquet, and a VBench custom-input view in RUN_DIR/vbench/. Rerun the same command to resume: only missing videos are made (failed ones too with --retry-failed). `stepeval generate BENCHMARK ...` is short for `stepeval generate run BENCHMARK ...`; see `stepeval generate run --help` for every option.
"""


class _DefaultToRun(TyperGroup):
    """`stepeval generate ARGS` means `stepeval generate run ARGS` unless ARGS names a sub-command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_DefaultToRun, help=HELP, no_args_is_help=True, rich_markup_mode=None)

ModelOpt = Annotated[Optional[list[str]], typer.Option("--model", "-m", help="Generator name (repeatable); see --list-models.")]
SetOpt = Annotated[
    Optional[list[str]],
    typer.Option("--set", help="KEY=VALUE or KEY=V1,V2,...: a parameter of every --model; several values sweep (one model tag per value; several --set make the product)."),
]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML with benchmark, subset, models: [{name, params, tag, sweep}], seed, num_samples, run_dir. Flags given too override it.")]
RunDirOpt = Annotated[Optional[Path], typer.Option("--run-dir", "--out", help="Run directory. Default: runs/<--name>.")]
NameOpt = Annotated[Optional[str], typer.Option("--name", help="Run name (default: the benchmark's name); the run lives in runs/<name>.")]


def _list_models(value: bool) -> None:
    if not value:
        return
    from stepeval.generation import registry

    table = Table(title="generators (entry-point group stepeval.generators)",
                  caption="sweepable: parameters a --set sweep varies per request, on one loaded model; any other parameter loads the model once per value")
    for col in ("name", "native sizes (HxW)", "frames", "fps", "sweepable", "notes", "tasks"):
        table.add_column(col)
    for name in registry.available():
        try:
            caps = registry.capabilities(name)
        except UserError as exc:
            table.add_row(escape(name), "-", "-", "-", "-", escape(str(exc)), "-")
            continue
        sizes = ", ".join(f"{h}x{w}" for h, w in caps.sizes) or "any"
        fps = f"{caps.fps:g}" if caps.fps else "any"
        sweepable = ", ".join(sorted(caps.request_params)) or "-"
        table.add_row(escape(name), sizes, ", ".join(map(str, caps.frame_counts)) or "any", fps, escape(sweepable), escape(caps.notes), ", ".join(sorted(caps.tasks)))
    Console().print(table)
    raise typer.Exit()


def _command_line() -> str:
    return " ".join(["stepeval", *sys.argv[1:]])


@app.command("run", help="Generate every missing video (the default sub-command).", no_args_is_help=True)
def run_cmd(
    benchmark: Annotated[Optional[Path], typer.Argument(help="Benchmark folder (or `benchmark:` in --config).", show_default=False)] = None,
    model: ModelOpt = None,
    set_: SetOpt = None,
    tag: Annotated[Optional[str], typer.Option("--tag", help="Name the model setting yourself, e.g. when a parameter is a path; with a --set sweep, each tag is NAME@key=value.")] = None,
    config: ConfigOpt = None,
    run_dir: RunDirOpt = None,
    name: NameOpt = None,
    kind: Annotated[Optional[str], typer.Option("--kind", help="Benchmark layout: auto, step-video-ti2v-eval, step-video-t2v-eval, vbench-i2v, vbench-t2v, folder.")] = None,
    task: Annotated[Optional[str], typer.Option("--task", help="auto (the benchmark's), t2v (prompts alone, images unused) or ti2v (an image per item; a text-only benchmark also needs --placeholder-images). Set it to run a model on the other kind of benchmark on purpose.")] = None,
    domain: Domain = None,
    aspect: Aspect = None,
    ids: Ids = None,
    sample: Sample = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Run seed: every video's seed derives from (seed, item id, sample); also seeds --sample. Default 0.")] = None,
    present_only: PresentOnly = False,
    num_samples: Annotated[Optional[int], typer.Option("--num-samples", "-k", min=1, help="Videos per pair (VBench uses 5).")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Also redo videos whose last attempt failed or was refused.")] = False,
    device: Annotated[Optional[str], typer.Option("--device", help="auto (CUDA when present, one GPU per torchrun rank), cpu, cuda, cuda:1.")] = None,
    placeholder_images: Annotated[bool, typer.Option("--placeholder-images", help="Items without a local image get a deterministic placeholder image (for dry runs; off: they are skipped and reported).")] = False,
    sp_degree: Annotated[Optional[int], typer.Option("--sp-degree", min=1, help="Ranks per sequence-parallel group (they make each video together).")] = None,
    vbench_view: Annotated[Optional[bool], typer.Option("--vbench-view/--no-vbench-view", help="Write RUN_DIR/vbench/, a VBench custom-input view of the videos.")] = None,
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
    list_models: Annotated[bool, typer.Option("--list-models", callback=_list_models, is_eager=True, help="List the installed generators and exit.")] = False,
) -> None:
    """Generate every missing video of a run, resumably."""
    from stepeval.generation.runner import GenerateConfig, exit_code, generate_run
    from stepeval.generation.tags import expand_sweeps

    from stepeval.runs.schema import read_config_file, validate_config

    data: dict = read_config_file(config) if config else {}
    if benchmark is not None:
        data["benchmark"] = {"path": str(benchmark)}
    if "benchmark" not in data:
        raise UserError("no benchmark given", hint="pass BENCHMARK (a folder) or --config FILE.yaml with `benchmark:`")
    if model:
        data["models"] = [s.to_dict() for m in model for s in expand_sweeps(m, list(set_ or []), tag=tag)]
    elif set_ or tag:
        raise UserError("--set and --tag apply to --model, and no --model was given", hint="add --model NAME (or put params in the config's models list)")
    if not data.get("models"):
        raise UserError("no model given", hint="add --model NAME (see --list-models) or a `models:` list in the config")
    cli_subset = build_subset(domain, aspect, ids, sample, seed or 0, present_only)
    if not cli_subset.is_all:
        data["subset"] = cli_subset.to_dict()
    for key, value in (("run_dir", run_dir), ("name", name), ("kind", kind), ("seed", seed), ("num_samples", num_samples),
                       ("device", device), ("sp_degree", sp_degree), ("vbench_view", vbench_view), ("shard", shard), ("task", task)):  # fmt: skip
        if value is not None:
            data[key] = str(value) if isinstance(value, Path) else value
    if retry_failed:
        data["retry_failed"] = True
    if placeholder_images:
        data["placeholder_images"] = True
    launch = launcher_section(data.get("launcher"), kind=launcher, shards=shards, gpus_per_shard=gpus_per_shard, nodes=nodes,
                              gpus_per_node=gpus_per_node, partition=partition, time=time_limit, requeue=requeue)
    if launch:
        data["launcher"] = launch
    where = config or "command line"
    run_config = validate_config(data, where=where)
    cfg = GenerateConfig.from_config(run_config, where=where, config_file=config)
    if run_config.launcher is not None and cfg.shard is None:
        # A shard given explicitly is the work itself (the launcher's own shards get one), never a launch.
        from stepeval.benchmark import load_benchmark

        root = cfg.resolve_run_dir(load_benchmark(cfg.benchmark, cfg.kind, subset=cfg.subset, verify=False).name)
        raise typer.Exit(start_shards(run_config.launcher, root, "generate", console, wait=wait))
    summary = generate_run(cfg, console=console, command=_command_line())
    raise typer.Exit(exit_code(summary))


def _parse_settings(values: list[str] | None) -> dict:
    from stepeval.generation.tags import parse_value

    out = {}
    for v in values or []:
        if "=" not in v:
            raise UserError(f"bad --setting {v!r}: expected KEY=VALUE", hint="e.g. --setting resolution=720p")
        k, _, val = v.partition("=")
        out[k.strip()] = parse_value(val.strip())
    return out


@app.command("import", no_args_is_help=True)
def import_cmd(
    benchmark: Annotated[Path, typer.Argument(help="Benchmark folder the videos belong to.", show_default=False)],
    folder: Annotated[Path, typer.Argument(help="Folder with the videos (FOLDER/<item_id>.mp4 unless --mapping says otherwise).", show_default=False)],
    engine: Annotated[str, typer.Option("--engine", help="Engine or model that made the videos (provenance; the default tag).")],
    mapping: Annotated[Optional[Path], typer.Option("--mapping", help="CSV (item_id,file[,sample,status,note]) or JSON/YAML mapping item ids to files; status `refused` records a refusal.")] = None,
    tag: Annotated[Optional[str], typer.Option("--tag", help="Model tag in the run (default: --engine).")] = None,
    date: Annotated[Optional[str], typer.Option("--date", help="When the videos were made (provenance), e.g. 2025-03-01.")] = None,
    setting: Annotated[Optional[list[str]], typer.Option("--setting", help="KEY=VALUE the engine was run with (provenance, repeatable).")] = None,
    run_dir: RunDirOpt = None,
    name: NameOpt = None,
    kind: Kind = "auto",
    domain: Domain = None,
    aspect: Aspect = None,
    ids: Ids = None,
    sample: Sample = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for --sample.")] = 0,
    num_samples: Annotated[int, typer.Option("--num-samples", "-k", min=1, help="Videos per pair.")] = 1,
    force: Annotated[bool, typer.Option("--force", help="Re-import videos already imported.")] = False,
) -> None:
    """Register videos made elsewhere (a commercial engine) with provenance; validates every file.

    Corrupt files are recorded as failed, items without a file are reported as missing, refusals are
    recorded as refusals; the rest is imported. Exit code 1 when anything failed or is missing."""
    from stepeval.benchmark import load_benchmark
    from stepeval.generation.external_import import discover, import_videos, read_mapping
    from stepeval.generation.tags import model_tag
    from stepeval.runs import Run

    if not folder.is_dir():
        raise UserError("video folder not found", path=folder, hint="pass the folder holding the videos")
    subset = build_subset(domain, aspect, ids, sample, seed, False)
    loaded = load_benchmark(benchmark, kind, subset=subset, verify=False)
    tag = model_tag(tag or engine, {})
    root = run_dir or Path("runs") / (name or loaded.name)
    settings = _parse_settings(setting)
    mapped = read_mapping(mapping, folder) if mapping else discover(folder, loaded.ids, num_samples)
    # The run's items: the whole subset when one was asked for, else the items the folder covers.
    covered = {m.item_id for m in mapped} & set(loaded.ids) if subset.is_all else set(loaded.ids)
    given = {"benchmark": {"path": str(benchmark), "kind": kind, "name": loaded.name}}
    if not subset.is_all and not (root / "run.yaml").exists():
        # An import into an existing run adds its items but keeps the subset generation recorded.
        given["subset"] = subset.to_dict()
    run = Run.create(root, given,
                     command=_command_line(), items=sorted(covered),
                     imports={tag: {"engine": engine, "date": date, "settings": settings, "folder": str(folder.resolve())}})  # fmt: skip
    with run.lock():
        report = import_videos(run, loaded.items, mapped, tag=tag, engine=engine, date=date, settings=settings, num_samples=num_samples, force=force)
    console.print(
        f"{tag}: imported {len(report.imported)} ({len(report.reencoded)} re-encoded), refused {len(report.refused)}, "
        f"failed {len(report.failed)}, missing {len(report.missing)}, already imported {len(report.already_done)}",
        highlight=False,
    )
    for label, err in sorted(report.failed.items()):
        console.print(f"  [red]failed[/] {escape(label)}: {escape(err)}", soft_wrap=True)
    if report.missing:
        console.print(f"  [yellow]missing[/] {len(report.missing)}: {escape(', '.join(report.missing[:10]))}{' ...' if len(report.missing) > 10 else ''}", soft_wrap=True)
    if report.unknown:
        console.print(f"  [yellow]not in the benchmark subset (ignored)[/]: {escape(', '.join(report.unknown[:10]))}", soft_wrap=True)
    raise typer.Exit(1 if (report.failed or report.missing) else 0)

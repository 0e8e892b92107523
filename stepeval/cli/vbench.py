"""`stepeval vbench setup | check | prefetch`: the isolated VBench environment and its weights;
`stepeval vbench export | import`: VBench's own results files, both ways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stepeval.errors import UserError
from stepeval.metrics.aggregate import DIMENSION_KEYS

app = typer.Typer(help="Create and check the isolated VBench environment and its model weights.", no_args_is_help=True)
console = Console()

EnvPath = Annotated[Optional[Path], typer.Option("--path", help="Where the VBench venv lives (default ~/.cache/stepeval/vbench-env, or $STEPEVAL_VBENCH_ENV).")]
CacheDir = Annotated[Optional[Path], typer.Option("--cache-dir", envvar="VBENCH_CACHE_DIR", help="VBench weight folder (default ~/.cache/vbench).")]
TorchHome = Annotated[Optional[Path], typer.Option("--torch-home", envvar="TORCH_HOME", help="torch.hub root (default ~/.cache/torch).")]
Dims = Annotated[Optional[str], typer.Option("--dims", help="Comma-separated dimensions of VBench-I2V or of VBench's text-to-video set "
                                            "(default: the nine I2V ones; 'ci' = what CI runs, all nine; 't2v' = the 16 T2V ones; "
                                            "'t2v-custom' = the six T2V ones that run on one's own prompts).")]


def _dims(spec: str | None) -> list[str]:
    """The chosen dimensions: VBench-I2V's spellings as before, plus the text-to-video names and sets."""
    from stepeval.metrics import vbench_i2v, vbench_t2v

    if not spec:
        return vbench_i2v.parse_dimensions(spec)
    sets = {"t2v": vbench_t2v.DIMENSION_KEYS, "t2v-custom": vbench_t2v.CUSTOM_INPUT_DIMENSIONS}
    dims: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if part in sets:
            dims.extend(sets[part])
        elif part in vbench_t2v.DIMENSION_KEYS and part not in vbench_i2v.DIMENSION_KEYS:
            dims.append(part)
        elif part:
            try:
                dims.extend(vbench_i2v.parse_dimensions(part))
            except UserError:
                raise UserError(f"unknown VBench dimension {part!r}", hint=(
                    f"VBench-I2V: {', '.join(vbench_i2v.DIMENSION_KEYS)} (or 'ci', 'all'); text-to-video: "
                    f"{', '.join(vbench_t2v.DIMENSION_KEYS)} (or 't2v', 't2v-custom')")) from None
    return list(dict.fromkeys(dims))


def _short(digest: str | None) -> str:
    return f"{digest[:12]}…" if digest else "-"


def _state(f) -> str:
    if f.status == "verified":
        return "[green]verified[/]"
    if f.status == "unverified":
        return "[yellow]present, unverified (no published hash)[/]"
    if f.status == "wrong-hash":
        return f"[red]wrong hash[/] (expected {_short(f.spec.sha256)}, got {_short(f.sha256)})"
    return "[red]missing[/]" + ("" if f.spec.required else " (imported by the hub code)")


def _weights_table(dims: list[str], cache_dir, torch_home, *, rehash: bool = False) -> tuple[Table, dict]:
    """One row per weight file of each dimension: its state against the pinned table (full digests: --json)."""
    from stepeval.metrics.vbench_env import default_cache_dir, default_torch_home, weights_status

    if console.is_terminal:
        with console.status("hashing weight files (about a second per GB the first time; cached afterwards) ..."):
            report = weights_status(dims, cache_dir, torch_home, rehash=rehash)
    else:
        report = weights_status(dims, cache_dir, torch_home, rehash=rehash)
    cache = Path(cache_dir or default_cache_dir()).expanduser()
    hub = Path(torch_home or default_torch_home()).expanduser() / "hub"
    table = Table(title="VBench-I2V weights, sha256 against the pinned table",
                  caption=f"$VBENCH_CACHE_DIR = {escape(str(cache))}   $TORCH_HOME/hub = {escape(str(hub))}")
    table.add_column("dimension")
    table.add_column("file", overflow="fold")
    table.add_column("state", overflow="fold")
    table.add_column("sha256")
    for dim, files in report.items():
        runnable = not any(f.status == "missing" and f.spec.required for f in files)
        if all(f.status == "verified" for f in files):
            summary = "[green]all verified[/]"
        elif all(f.status in ("verified", "unverified") for f in files):
            summary = "[yellow]runnable, unverified files[/]"
        else:
            summary = "[red]missing or wrong files[/]" if runnable else "[red]cannot run[/]"
        for i, f in enumerate(files):
            table.add_row(f"{dim}\n{summary}" if i == 0 else "", escape(f.spec.label), _state(f), _short(f.sha256))
        table.add_section()
    return table, report


def _weights_json(report: dict) -> dict:
    return {d: {"runnable": not any(f.status == "missing" and f.spec.required for f in files),
                "ok": all(f.status in ("verified", "unverified") for f in files),
                "missing": [str(f.path) for f in files if f.status == "missing"],
                "files": [f.as_dict() for f in files]} for d, files in report.items()}


def _weights_state(files, random_root: bool) -> str:
    """One word for a dimension's weights: verified, unverified, random-weights, wrong-hash or missing."""
    states = {f.status for f in files}
    if any(f.status == "missing" and f.spec.required for f in files):
        return "missing"
    if random_root:  # write-random-weights' folder: runnable, scores meaningless
        return "random-weights"
    if "wrong-hash" in states:
        return "wrong-hash"
    return "verified" if states <= {"verified"} else "unverified"


def _parse_size(spec: str) -> tuple[int, int, int, float | None]:
    try:
        dims, _, fps = spec.partition("@")
        h, w, f = (int(x) for x in dims.lower().split("x"))
        return h, w, f, (float(fps) if fps else None)
    except ValueError:
        from stepeval.errors import UserError

        raise UserError(f"bad --size {spec!r}", hint="write HxWxFRAMES or HxWxFRAMES@FPS, e.g. 544x992x102@25") from None


def _costs(dims, run, videos, size, device, gpu_tflops):
    from stepeval.metrics.vbench_cost import Workload, estimate_all, load_costs, workload_from_run
    from stepeval.metrics.vbench_i2v import parse_devices

    work = Workload(1)
    if run is not None:
        from stepeval.runs import Run

        work = workload_from_run(Run.open(run))
    if size:
        h, w, f, fps = _parse_size(size)
        work = Workload(work.videos, h, w, f, fps or work.fps)
    if videos is not None:
        work = Workload(videos, work.height, work.width, work.frames, work.fps)
    devices = parse_devices(device)
    measured = load_costs().dimensions  # benchmarks/vbench_dims.py measures the I2V set
    return work, devices, estimate_all([d for d in dims if d in measured], work, devices, gpu_tflops=gpu_tflops)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _cost_table(estimates, report, work, devices, gpu_tflops, random_root: bool, unmeasured: list[str] = ()) -> Table:
    from stepeval.metrics.vbench_cost import total_seconds

    kind = "GPU" if any(d.startswith("cuda") for d in devices) else "CPU"
    t = Table(title=f"Expected cost: {work.videos} video(s) of {work.height}x{work.width}x{work.frames} at {work.fps:g} fps "
                    f"on {', '.join(devices)}",
              caption=(f"{kind} estimate from per-frame costs measured on a CPU at CI size (benchmarks/vbench_dims.py)"
                       + (f"; GPU time = counted FLOPs at an assumed {gpu_tflops:g} TFLOP/s" if kind == "GPU" else "")
                       + "; each dimension's time includes its model load, the total one process start"))
    for col in ("dimension", "backbone", "weights", "time", "per video", "GFLOP / video", "needs"):
        t.add_column(col, overflow="fold")
    colour = {"verified": "green", "unverified": "yellow", "random-weights": "yellow", "wrong-hash": "red", "missing": "red"}
    for e in estimates:
        state = _weights_state(report[e.dimension], random_root)
        t.add_row(e.dimension, e.backbone, f"[{colour[state]}]{state}[/]", _duration(e.seconds), f"{e.seconds_per_video:.2f} s",
                  "not counted" if e.gflop_per_video != e.gflop_per_video else f"{e.gflop_per_video:,.0f}", e.needs)
    for dim in unmeasured:
        state = _weights_state(report[dim], random_root)
        t.add_row(dim, "", f"[{colour[state]}]{state}[/]", "not measured", "", "", "no measured cost (benchmarks/vbench_dims.py)")
    t.add_section()
    t.add_row("all chosen", "", "", _duration(total_seconds(estimates)) + (" + not measured" if unmeasured else ""), "", "",
              "one VBench process per device runs the dimensions one after another")
    return t


@app.command()
def setup(
    path: EnvPath = None,
    force: Annotated[bool, typer.Option("--force", help="Delete and recreate the environment.")] = False,
    python: Annotated[Optional[str], typer.Option("--python", help="Python interpreter for the venv (default: the one running stepeval).")] = None,
    cache_dir: CacheDir = None,
    torch_home: TorchHome = None,
) -> None:
    """Create the VBench venv (vbench==0.1.5 and its fixes, CUDA torch that also runs on CPU; about
    5.4 GB), record its versions, and report which dimensions have their weights. Safe to repeat."""
    from stepeval.metrics.vbench_env import PINS, setup_env

    console.print(f"installing {' '.join(PINS)} (first time: about 5.4 GB) ...")
    env = setup_env(path, force=force, python=python, log=lambda m: console.print(escape(m), soft_wrap=True))
    pk = env.info.get("packages") or {}
    console.print(f"[green]ready[/]: {env.path}  vbench {pk.get('vbench')}, torch {pk.get('torch')} (CUDA {env.info.get('torch_cuda')}), "
                  f"GPU {'yes' if env.info.get('cuda_available') else 'no: runs on CPU'}")
    table, _ = _weights_table(list(DIMENSION_KEYS), cache_dir, torch_home)
    console.print(table)
    console.print("missing weights: `stepeval vbench prefetch` on a machine with internet, then copy the folders here.")


@app.command()
def check(
    path: EnvPath = None,
    cache_dir: CacheDir = None,
    torch_home: TorchHome = None,
    dims: Dims = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    rehash: Annotated[bool, typer.Option("--rehash", help="Hash every file again instead of trusting the hash cache.")] = False,
    run: Annotated[Optional[Path], typer.Option("--run", help="Estimate the cost for this run's generated videos (their number and size).")] = None,
    videos: Annotated[Optional[int], typer.Option("--videos", min=0, help="Estimate the cost for N videos (default 1 without --run).")] = None,
    size: Annotated[Optional[str], typer.Option("--size", help="HxWxFRAMES[@FPS] of the videos (default: the run's, else 544x992x102@25).")] = None,
    device: Annotated[str, typer.Option("--device", help="Devices the run will use: cpu, cuda, cuda:0,cuda:1 (one VBench process each) or auto.")] = "auto",
    gpu_tflops: Annotated[float, typer.Option("--gpu-tflops", min=0.1, help="Sustained GPU throughput assumed for the estimate (TFLOP/s).")] = 10.0,
) -> None:
    """Check the environment (imports, versions) and every weight file the chosen dimensions read:
    verified (sha256 matches the pinned table), present but unverified (no published hash), wrong
    hash, or missing. Digests are cached by path, size and mtime, so a repeated check is fast.
    Then, per dimension, the expected cost of scoring a run's videos (--run, or --videos N at --size)
    on the devices given, and what it needs (CPU or GPU, memory), from per-frame costs measured on a
    CPU (benchmarks/vbench_dims.py) and, on a GPU, counted FLOPs at an assumed throughput.

    Exit code 0 when the environment works and no file of a chosen dimension is missing or has a
    wrong hash, 1 otherwise, 2 when the environment is absent or broken."""
    from stepeval.metrics.vbench_env import default_cache_dir, load_env
    from stepeval.metrics.vbench_weights import HASH_CACHE_NAME, is_random_weights_root, load_table

    env = load_env(path, verify=True)
    chosen = _dims(dims)
    table, report = _weights_table(chosen, cache_dir, torch_home, rehash=rehash)
    cache = Path(cache_dir or default_cache_dir()).expanduser()
    weights_table = load_table()
    from stepeval.metrics.vbench_cost import total_seconds

    work, devices, estimates = _costs(chosen, run, videos, size, device, gpu_tflops)
    random_root = is_random_weights_root(cache)
    if as_json:
        weights = _weights_json(report)
        for dim in chosen:
            weights[dim]["weights"] = _weights_state(report[dim], random_root)
        for e in estimates:
            weights[e.dimension]["cost"] = e.as_dict()
        typer.echo(json.dumps({"env": str(env.path), "versions": env.info,
                               "weights_table": {"path": str(weights_table.source), "sha256": weights_table.sha256},
                               "hash_cache": str(cache / HASH_CACHE_NAME),
                               "workload": {**work.__dict__, "devices": devices, "gpu_tflops": gpu_tflops,
                                            "total_seconds": round(total_seconds(estimates), 1)},
                               "dimensions": weights}, indent=2))
    else:
        pk = env.info.get("packages") or {}
        console.print(f"[green]environment ok[/]: {env.path}")
        console.print(", ".join(f"{k} {v}" for k, v in pk.items() if v), soft_wrap=True)
        console.print(table)
        measured = {e.dimension for e in estimates}
        console.print(_cost_table(estimates, report, work, devices, gpu_tflops, random_root, [d for d in chosen if d not in measured]))
        if random_root:
            console.print("this cache holds random test weights (`write-random-weights`): scores made with it mean nothing")
        if any(f.status == "wrong-hash" for files in report.values() for f in files):
            console.print("wrong hash: the file is not the one VBench's numbers were made with; "
                          "`stepeval vbench prefetch` replaces it with a verified download")
    if any(f.status in ("missing", "wrong-hash") for files in report.values() for f in files):
        raise typer.Exit(1)


@app.command()
def prefetch(
    cache_dir: CacheDir = None,
    torch_home: TorchHome = None,
    dims: Dims = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be downloaded.")] = False,
) -> None:
    """Download the weights (and torch.hub code) the chosen dimensions miss or hold with a wrong hash,
    on a machine with internet, from URLs pinned to a commit, release or content address. Each file
    with a published sha256 is checked before it is put in place; a mismatch is refused. Copy
    VBENCH_CACHE_DIR and TORCH_HOME/hub to an offline machine afterwards."""
    from stepeval.metrics.vbench_env import fetch_plan
    from stepeval.metrics.vbench_env import prefetch as do_prefetch

    chosen = _dims(dims)
    plan, links = fetch_plan(chosen, cache_dir, torch_home)
    if not plan and not links:
        console.print("nothing to fetch: every chosen dimension has its files")
        return
    for f in plan:
        known = sum(1 for w in f.files if w.sha256)
        check_note = (f"sha256 {f.sha256}" if f.sha256 else "no published sha256" if f.kind == "file"
                      else f"{known} of its files checked after unpacking" if known else f"no published sha256 for its {len(f.files)} file(s)")
        console.print(f"{'would fetch' if dry_run else 'fetch'} {escape(f.url)} -> {escape(str(f.dest))} ({f.kind}; {check_note})", soft_wrap=True)
    if dry_run:
        return
    failed = do_prefetch(chosen, cache_dir, torch_home, log=lambda m: console.print(escape(m), soft_wrap=True))
    if failed:
        for url, err in failed.items():
            console.print(f"[red]failed[/] {escape(url)}: {escape(err)}", soft_wrap=True)
        console.print("rerun the same command to retry; files already fetched are kept")
        raise typer.Exit(1)
    console.print("[green]done[/]")


@app.command("export")
def export_cmd(
    run: Annotated[Path, typer.Argument(help="Run directory.", show_default=False)],
    out: Annotated[Path, typer.Argument(help="Folder for the results (created).", show_default=False)],
    model_tag: Annotated[Optional[list[str]], typer.Option("--model-tag", help="Only these model tags (repeatable; default: every tag with VBench-I2V scores).")] = None,
    archive: Annotated[bool, typer.Option("--archive/--no-archive", help="Also write the zip VBench-I2V's leaderboard takes (refused when a dimension is missing).")] = True,
) -> None:
    """Write the run's VBench-I2V scores as VBench writes them: OUT/<tag>/<tag>_eval_results.json per
    model tag, and OUT/<tag>_eval_results.zip for the leaderboard (docs/vbench-i2v.md)."""
    from stepeval.metrics.vbench_results import export_run
    from stepeval.runs import Run

    for path in export_run(Run.open(run), out, model_tags=model_tag, archive=archive):
        console.print(f"wrote {escape(str(path))}", highlight=False)


@app.command("import")
def import_cmd(
    run: Annotated[Path, typer.Argument(help="Run directory the scores are added to.", show_default=False)],
    results: Annotated[Path, typer.Argument(help="A VBench `*_eval_results.json` (made by vbench, or by `stepeval vbench export`).", show_default=False)],
    model_tag: Annotated[str, typer.Option("--model-tag", help="The model tag the scores belong to.", show_default=False)],
    mapping: Annotated[Optional[Path], typer.Option("--mapping", help="CSV video,item_id[,sample] for videos not named <item id with / as __>-<sample>.mp4.")] = None,
) -> None:
    """Add VBench results made elsewhere to the run's scores.parquet, with provenance (file, sha256,
    time, VBench's raw values); Quality / I2V / Total follow when all nine dimensions are there."""
    from stepeval.metrics.vbench_results import import_results
    from stepeval.runs import Run

    rep = import_results(Run.open(run), results, model_tag, mapping=mapping)
    console.print(f"{escape(model_tag)}: {rep.rows} score rows from {escape(str(results))} "
                  f"(dimensions: {', '.join(rep.dimensions) or 'none'})", highlight=False, soft_wrap=True)
    if rep.skipped_dimensions:
        console.print(f"[yellow]skipped[/] (not VBench-I2V dimensions): {escape(', '.join(rep.skipped_dimensions))}")
    if rep.unmatched:
        console.print(f"[yellow]{len(rep.unmatched)} video(s) matched no item[/], e.g. {escape(rep.unmatched[0])}: "
                      "pass --mapping CSV", soft_wrap=True)

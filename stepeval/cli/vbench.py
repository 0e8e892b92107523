"""`stepeval vbench setup | check | prefetch`: the isolated VBench environment and its weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stepeval.metrics.aggregate import DIMENSION_KEYS

app = typer.Typer(help="Create and check the isolated VBench environment and its model weights.", no_args_is_help=True)
console = Console()

EnvPath = Annotated[Optional[Path], typer.Option("--path", help="Where the VBench venv lives (default ~/.cache/stepeval/vbench-env, or $STEPEVAL_VBENCH_ENV).")]
CacheDir = Annotated[Optional[Path], typer.Option("--cache-dir", envvar="VBENCH_CACHE_DIR", help="VBench weight folder (default ~/.cache/vbench).")]
TorchHome = Annotated[Optional[Path], typer.Option("--torch-home", envvar="TORCH_HOME", help="torch.hub root (default ~/.cache/torch).")]
Dims = Annotated[Optional[str], typer.Option("--dims", help="Comma-separated dimensions (default: all nine; 'ci' = the six CI ones).")]


def _dims(spec: str | None) -> list[str]:
    from stepeval.metrics.vbench_i2v import parse_dimensions

    return parse_dimensions(spec)


def _weights_table(dims: list[str], cache_dir, torch_home) -> tuple[Table, dict]:
    from stepeval.metrics.vbench_env import weights_report

    report = weights_report(dims, cache_dir, torch_home)
    table = Table(title="VBench-I2V weights")
    table.add_column("dimension")
    table.add_column("status")
    table.add_column("missing files (put them exactly here)", overflow="fold")
    for dim, missing in report.items():
        status = "[green]runnable[/]" if not missing else f"[red]{len(missing)} missing[/]"
        table.add_row(dim, status, "\n".join(f"{escape(str(w.path))}  ({escape(w.what)})" for w in missing) or "-")
    return table, report


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
) -> None:
    """Check the environment (imports, versions) and which dimensions' weights are present.

    Exit code 0 when the environment works and every chosen dimension is runnable, 1 when some
    weights are missing, 2 when the environment is absent or broken."""
    from stepeval.metrics.vbench_env import load_env

    env = load_env(path, verify=True)
    chosen = _dims(dims)
    table, report = _weights_table(chosen, cache_dir, torch_home)
    if as_json:
        typer.echo(json.dumps({"env": str(env.path), "versions": env.info,
                               "dimensions": {d: {"runnable": not m, "missing": [str(w.path) for w in m]} for d, m in report.items()}}, indent=2))
    else:
        pk = env.info.get("packages") or {}
        console.print(f"[green]environment ok[/]: {env.path}")
        console.print(", ".join(f"{k} {v}" for k, v in pk.items() if v), soft_wrap=True)
        console.print(table)
    if any(report.values()):
        raise typer.Exit(1)


@app.command()
def prefetch(
    cache_dir: CacheDir = None,
    torch_home: TorchHome = None,
    dims: Dims = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be downloaded.")] = False,
) -> None:
    """Download the weights (and torch.hub code) the chosen dimensions miss, on a machine with
    internet; copy VBENCH_CACHE_DIR and TORCH_HOME/hub to an offline machine afterwards."""
    from stepeval.metrics.vbench_env import fetch_plan
    from stepeval.metrics.vbench_env import prefetch as do_prefetch

    chosen = _dims(dims)
    plan, links = fetch_plan(chosen, cache_dir, torch_home)
    if not plan and not links:
        console.print("nothing to fetch: every chosen dimension has its files")
        return
    for f in plan:
        console.print(f"{'would fetch' if dry_run else 'fetch'} {escape(f.url)} -> {escape(str(f.dest))} ({f.kind})", soft_wrap=True)
    if dry_run:
        return
    failed = do_prefetch(chosen, cache_dir, torch_home, log=lambda m: console.print(escape(m), soft_wrap=True))
    if failed:
        for url, err in failed.items():
            console.print(f"[red]failed[/] {escape(url)}: {escape(err)}", soft_wrap=True)
        console.print("rerun the same command to retry; files already fetched are kept")
        raise typer.Exit(1)
    console.print("[green]done[/]")

"""`stepeval data`: inspect, validate, fetch and export benchmarks."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from stepeval.benchmark import T2V, LoadedBenchmark, load_benchmark
from stepeval.benchmark.checks import skipped_table
from stepeval.benchmark.fetch import DEFAULT_SOURCE, fetch_benchmark
from stepeval.benchmark.manifest import load_manifest
from stepeval.cli.options import Aspect, Domain, Ids, Kind, PresentOnly, Sample, Seed, build_subset

app = typer.Typer(help="Inspect, validate, fetch and export benchmarks.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

BenchPath = Annotated[Path, typer.Argument(help="Benchmark folder (Step-Video-TI2V-Eval upstream layout, Step-Video-T2V-Eval, VBench-I2V suite, or a folder of NAME.png + NAME.txt).")]
Labels = Annotated[Optional[Path], typer.Option("--labels", help="Step-Video-T2V-Eval: a `line,category` label file to use instead of the inferred one.")]


def _categories_table(loaded: LoadedBenchmark) -> Table:
    """A text-to-video benchmark: prompts per category (no images to count)."""
    counts = Counter(it.domain for it in loaded.items)
    table = Table(title=f"{loaded.name} (text-to-video)", caption=escape(str(loaded.root)), show_footer=True)
    table.add_column("category", footer="total")
    table.add_column("prompts", justify="right", footer=str(sum(counts.values())))
    for category in sorted(counts):
        table.add_row(escape(category or "-"), str(counts[category]))
    return table


def _counts_table(loaded: LoadedBenchmark) -> Table:
    if loaded.task == T2V:
        return _categories_table(loaded)
    prompts = Counter((it.domain, it.aspect) for it in loaded.items)
    images = Counter((it.domain, it.aspect) for it in loaded.items if it.has_image)
    table = Table(title=loaded.name, caption=str(loaded.root), show_footer=True)
    table.add_column("domain", footer="total")
    table.add_column("aspect")
    table.add_column("prompts", justify="right", footer=str(sum(prompts.values())))
    table.add_column("images", justify="right", footer=str(sum(images.values())))
    for domain, aspect in sorted(prompts):
        table.add_row(domain or "-", aspect or "-", str(prompts[(domain, aspect)]), str(images[(domain, aspect)]))
    return table


def _summary(loaded: LoadedBenchmark) -> dict:
    kinds = Counter(p.kind for p in loaded.problems)
    domains = Counter(it.domain for it in loaded.items)
    verified_images = sum(ok for rel, ok in loaded.verified.items() if not rel.endswith(".txt"))
    return {
        "benchmark": loaded.name,
        "root": str(loaded.root),
        "prompts": len(loaded.items),
        "by_domain": dict(sorted(domains.items())),
        "by_domain_aspect": {f"{d}/{a}": n for (d, a), n in sorted(Counter((it.domain, it.aspect) for it in loaded.items).items())},
        "images_present": sum(it.has_image for it in loaded.items),
        "images_verified": verified_images,
        "files_verified": sum(loaded.verified.values()),
        "images_missing": kinds.get("missing_image", 0),
        "expected": len(loaded.expected_ids) if loaded.expected_ids is not None else len(loaded.items),
        "problems": dict(sorted(kinds.items())),
        "skipped": [p.to_record() for p in loaded.skipped],
        "status": "complete" if loaded.is_complete else "partial",
        "task": loaded.task,
        "categories": len(loaded.categories),
        "label_file": str(loaded.label_file) if loaded.label_file else None,
        "checksum": _checksum_state(loaded),
    }


def _checksum_state(loaded: LoadedBenchmark) -> str:
    if not loaded.verified:
        return "not checked"
    return "verified" if all(loaded.verified.values()) else "mismatch"


def _t2v_line(summary: dict) -> str:
    """`128 prompts, 11 categories (from FILE), checksum verified: complete`."""
    source = f" (from {Path(summary['label_file']).name})" if summary["label_file"] else " (no label file)"
    checksum = {"verified": "checksum verified", "mismatch": "[red]checksum MISMATCH[/]", "not checked": "checksum not checked"}[summary["checksum"]]
    status = "[green]complete[/]" if summary["status"] == "complete" else "[yellow]partial[/]"
    return f"{summary['prompts']} prompts, {summary['categories']} categories{escape(source)}, {checksum}: {status}"


def _report_skipped(loaded: LoadedBenchmark, what: str) -> None:
    """The items left out as bad or unpaired, on stderr, so stdout stays the command's output."""
    if loaded.skipped:
        err_console.print(skipped_table(loaded.skipped, loaded.root, title=f"skipped items, {what}"))


def _load(path, kind, domain, aspect, ids, sample, seed, present_only, verify=True, labels=None) -> LoadedBenchmark:
    subset = build_subset(domain, aspect, ids, sample, seed, present_only)
    return load_benchmark(path, kind, subset=subset, verify=verify, labels=labels)


@app.command()
def info(
    path: BenchPath,
    kind: Kind = "auto",
    domain: Domain = None,
    aspect: Aspect = None,
    ids: Ids = None,
    sample: Sample = None,
    seed: Seed = 0,
    present_only: PresentOnly = False,
    labels: Labels = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Counts per domain and aspect (per category for a text-to-video benchmark), and whether the copy is complete (no checksum verification)."""
    loaded = _load(path, kind, domain, aspect, ids, sample, seed, present_only, verify=False, labels=labels)
    summary = _summary(loaded)
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    console.print(_counts_table(loaded))
    if loaded.task == T2V:
        console.print(_t2v_line(summary), soft_wrap=True)
        _report_skipped(loaded, "not counted above; `stepeval data validate` for every problem")
        return
    skipped = f", {len({p.item_id for p in loaded.skipped})} left out (bad or unpaired files, listed on stderr)" if loaded.skipped else ""
    console.print(f"{summary['prompts']} prompts, {summary['images_present']} images present, {summary['images_missing']} missing{skipped}: [bold]{summary['status']}[/]")
    _report_skipped(loaded, "not counted above; `stepeval data validate` for every problem")


@app.command()
def validate(
    path: BenchPath,
    kind: Kind = "auto",
    domain: Domain = None,
    aspect: Aspect = None,
    ids: Ids = None,
    sample: Sample = None,
    seed: Seed = 0,
    present_only: PresentOnly = False,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Check every file against the checksum manifest.")] = True,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when the copy is partial, not only when files are wrong.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary and problems as JSON.")] = False,
    show: Annotated[int, typer.Option("--show", help="How many problems of each kind to list.")] = 5,
    labels: Labels = None,
) -> None:
    """Load a benchmark, verify its files, report missing, stray and corrupt files.

    Exit code 0 when every present file is good (a partial copy is reported as PARTIAL, not as an
    error), 1 when a file is wrong (checksum mismatch, unreadable prompt or image), or when --strict
    and the copy is partial.
    """
    loaded = _load(path, kind, domain, aspect, ids, sample, seed, present_only, verify=verify, labels=labels)
    summary = _summary(loaded)
    bad = [p for p in loaded.problems if p.kind not in ("missing_image", "stray_file")]
    if as_json:
        typer.echo(json.dumps({**summary, "problem_list": [{"kind": p.kind, "path": str(p.path), "item_id": p.item_id, "message": p.message} for p in loaded.problems]}, ensure_ascii=False, indent=2))
    else:
        console.print(_counts_table(loaded))
        by_kind: dict[str, list] = {}
        for p in loaded.problems:
            by_kind.setdefault(p.kind, []).append(p)
        for k, plist in sorted(by_kind.items()):
            style = "yellow" if k in ("missing_image", "stray_file") else "red"
            console.print(f"[{style}]{k}[/]: {len(plist)}")
            for p in plist[:show]:
                console.print(f"  {escape(str(p.path))}: {escape(p.message)}", highlight=False, soft_wrap=True)
            if len(plist) > show:
                console.print(f"  ... and {len(plist) - show} more (--show N to list more)")
        verified = f", {summary['images_verified']} images verified against the manifest" if verify and loaded.verified else ""
        status = "[green]complete[/]" if summary["status"] == "complete" else "[yellow]partial[/]"
        by_domain = ", ".join(f"{n} {d or '-'}" for d, n in summary["by_domain"].items())
        if loaded.task == T2V:
            console.print(_t2v_line(summary), soft_wrap=True)
        else:
            console.print(
                f"{summary['prompts']} prompts ({by_domain}), {summary['images_present']} images present{verified}, "
                f"{summary['images_missing']} missing: {status}",
                soft_wrap=True,
            )
    if bad or (strict and summary["status"] != "complete"):
        raise typer.Exit(1)


@app.command()
def fetch(
    dest: Annotated[Path, typer.Argument(help="Folder to download into (upstream layout); existing verified files are kept.")],
    source: Annotated[str, typer.Option("--source", help="Base URL of the benchmark folder: https://, http:// or file://.")] = DEFAULT_SOURCE,
    domain: Domain = None,
    aspect: Aspect = None,
    ids: Ids = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel downloads.")] = 4,
) -> None:
    """Download Step-Video-TI2V-Eval, verify every file against the manifest; resumable.

    Rerun the same command to resume: verified files are skipped and partial downloads continue.
    """
    subset = build_subset(domain, aspect, ids, None, 0, False)
    manifest = load_manifest()
    entries = [e for e in sorted(manifest.values(), key=lambda e: e.id) if (not subset.ids or e.id in subset.ids)
               and (not subset.domains or e.domain in subset.domains) and (not subset.aspects or e.aspect in subset.aspects)]
    if subset.ids:
        unknown = sorted(set(subset.ids) - manifest.keys())
        if unknown:
            from stepeval.errors import UserError

            raise UserError(f"{len(unknown)} id(s) not in the benchmark: {', '.join(unknown[:5])}")
    with Progress(TextColumn("[bold]fetch"), BarColumn(), TextColumn("{task.completed}/{task.total} files"), TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task("fetch", total=2 * len(entries))
        report = fetch_benchmark(dest, source=source, entries=entries, workers=workers, on_file=lambda rel, size: progress.advance(task))
    console.print(f"downloaded {len(report.downloaded)}, resumed {len(report.resumed)}, already verified {len(report.skipped)}, failed {len(report.failed)}")
    for rel, why in sorted(report.failed.items())[:20]:
        console.print(f"  [red]{escape(rel)}[/]: {escape(why)}")
    if not report.ok:
        console.print("rerun the same command to retry the failed files")
        raise typer.Exit(1)


@app.command("export")
def export(
    path: BenchPath,
    out: Annotated[Path, typer.Argument(help="New folder for the dataset (datasets.save_to_disk format).")],
    kind: Kind = "auto",
    domain: Domain = None,
    aspect: Aspect = None,
    ids: Ids = None,
    sample: Sample = None,
    seed: Seed = 0,
    present_only: PresentOnly = False,
) -> None:
    """Export as a Hugging Face `datasets` Dataset (id, prompt, domain, aspect, image) that loads offline
    with `datasets.load_from_disk(OUT)`. Items without a local image get image=None unless --present-only.
    Items with bad or unpaired files are left out and listed on stderr, and the exit code is then 1."""
    from stepeval.benchmark.export import export_dataset

    loaded = _load(path, kind, domain, aspect, ids, sample, seed, present_only, verify=False)
    n = export_dataset(loaded, out, present_only=present_only)
    console.print(f"wrote {n} rows to {out}  (load with datasets.load_from_disk({str(out)!r}))")
    if loaded.skipped:
        _report_skipped(loaded, "not exported")
        raise typer.Exit(1)


@app.command("ids")
def list_ids(
    path: BenchPath,
    kind: Kind = "auto",
    domain: Domain = None,
    aspect: Aspect = None,
    ids: Ids = None,
    sample: Sample = None,
    seed: Seed = 0,
    present_only: PresentOnly = False,
    labels: Labels = None,
) -> None:
    """Print the item ids a subset selects, one per line (feed them to --ids @FILE)."""
    loaded = _load(path, kind, domain, aspect, ids, sample, seed, present_only, verify=False, labels=labels)
    for item_id in loaded.ids:
        typer.echo(item_id)
    _report_skipped(loaded, "not listed")

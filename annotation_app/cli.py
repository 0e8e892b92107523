"""`stepeval annotate`: create studies, manage annotators, serve the app, status, export, import."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stepeval.cli.options import Aspect, Domain, Ids, PresentOnly, Sample, Seed, build_subset
from stepeval.errors import UserError
from stepeval.human import AnnotationStore, create_study_from_run, export_judgments, import_judgments
from stepeval.human.db import describe
from stepeval.human.dimensions import PROTOCOLS
from stepeval.human.io import FORMATS, VIEWS, read_judgments_text
from stepeval.runs import Run

app = typer.Typer(help="Blinded pairwise human evaluation: studies, annotators, the annotation app.", no_args_is_help=True)
console = Console()

APP_FILE = Path(__file__).with_name("app.py")
RunArg = Annotated[Path, typer.Argument(help="Run directory (runs/<name>) whose videos are compared.")]
DbOpt = Annotated[Optional[str], typer.Option("--db", help="Annotation database: a SQLite file or any SQLAlchemy URL (postgresql+psycopg://...). Default: RUN/annotations.sqlite.")]
StudyOpt = Annotated[Optional[str], typer.Option("--study", help="Study id (needed when the database holds several).")]


def _store(run: Path, db: str | None) -> AnnotationStore:
    if db is None and not (run / "run.yaml").is_file():
        Run.open(run)  # raises the standard "not a run directory" message
    return AnnotationStore.open(db, run)


def _print_token(name: str, token: str) -> None:
    console.print(f"  {escape(name)}: [bold]{token}[/]")


@app.command("create-study")
def create_study(
    run: RunArg,
    model_a: Annotated[str, typer.Option("--model-a", help="Model tag A (outcomes are read from A's side).")],
    model_b: Annotated[str, typer.Option("--model-b", help="Model tag B.")],
    study_id: Annotated[Optional[str], typer.Option("--study-id", help="Id of the new study (default: study-DATE-XXXX).")] = None,
    overlap: Annotated[int, typer.Option("--overlap", min=1, help="Annotators per item (2+ to measure agreement).")] = 1,
    gold: Annotated[int, typer.Option("--gold", min=0, help="Gold items per annotator (a video paired with itself; right answer Tie).")] = 0,
    study_seed: Annotated[int, typer.Option("--study-seed", help="Seed of the left/right swaps, queue orders and gold picks.")] = 0,
    annotator: Annotated[Optional[list[str]], typer.Option("--annotator", help="Add an annotator now (repeatable); tokens are printed once.")] = None,
    exclude_missing: Annotated[bool, typer.Option("--exclude-missing", help="Leave out items lacking a video or image instead of refusing.")] = False,
    protocol: Annotated[Optional[str], typer.Option("--protocol", help=f"The study's questions: {', '.join(PROTOCOLS)} (default: the run's task; {'; '.join(f'{p.name}: {len(p.dimensions)} dimensions' for p in PROTOCOLS.values())}).")] = None,
    domain: Domain = None,
    aspect: Aspect = None,
    ids: Ids = None,
    sample: Sample = None,
    seed: Seed = 0,
    present_only: PresentOnly = False,
    db: DbOpt = None,
) -> None:
    """Create a study comparing two model tags of RUN; prints the admin token once."""
    r = Run.open(run)
    store = _store(run, db)
    subset = build_subset(domain, aspect, ids, sample, seed, present_only)
    sid, admin_token = create_study_from_run(store, r, model_a, model_b, subset=subset, study_id=study_id, overlap=overlap,
                                             gold_per_annotator=gold, seed=study_seed, exclude_missing=exclude_missing, protocol=protocol)
    info = store.study(sid)
    console.print(f"created study [bold]{escape(sid)}[/] in {escape(describe(store.url))}: {len(info.item_ids)} items, overlap {overlap}, {gold} gold per annotator", soft_wrap=True)
    console.print(f"protocol {info.protocol.name}: {escape(', '.join(d.title for d in info.dimensions))}", soft_wrap=True)
    excluded = (info.benchmark or {}).get("excluded_items") or []
    if excluded:
        console.print(f"[yellow]left out {len(excluded)} item(s) without videos or image:[/] {escape(', '.join(excluded))}")
    console.print("admin token (shown once; open the app with ?view=admin):")
    _print_token("admin", admin_token)
    if annotator:
        console.print("annotator tokens (shown once):")
        for name in annotator:
            _print_token(name, store.add_annotator(sid, name))


@app.command("add-annotator")
def add_annotator(run: RunArg, name: Annotated[str, typer.Argument(help="Annotator name (shown in reports, never their token).")], study: StudyOpt = None, db: DbOpt = None) -> None:
    """Add an annotator, give them a queue, and print their token once."""
    store = _store(run, db)
    sid = store.resolve_study(study)
    token = store.add_annotator(sid, name)
    console.print(f"annotator {escape(name)} added to {escape(sid)}; token (shown once, stored hashed):")
    _print_token(name, token)


@app.command("revoke-annotator")
def revoke_annotator(run: RunArg, name: Annotated[str, typer.Argument()], study: StudyOpt = None, db: DbOpt = None) -> None:
    """Revoke an annotator's token. Their judgments stay; their unstarted items go to the others."""
    store = _store(run, db)
    sid = store.resolve_study(study)
    moved = store.revoke_annotator(sid, name)
    console.print(f"revoked {escape(name)} in {escape(sid)}; {moved} unstarted task(s) reassigned")


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@app.command()
def serve(
    run: RunArg,
    host: Annotated[str, typer.Option("--host", help="Address to bind; 0.0.0.0 shares the app on your network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0 picks a free one).")] = 8501,
    db: DbOpt = None,
) -> None:
    """Start the annotation app (Streamlit) for RUN's studies."""
    store = _store(run, db)
    if not store.study_ids():
        raise UserError(f"no study in {describe(store.url)}", hint="create one first with `stepeval annotate create-study`")
    url = store.url
    store.close()
    if port == 0:
        port = _free_port(host)
    from annotation_app.config import to_env

    env = {**os.environ, **to_env(url, run)}
    cmd = streamlit_command(host, port)
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    console.print(f"annotation app for {escape(str(run))} at http://{shown}:{port}  (admin: http://{shown}:{port}/?view=admin)", soft_wrap=True)
    try:
        code = subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        code = 0
    if code not in (0, -2, 130):
        raise typer.Exit(code)


def streamlit_command(host: str, port: int) -> list[str]:
    """The command line of the annotation server (`serve` runs it; benchmarks start it the same way)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP_FILE),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--server.fileWatcherType", "none", "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
        # Tracebacks could name files (and file names name models): annotators see the error type only.
        "--client.showErrorDetails", "type",
        "--theme.base", "light",
        # Streamlit runs a full garbage collection after every script run. The server's heap is
        # ~170k long-lived objects (Streamlit, pandas, scipy, SQLAlchemy), so each one cost ~100 ms
        # of CPU, most of a submit's, under the GIL every session shares. A page's garbage is short-
        # lived and Python's generational collector frees it; nothing here needs the full sweep.
        "--runner.postScriptGC", "false",
    ]


@app.command()
def status(run: RunArg, study: StudyOpt = None, db: DbOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Progress per annotator and judgments stored."""
    store = _store(run, db)
    sid = store.resolve_study(study)
    info = store.study(sid)
    progress = store.progress(sid)
    stored = store.count_judgments(sid)
    current = store.count_judgments(sid, include_superseded=False)
    if as_json:
        out = {"study_id": sid, "protocol": info.protocol.name, "dimensions": [d.name for d in info.dimensions],
               "model_a": info.model_a, "model_b": info.model_b, "items": len(info.item_ids), "overlap": info.overlap,
               "judgments_stored": stored, "tasks_answered": current, "annotators": json.loads(progress.to_json(orient="records"))}
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{sid}: {info.model_a} (A) vs {info.model_b} (B), {len(info.item_ids)} items, overlap {info.overlap}, protocol {info.protocol.name}")
    for col in ("annotator", "done", "tasks", "gold", "median s/item", "last activity", "revoked"):
        table.add_column(col)
    for r in progress.itertuples():
        table.add_row(escape(r.annotator), str(r.done), str(r.tasks), str(r.gold_tasks), "-" if r.median_seconds != r.median_seconds else f"{r.median_seconds:.1f}",
                      str(r.last_activity or "-"), "yes" if r.revoked else "")
    console.print(table)
    console.print(f"{current} tasks answered, {stored} judgment rows stored (re-answers kept)")


@app.command("export")
def export(
    run: RunArg,
    out: Annotated[Path, typer.Argument(help="Output file, .jsonl or .csv.")],
    study: StudyOpt = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help=f"{' or '.join(FORMATS)} (default: from the file name).")] = None,
    view: Annotated[str, typer.Option("--view", help=f"Columns: {', '.join(VIEWS)} (model-relative, or what was on screen).")] = "both",
    include_superseded: Annotated[bool, typer.Option("--include-superseded", help="Also export answers that were later changed.")] = False,
    db: DbOpt = None,
) -> None:
    """Export judgments (docs/data-contracts.md columns)."""
    store = _store(run, db)
    sid = store.resolve_study(study)
    n = export_judgments(store, out, study_id=sid, fmt=fmt, view=view, include_superseded=include_superseded)
    judgments = store.count_judgments(sid, include_superseded=include_superseded)
    console.print(f"wrote {n} rows ({judgments} judgment(s); one row per judgment and dimension) to {escape(str(out))}", soft_wrap=True)


@app.command("import")
def import_(
    run: RunArg,
    file: Annotated[Path, typer.Argument(help="Judgments file, .jsonl or .csv, in the export's columns.")],
    study: StudyOpt = None,
    fmt: Annotated[Optional[str], typer.Option("--format")] = None,
    new_study: Annotated[bool, typer.Option("--new-study", help="Create the file's study (or --study) when the database holds other studies; without it an unknown study id is refused as a likely typo.")] = False,
    db: DbOpt = None,
) -> None:
    """Import judgments made elsewhere. The whole file is checked first and refused whole, every
    problem listed with its line; importing twice adds nothing."""
    read_judgments_text(file)  # an unreadable file is refused before any database is created
    store = _store(run, db)
    run_items = Run.open(run).item_ids if (run / "run.yaml").is_file() else None
    report = import_judgments(store, file, study_id=study, fmt=fmt, run_items=run_items or None, new_study=new_study)
    # A judgment is one annotator's answer to one item; export writes one row per judgment and dimension.
    console.print(f"imported {report.judgments} judgment(s), {report.duplicates} already stored"
                  f" ({report.rows} row(s) imported, {report.duplicate_rows} already stored; one row per judgment and dimension, as export writes)"
                  + (f"; {report.partial} judgment(s) answer fewer than all dimensions" if report.partial else "")
                  + (f"; new annotators (cannot sign in): {escape(', '.join(report.annotators_created))}" if report.annotators_created else ""), soft_wrap=True)

"""`stepeval published`: the reference results stepeval knows (shipped and the user's own), their
checks against their own printed parts, and the file format's JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

app = typer.Typer(help="Published reference results: list them, check a print against itself, the format's JSON Schema.",
                  no_args_is_help=True)

PathsOption = Annotated[Optional[list[Path]], typer.Option(
    "--published-path", help="A reference-results file or folder of your own (repeatable; also $STEPEVAL_PUBLISHED_PATH).")]


@app.command("list")
def list_cmd(paths: PathsOption = None) -> None:
    """Every reference reachable: name, tables, columns, where the file is."""
    from stepeval.published import catalogue, load_file

    for name, entry in sorted(catalogue(paths or []).items()):
        ref = load_file(entry.path)
        where = f"{entry.path}" + (" (shipped)" if entry.shipped else "") + (f", replaces {entry.replaces}" if entry.replaces else "")
        typer.echo(f"{name}: {ref.source.title} ({where})")
        for t in ref.tables:
            typer.echo(f"  {t.id} ({t.source.table}, {t.kind}): {', '.join(c.id for c in t.columns)}")


@app.command("check")
def check_cmd(
    name: Annotated[str, typer.Argument(help="Reference name (`stepeval published list`) or a reference-results file.")],
    paths: PathsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Every check as JSON (findings and matches).")] = False,
    all_checks: Annotated[bool, typer.Option("--all", help="Also list the checks that matched.")] = False,
) -> None:
    """Recompute every printed aggregate from its printed parts; list display-rounding differences and
    real disagreements with their magnitude. Exit 0 either way: a finding is about the print."""
    from stepeval.published import load, load_file
    from stepeval.published.checks import check_reference, summary

    ref = load_file(name) if Path(name).suffix in (".yaml", ".yml", ".json") and Path(name).is_file() else load(name, paths or [])[0]
    checks = check_reference(ref)
    if as_json:
        typer.echo(json.dumps({"reference": ref.name, "summary": summary(checks), "checks": [c.to_dict() for c in checks]},
                              indent=2, ensure_ascii=False))
        return
    console = Console()
    counts = summary(checks)
    console.print(f"{ref.name}: {len(checks)} checks: " + ", ".join(f"{v} {k}" for k, v in counts.items()), highlight=False)
    for c in checks:
        if c.is_finding or all_checks:
            console.print(f"  [{c.verdict}] {c.table}: {c.message}", highlight=False, soft_wrap=True, markup=False)
            if c.note:
                console.print(f"      note: {c.note}", highlight=False, soft_wrap=True, markup=False)


@app.command("schema")
def schema_cmd(
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write to this file instead of standard output.")] = None,
) -> None:
    """Print the JSON Schema of a reference-results file."""
    from stepeval.cli.config import print_schema
    from stepeval.published import json_schema

    print_schema(json_schema(), out)

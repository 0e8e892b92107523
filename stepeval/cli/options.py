"""Options shared by several commands (typer Annotated aliases), so every command spells them alike."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from stepeval.benchmark import KINDS, Subset
from stepeval.benchmark.subsets import read_ids_file

Kind = Annotated[str, typer.Option("--kind", help=f"Benchmark layout: {', '.join(KINDS)}.", show_default=True)]
Domain = Annotated[Optional[list[str]], typer.Option("--domain", help="Keep only this domain (real, anime, ...). Repeatable.")]
Aspect = Annotated[Optional[list[str]], typer.Option("--aspect", help="Keep only this aspect (H, S, V). Repeatable.")]
Ids = Annotated[Optional[str], typer.Option("--ids", help="Comma-separated item ids, or @FILE with one id per line (for ids that hold commas, such as VBench-I2V's camera prompts).")]
Sample = Annotated[Optional[int], typer.Option("--sample", min=1, help="Seeded random sample of N items, stratified by domain and aspect.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed for --sample.")]
PresentOnly = Annotated[bool, typer.Option("--present-only", help="Keep only items whose image is present locally.")]


def build_subset(domain, aspect, ids, sample, seed, present_only) -> Subset:
    id_list: list[str] = []
    if ids:
        id_list = read_ids_file(Path(ids[1:])) if ids.startswith("@") else [i.strip() for i in ids.split(",") if i.strip()]
    return Subset(
        domains=tuple(domain or ()),
        aspects=tuple(aspect or ()),
        ids=tuple(id_list),
        sample=sample,
        seed=seed,
        present_only=present_only,
    )

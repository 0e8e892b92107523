"""`stepeval config`: the run config's JSON Schema, and checking a config file without running it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="The YAML run config: print its JSON Schema, check a file.", no_args_is_help=True)


def config_json_schema() -> dict:
    """RunConfig's JSON Schema, with each installed generator's `params` spelled out, so an editor
    (yaml-language-server: `# yaml-language-server: $schema=stepeval-config.json`) completes and
    checks model parameters too."""
    from stepeval.generation import registry
    from stepeval.generation.params import params_json_schema
    from stepeval.runs.schema import RunConfig

    schema = RunConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "stepeval run config"
    model = schema["$defs"]["ModelConfig"]
    names = registry.available()
    model["properties"]["name"]["enum"] = names
    model["allOf"] = [
        {"if": {"properties": {"name": {"const": name}}, "required": ["name"]},
         "then": {"properties": {"params": params}}}
        for name in names if (params := params_json_schema(name))
    ]
    return schema


@app.command("schema")
def schema_cmd(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of standard output.")] = None,
) -> None:
    """Print the JSON Schema of the run config (the YAML of `stepeval run` and `stepeval generate --config`)."""
    print_schema(config_json_schema(), out)


def print_schema(schema: dict, out: Path | None) -> None:
    """A JSON Schema on standard output, or written atomically to `out` (every `schema` command)."""
    text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        from stepeval.runs import atomic_write_text

        atomic_write_text(out, text)
        Console(stderr=True).print(f"schema written: {out}", highlight=False)


@app.command("check")
def check_cmd(config: Annotated[Path, typer.Argument(help="A run config YAML.", show_default=False)]) -> None:
    """Check a config file: keys, types, every model's parameters, every metric's settings. Exit 2 on a problem."""
    from stepeval.pipeline_run import load_config, resolve_config_path

    from stepeval.generation.tags import specs_from_config

    cfg = load_config(resolve_config_path(str(config)))
    tags = [s.tag for s in specs_from_config([m.model_dump(exclude_none=True) for m in cfg.models], where=str(config))]
    Console(stderr=True).print(f"{config}: ok ({len(tags)} model setting(s): {', '.join(tags)}; metrics: {', '.join(cfg.metrics) or 'none'})",
                               highlight=False, soft_wrap=True)

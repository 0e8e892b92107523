"""The `stepeval` command: core groups plus the groups installed packages register.

Packages plug in through the `stepeval.commands` entry-point group (name = command, value = a
typer.Typer), so `reports` and `annotation_app` (or a user's package) add commands without stepeval
importing them.
"""

from __future__ import annotations

import sys
import traceback
from importlib.metadata import entry_points

import typer
from rich.console import Console
from rich.markup import escape

from stepeval import __version__
from stepeval.cli import config as config_cli
from stepeval.cli import data as data_cli
from stepeval.cli import generate as generate_cli
from stepeval.cli import published as published_cli
from stepeval.cli import run as run_cli
from stepeval.cli import score as score_cli
from stepeval.cli import status as status_cli
from stepeval.cli import vbench as vbench_cli
from stepeval.cli.state import STATE
from stepeval.errors import UserError

err_console = Console(stderr=True)

app = typer.Typer(
    name="stepeval",
    help=(
        "Benchmark and evaluation harness for text-driven image-to-video (TI2V) models.\n\n"
        "Load Step-Video-TI2V-Eval (or the VBench-I2V suite, or any folder of image+prompt pairs), "
        "generate videos, score them, collect blinded human judgments and build leaderboards."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(data_cli.app, name="data")
app.add_typer(generate_cli.app, name="generate")
app.command("score")(score_cli.score)
app.command("status")(status_cli.status)
app.add_typer(vbench_cli.app, name="vbench")
app.add_typer(run_cli.app, name="run")
app.add_typer(config_cli.app, name="config")
app.add_typer(published_cli.app, name="published")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stepeval {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks and debug detail."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    STATE.verbose = verbose


_plugins_loaded = False


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group="stepeval.commands"):
        try:
            sub = ep.load()
        except Exception as exc:  # a broken plugin must not take the core CLI down with it
            err_console.print(f"[yellow]warning:[/] command group {ep.name!r} from {ep.value} failed to load: {exc}")
            continue
        app.add_typer(sub, name=ep.name)


def main(argv: list[str] | None = None) -> int:
    _load_plugins()
    STATE.verbose = False
    STATE.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        # Standalone mode lets click report usage errors itself (exit 2); our own errors pass through.
        app(args=argv, prog_name="stepeval", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if code == 130 and _caused_by_ctrl_c(exc):
            _say_interrupted()  # typer turns Ctrl-C into a silent exit 130
        return code
    except UserError as exc:
        if STATE.verbose:
            err_console.print(traceback.format_exc(), markup=False, highlight=False)
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        _say_interrupted()
        return 130
    return 0


def _caused_by_ctrl_c(exc: BaseException) -> bool:
    seen = exc.__context__
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _say_interrupted() -> None:
    err_console.print("[yellow]interrupted[/]: work written so far is kept; rerun the same command to resume.")


if __name__ == "__main__":
    sys.exit(main())

"""The one check of an item's files, used by every loader and so by every command.

An item is usable when its prompt file decodes to non-empty UTF-8 text and its image fully decodes
within the size limit. Anything else becomes a Problem naming the file, the reason and the fix;
nothing here raises on a damaged file.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.table import Table

from stepeval.benchmark.items import Problem
from stepeval.benchmark.prompts import read_prompt
from stepeval.errors import UserError
from stepeval.images import check_image


def check_item(
    item_id: str,
    image: Path | None,
    prompt_file: Path | None,
    *,
    strip_newlines: bool = False,
    missing_prompt: Path | None = None,
    decode_image: bool = True,
) -> tuple[str | None, list[Problem]]:
    """(prompt, problems): the prompt when the item is usable, else None and why not.

    `missing_prompt` is where the prompt file was expected, for the message when there is none;
    `decode_image=False` checks pairing and prompt only."""
    if prompt_file is None:
        name = image.stem if image is not None else item_id
        where = image.name if image is not None else item_id
        return None, [Problem("missing_prompt", missing_prompt, f"image {where} has no prompt file; fix: add {name}.txt beside it", item_id)]
    if image is None:
        return None, [Problem("missing_image", prompt_file, "prompt has no image beside it; fix: add the .png/.jpg/.webp image of the same name", item_id)]
    problems: list[Problem] = []
    prompt = None
    try:
        prompt = read_prompt(prompt_file, strip_newlines=strip_newlines)
    except UserError as exc:
        problems.append(Problem.from_error("bad_prompt", exc, item_id))
    try:
        if decode_image:
            check_image(image)
    except UserError as exc:
        problems.append(Problem.from_error("bad_image", exc, item_id))
    return (prompt if not problems else None), problems


def _shown(path: Path | None, root: Path | None) -> str:
    if path is None:
        return "-"
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)


def skipped_table(problems: list[Problem], root: Path | None = None, title: str = "skipped items") -> Table:
    """One row per problem of a left-out item: id, file (relative to root), reason with the fix."""
    table = Table(title=f"{title} ({len({p.item_id for p in problems})})", title_justify="left", caption=escape(str(root)) if root else None)
    # ids and file names are what a user greps for: the reason wraps instead
    table.add_column("item", no_wrap=True)
    table.add_column("file", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for p in problems:
        table.add_row(escape(p.item_id or "-"), escape(_shown(p.path, root)), escape(f"[{p.kind}] {p.message}"))
    return table

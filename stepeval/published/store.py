"""Finding and reading reference-results files: the ones shipped with stepeval and the user's own.

Where files are looked for, in this order (a later folder's file of the same `name` replaces an
earlier one, so a user can correct a shipped transcription without editing the package):

1. the package's own folder `stepeval/published/data/`;
2. every folder or file in ``$STEPEVAL_PUBLISHED_PATH`` (os.pathsep-separated);
3. the paths given by the caller: `stepeval report --published-path`, or the run config's
   ``report.published_paths``.

A selector names what to show: ``NAME`` (every column of every table of that reference) or
``NAME:COLUMN`` (one column id, in every table of the reference that has it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from stepeval.errors import UserError
from stepeval.published.schema import FORMAT, PairwiseTable, PublishedResults, VBenchTable

SHIPPED = Path(__file__).resolve().parent / "data"
ENV = "STEPEVAL_PUBLISHED_PATH"
SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Entry:
    name: str
    path: Path
    shipped: bool
    replaces: Path | None = None  # the file of the same name this one shadows


def _read_mapping(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read the reference-results file ({exc.strerror})", path=path,
                        hint="check the path given to --published-path or report.published_paths") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}", path=path,
                        hint="fix the syntax (docs/published-results.md has a complete example)") from exc
    if not isinstance(data, dict):
        raise UserError("a reference-results file must hold a mapping at the top", path=path,
                        hint="start from docs/published-results.md's example")
    return data


def load_file(path: str | Path) -> PublishedResults:
    """Read and validate one reference-results file; every problem is a UserError naming the file
    and the place in it."""
    path = Path(path)
    data = _read_mapping(path)
    if data.get("format") != FORMAT:
        raise UserError(f"not a reference-results file (its `format` is {data.get('format')!r}, not {FORMAT!r})", path=path,
                        hint=f"add `format: {FORMAT}` and `schema_version: 1` (docs/published-results.md)")
    try:
        return PublishedResults.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()[:8])
        raise UserError(f"invalid reference-results file: {problems}", path=path,
                        hint="see docs/published-results.md, or check it against `stepeval published schema`") from exc


def _files(where: Path) -> list[Path]:
    if where.is_file():
        return [where]
    if where.is_dir():
        return sorted(p for p in where.iterdir() if p.suffix in SUFFIXES and p.is_file() and not p.name.startswith("."))
    raise UserError("no such reference-results file or folder", path=where,
                    hint="pass an existing file or folder to --published-path (or report.published_paths)")


def search_paths(extra: Iterable[str | Path] = ()) -> list[tuple[Path, bool]]:
    """(path, shipped) in lookup order (module docstring)."""
    out: list[tuple[Path, bool]] = [(SHIPPED, True)]
    env = os.environ.get(ENV, "")
    out += [(Path(p).expanduser(), False) for p in env.split(os.pathsep) if p.strip()]
    out += [(Path(p).expanduser(), False) for p in extra]
    return out


def _name_of(path: Path) -> str:
    data = _read_mapping(path)
    name = data.get("name")
    if data.get("format") != FORMAT or not isinstance(name, str):
        raise UserError(f"not a reference-results file (needs `format: {FORMAT}` and a `name`)", path=path,
                        hint="a folder given with --published-path may hold only reference-results files")
    return name


def catalogue(extra: Iterable[str | Path] = ()) -> dict[str, Entry]:
    """Every reference reachable from the search paths, by name."""
    found: dict[str, Entry] = {}
    for where, shipped in search_paths(extra):
        if shipped and not where.is_dir():
            continue
        for path in _files(where):
            name = _name_of(path)
            previous = found.get(name)
            if previous is not None and previous.path.resolve() == path.resolve():
                continue
            found[name] = Entry(name, path, shipped, replaces=previous.path if previous else None)
    return found


def load(name: str, extra: Iterable[str | Path] = ()) -> tuple[PublishedResults, Entry]:
    """The reference called `name` and where it came from."""
    entries = catalogue(extra)
    if name not in entries:
        known = ", ".join(sorted(entries)) or "(none)"
        raise UserError(f"unknown published reference {name!r}; known: {known}",
                        hint="`stepeval published list` shows them; add your own with --published-path FILE_OR_FOLDER")
    entry = entries[name]
    ref = load_file(entry.path)
    if ref.name != name:  # pragma: no cover - catalogue read the name from the same file
        raise UserError(f"the file names itself {ref.name!r}", path=entry.path)
    return ref, entry


@dataclass(frozen=True)
class Selector:
    """`NAME`, `NAME:COLUMN` or `NAME:COLUMN=MODEL_TAG` from the command line or a config."""

    name: str
    column: str | None = None
    model_tag: str | None = None  # the run's model the column is compared with (`--compare-published`)

    def __str__(self) -> str:
        text = self.name + (f":{self.column}" if self.column else "")
        return text + (f"={self.model_tag}" if self.model_tag else "")


def parse_selector(text: str, *, allow_model: bool = False) -> Selector:
    raw = str(text).strip()
    target = None
    if allow_model and "=" in raw:
        raw, target = (s.strip() for s in raw.split("=", 1))
        if not target:
            raise UserError(f"empty model tag in {text!r}", hint="write NAME:COLUMN=MODEL_TAG, or leave out '=MODEL_TAG'")
    name, sep, column = raw.partition(":")
    name, column = name.strip(), column.strip()
    if not name or (sep and not column):
        form = "NAME:COLUMN[=MODEL_TAG]" if allow_model else "NAME[:COLUMN]"
        raise UserError(f"cannot read the published selector {text!r}", hint=f"write {form}, e.g. step-video-ti2v-report:OSTopA")
    return Selector(name, column or None, target)


@dataclass(frozen=True)
class Chosen:
    """One published column chosen for a report: which reference, table and column."""

    reference: PublishedResults
    entry: Entry
    table: VBenchTable | PairwiseTable
    column_id: str

    @property
    def column(self):
        return next(c for c in self.table.columns if c.id == self.column_id)

    @property
    def label(self) -> str:
        return f"{self.column.label} [published: {self.reference.name}, {self.table.source.table}]"


def resolve(selectors: Sequence[str | Selector], extra: Iterable[str | Path] = ()) -> list[Chosen]:
    """The published columns `selectors` name, in the order given, each once. A column id is matched
    case-insensitively in every table of its reference; naming one no table has is a UserError."""
    extra = list(extra)
    out: list[Chosen] = []
    cache: dict[str, tuple[PublishedResults, Entry]] = {}
    for sel in selectors:
        sel = sel if isinstance(sel, Selector) else parse_selector(sel)
        if sel.name not in cache:
            cache[sel.name] = load(sel.name, extra)
        ref, entry = cache[sel.name]
        hits = []
        for table in ref.tables:
            for column in table.columns:
                if sel.column is None or column.id.lower() == sel.column.lower():
                    hits.append(Chosen(ref, entry, table, column.id))
        if not hits:
            ids = sorted({c.id for t in ref.tables for c in t.columns})
            raise UserError(f"reference {sel.name!r} has no column {sel.column!r}; its columns: {', '.join(ids)}",
                            path=entry.path, hint="choose one of those ids (or give just NAME for all of them)")
        for h in hits:
            if not any(o.reference.name == h.reference.name and o.table.id == h.table.id and o.column_id == h.column_id for o in out):
                out.append(h)
    return out

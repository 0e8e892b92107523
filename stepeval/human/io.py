"""Judgments in and out: JSONL and CSV in the contract's columns (docs/data-contracts.md).

Export views: `both` (every contract column), `model` (model-relative: outcome, no screen side) and
`screen` (what the annotator clicked, with `swapped` so it stays mappable). Import takes any of
them, from our own archives or another tool: a file is validated completely before anything is
written, errors name the line, and importing the same file twice adds nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.exc import IntegrityError

from stepeval.errors import UserError
from stepeval.human.dimensions import DEFAULT_PROTOCOL, PROTOCOLS, protocol_for_dimensions, to_outcome, to_screen
from stepeval.human.db import describe
from stepeval.human.store import AnnotationStore, ImportReport, ItemInfo, now_iso
from stepeval.runs import Run, atomic_write, check_model_tag

VIEWS = ("both", "model", "screen")
FORMATS = ("jsonl", "csv")
_VIEW_DROP = {"both": (), "model": ("screen_label", "swapped"), "screen": ("outcome",)}
_SCREEN = {"left": "left", "l": "left", "tie": "tie", "t": "tie", "right": "right", "r": "right"}
_OUTCOME = {"a": "A", "model_a": "A", "win": "A", "tie": "tie", "t": "tie", "b": "B", "model_b": "B", "loss": "B"}
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise UserError(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson", "json"):
        return "jsonl"
    if suffix == "csv":
        return "csv"
    raise UserError("cannot tell the format from the file name", path=path, hint="name it .jsonl or .csv, or pass --format")


def frame_view(df: pd.DataFrame, view: str = "both") -> pd.DataFrame:
    if view not in VIEWS:
        raise UserError(f"unknown view {view!r}", hint=f"use one of {', '.join(VIEWS)}")
    return df.drop(columns=list(_VIEW_DROP[view]))


def to_jsonl(df: pd.DataFrame) -> str:
    out = io.StringIO()
    for rec in df.to_dict(orient="records"):
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v.item() if hasattr(v, "item") else v) for k, v in rec.items()}
        out.write(json.dumps(clean, ensure_ascii=False) + "\n")
    return out.getvalue()


def to_csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False)


def export_judgments(
    store: AnnotationStore, path: str | Path, *, study_id: str | None = None, fmt: str | None = None,
    view: str = "both", include_superseded: bool = False,
) -> int:
    path = Path(path)
    fmt = detect_format(path, fmt)
    df = frame_view(store.judgments_frame(study_id, include_superseded=include_superseded), view)
    text = to_jsonl(df) if fmt == "jsonl" else to_csv(df)
    try:
        atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot write the export ({exc.strerror})", path=path, hint="choose a writable location") from exc
    return len(df)


# -- import --------------------------------------------------------------------------------------
#
# One validator: the whole file is read and every problem is collected, each with its line and
# reason; a file with any problem is refused whole (nothing is written), a clean one is written in one
# transaction. The rules, besides each column's own format:
#   - a row answers one dimension of one judgment; a judgment is the rows of one annotator, item,
#     gold flag and created_at; a task is the judgments of one annotator, item and gold flag
#   - every row of a task agrees on `swapped` (which side model A was on), and with the stored task;
#     screen_label + outcome imply it, so they must agree with it; gold items (one video on both
#     sides) are never swapped, and their outcome is the clicked side read as left=A, whatever the order
#     of the models
#   - every row of a judgment agrees on seconds, cannot_judge, source and comment, and gives each
#     dimension at most once; it may answer fewer than all of the study's dimensions (studies judged
#     on fewer dimensions import; the report counts them)
#   - model tags are valid tags (`stepeval.runs.check_model_tag`) and name the study's two models,
#     either way round (then outcomes flip to the study's side)
#   - item ids are items of the run (when the run is known)
#   - the study exists, or the store has no study yet, or `new_study` says to create it: a study id
#     that is not in the store is most often a typo, which would otherwise start a second study

_MAX_SHOWN = 25  # problems listed in one message
_SOURCES_IN = {"app": "import", "import": "import", "auto": "auto"}
_NOTHING = "nothing was imported"


class ImportRefused(UserError):
    """A judgments file refused whole. `problems`: (line or None for the whole file, reason), sorted
    by line. Nothing was written."""

    def __init__(self, path: Path, problems: list[tuple[int | None, str]], hints: list[str]):
        self.problems = sorted(problems, key=lambda p: -1 if p[0] is None else p[0])
        shown = [reason if n is None else f"line {n}: {reason}" for n, reason in self.problems[:_MAX_SHOWN]]
        if len(shown) == 1:
            message = shown[0]
        else:
            more = len(self.problems) - len(shown)
            message = f"{len(self.problems)} problems; {_NOTHING}\n" + "\n".join(f"  {path}: {s}" for s in shown)
            message += f"\n  ... and {more} more" if more else ""
        unique = list(dict.fromkeys(hints))
        super().__init__(message, path=path, hint="; ".join([*unique[:3], _NOTHING]))


@dataclass
class _Row:
    line: int
    study_id: str | None
    item_id: str
    annotator: str
    dimension: str
    screen_label: str | None
    outcome: str | None
    swapped: bool | None
    model_a: str | None
    model_b: str | None
    is_gold: bool
    cannot_judge: bool
    seconds: float | None
    created_at: str | None
    source: str
    comment: str | None
    domain: str
    aspect: str
    task_id: str | None
    run_name: str | None = None

    @property
    def task_key(self) -> tuple[str, str, bool]:
        return (self.annotator, self.item_id, self.is_gold)

    @property
    def judgment_key(self) -> tuple[str, str, bool, str]:
        return (*self.task_key, self.created_at or "")


def read_judgments_text(path: Path) -> str:
    """The file's text, or one UserError naming it (missing, a folder, not UTF-8)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("file not found", path=path, hint="check the path") from None
    except IsADirectoryError:
        raise UserError("is a directory, not a judgments file", path=path, hint="give the .jsonl or .csv file") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path, hint="save the file as UTF-8") from None


def _read_records(path: Path, fmt: str):
    """(line number, dict) for every record, or (line number, reason) for a line that is not one."""
    text = read_judgments_text(path)
    if fmt == "jsonl":
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, f"not valid JSON ({exc.msg} at column {exc.colno})"
                continue
            yield n, rec if isinstance(rec, dict) else f"expected a JSON object, got {type(rec).__name__}"
    else:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames:
            raise UserError("empty CSV file (no header)", path=path, hint="the first line must name the columns")
        try:
            for rec in reader:
                yield reader.line_num, ("more fields than the header has" if None in rec else rec)
        except csv.Error as exc:
            yield reader.line_num, f"malformed CSV ({exc})"


def _text(rec: dict, key: str) -> str | None:
    v = rec.get(key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    v = str(v).strip()
    return v or None


def _flag(rec: dict, key: str, default: bool | None = False) -> bool | None:
    v = rec.get(key)
    if v is None:
        return default
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s == "" and default is None:
        return None
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(f"{key}={v!r} is not true/false")


def _parse(line: int, rec: dict) -> tuple[_Row | None, list[tuple[str, str]]]:
    """The row, or None with every (reason, fix) found in it."""
    bad: list[tuple[str, str]] = []

    def need(key: str) -> str:
        v = _text(rec, key)
        if v is None:
            bad.append((f"missing {key}", f"every row needs {key}"))
        return v or ""

    def flag(key: str, default: bool | None) -> bool | None:
        try:
            return _flag(rec, key, default)
        except ValueError as exc:
            bad.append((str(exc), "use true or false"))
            return default

    item_id, annotator, dimension = need("item_id"), need("annotator"), need("dimension")
    cannot, is_gold, swapped = bool(flag("cannot_judge", False)), bool(flag("is_gold", False)), flag("swapped", None)
    raw_screen, raw_outcome = _text(rec, "screen_label"), _text(rec, "outcome")
    screen = _SCREEN.get(raw_screen.lower()) if raw_screen else None
    outcome = _OUTCOME.get(raw_outcome.lower()) if raw_outcome else None
    if raw_screen and screen is None:
        bad.append((f"screen_label {raw_screen!r} is not left, tie or right", "fix the label"))
    if raw_outcome and outcome is None:
        bad.append((f"outcome {raw_outcome!r} is not A, tie or B", "fix the label"))
    if screen and outcome:
        if (screen == "tie") != (outcome == "tie"):
            bad.append((f"screen_label={screen} but outcome={outcome}: no side of the screen makes them agree", "fix the row"))
        elif screen != "tie":
            implied = to_outcome(screen, False) != outcome  # the label pair says which side model A was on
            if swapped is None:
                swapped = implied
            elif swapped != implied:
                bad.append((f"screen_label={screen}, swapped={swapped} means outcome {to_outcome(screen, swapped)}, but the row says {outcome}", "fix the row"))
    elif screen and screen != "tie" and swapped is None:
        bad.append(("a screen_label needs the swapped column to know which model was on the left", "add swapped, or give the model-relative outcome"))
    if not screen and not outcome and not cannot and not (raw_screen or raw_outcome):
        bad.append(("no judgment (screen_label or outcome)", "add a label, or set cannot_judge=true"))
    if is_gold and swapped:
        bad.append(("a gold item shows one video on both sides, so swapped must be false", "fix swapped, or give the model-relative outcome"))
    model_a, model_b = _text(rec, "model_a"), _text(rec, "model_b")
    if (model_a is None) != (model_b is None):
        bad.append((f"names {'model_a' if model_a else 'model_b'} but not {'model_b' if model_a else 'model_a'}", "give both model tags, or neither"))
    for tag in (model_a, model_b):
        if tag:
            try:
                check_model_tag(tag)
            except UserError as exc:
                bad.append((str(exc).split("\n")[0], exc.hint or "fix the model tag"))
    if model_a and model_a == model_b:
        bad.append((f"model_a and model_b are both {model_a!r}", "a study compares two different model tags"))
    seconds_v = None
    seconds = _text(rec, "seconds")
    if seconds is not None:
        try:
            seconds_v = None if isinstance(rec.get("seconds"), bool) else float(seconds)
        except ValueError:
            pass
        if seconds_v is None or not math.isfinite(seconds_v) or seconds_v < 0:
            bad.append((f"seconds={seconds!r} is not a number of seconds", "give seconds as a number >= 0, or leave it empty"))
    created_at = _text(rec, "created_at")
    if created_at is not None:
        try:
            datetime.fromisoformat(created_at)
        except ValueError:
            bad.append((f"created_at={created_at!r} is not an ISO 8601 time", "write it like 2025-01-02T03:04:05+00:00"))
    raw_source = (_text(rec, "source") or "import").lower()
    if raw_source not in _SOURCES_IN:
        bad.append((f"source={raw_source!r} is not app, import or auto", "fix the source (auto: metric-derived judgments)"))
    if bad:
        return None, bad
    return _Row(
        line, _text(rec, "study_id"), item_id, annotator, dimension, screen, outcome, swapped, model_a, model_b, is_gold, cannot,
        seconds_v, created_at, _SOURCES_IN[raw_source], _text(rec, "comment"), _text(rec, "domain") or "", _text(rec, "aspect") or "",
        _text(rec, "task_id"), _text(rec, "run_name"),
    ), []


def _lines(rows) -> str:
    lines = sorted(r.line for r in rows)
    shown = ", ".join(map(str, lines[:8])) + (f" (+{len(lines) - 8})" if len(lines) > 8 else "")
    return ("line " if len(lines) == 1 else "lines ") + shown


def _run_item_ids(store: AnnotationStore, study: str | None) -> list[str] | None:
    """The items of the run a stored study was made from, when that run is still there."""
    if study is None:
        return None
    root = store.study(study).run_root
    if not root or not (Path(root) / "run.yaml").is_file():
        return None
    try:
        return Run.open(root).item_ids
    except UserError:
        return None


def import_judgments(
    store: AnnotationStore, path: str | Path, *, study_id: str | None = None, fmt: str | None = None,
    run_items: Sequence[str] | None = None, new_study: bool = False,
) -> ImportReport:
    """Load judgments made elsewhere into a study. The whole file is validated first (see the rules
    above) and refused whole, with every problem's line, when any row is bad; then it is written in
    one transaction. Re-importing adds nothing.

    `study_id` overrides the file's study_id. A study that does not exist is created (from the file's
    model_a/model_b) when the store has no study yet or `new_study` is set, and refused otherwise.
    `run_items`: the run's item ids (default: those of the run the stored study was made from)."""
    path = Path(path)
    fmt = detect_format(path, fmt)
    problems: list[tuple[int | None, str]] = []
    hints: list[str] = []

    def bad(line: int | None, reason: str, hint: str) -> None:
        problems.append((line, reason))
        hints.append(hint)

    rows: list[_Row] = []
    named: list[tuple[int, str]] = []  # (line, study_id), read from every record, good or bad
    names_models = False
    lines = 0
    for n, rec in _read_records(path, fmt):
        lines += 1
        if isinstance(rec, str):
            bad(n, rec, "fix or remove that line")
            continue
        if _text(rec, "study_id"):
            named.append((n, _text(rec, "study_id")))
        names_models = names_models or bool(_text(rec, "model_a") or _text(rec, "model_b"))
        row, errors = _parse(n, rec)
        for reason, hint in errors:
            bad(n, reason, hint)
        if row is not None:
            rows.append(row)
    if not lines:
        raise UserError("no judgments in the file", path=path, hint="export judgments with `stepeval annotate export`")

    # the study
    existing = store.study_ids()
    target = study_id or (named[0][1] if named else None)
    if study_id is None:
        for n, sid in named:
            if sid != target:
                bad(n, f"study {sid!r}, but line {named[0][0]} names {target!r}", "import one study per file, or pass --study")
    if target is None:
        if len(existing) == 1:
            target = existing[0]
        else:
            bad(None, f"the file names no study_id and {describe(store.url)} holds {len(existing) or 'no'} stud{'y' if len(existing) == 1 else 'ies'}",
                "choose the study with --study" if existing else "add a study_id column with the new study's id")
    known = target in existing
    if target is not None and not known and existing and not new_study:
        bad(named[0][0] if named and study_id is None else None, f"no study {target!r} in {describe(store.url)} (it holds {', '.join(existing)})",
            f"correct the study_id (a typo?), import into an existing study with --study, or pass --new-study to create {target!r}")
    protocol = None
    if known:
        info = store.study(target)
        model_a, model_b, dims = info.model_a, info.model_b, [d.name for d in info.dimensions]
    else:
        first = next((r for r in rows if r.model_a and r.model_b), None)
        model_a, model_b = (first.model_a, first.model_b) if first else (None, None)
        # A new study asks the questions of the template the file's dimensions belong to (an export
        # of a T2V study makes a T2V study); rows on dimensions of no single template are refused below.
        protocol = (protocol_for_dimensions(r.dimension for r in rows) or PROTOCOLS[DEFAULT_PROTOCOL]).name
        dims = list(PROTOCOLS[protocol].dimension_names)
        if target is not None and not names_models:
            bad(None, f"study {target!r} does not exist and no row names model_a and model_b", "add those columns, or import into an existing study with --study")
    if run_items is None and known:
        run_items = _run_item_ids(store, target)
    allowed = set(run_items or ())

    # each row on its own, against the study
    item_info: dict[str, _Row] = {}
    for r in rows:
        if model_a and (r.model_a or r.model_b):
            if (r.model_a, r.model_b) == (model_b, model_a):
                # The file's A is our B: the same judgment seen from the other side. A gold item shows one
                # video on both sides: its outcome is the clicked side read as left=A, in any orientation.
                if not r.is_gold:
                    r.outcome = {"A": "B", "B": "A"}.get(r.outcome, r.outcome)
                    r.swapped = None if r.swapped is None else not r.swapped
            elif (r.model_a, r.model_b) != (model_a, model_b):
                bad(r.line, f"models {r.model_a} vs {r.model_b} do not match the study ({model_a} vs {model_b})", "import into the study that compares those models")
        if r.dimension not in dims:
            bad(r.line, f"unknown dimension {r.dimension!r}", f"use {', '.join(dims)}")
        if allowed and r.item_id not in allowed:
            bad(r.line, f"item {r.item_id!r} is not an item of the run ({len(allowed)} items)", "judgments must be on the run's items: check the item ids, and the run")
        seen = item_info.setdefault(r.item_id, r)
        if (r.domain and seen.domain and r.domain != seen.domain) or (r.aspect and seen.aspect and r.aspect != seen.aspect):
            bad(r.line, f"item {r.item_id!r} is {r.domain}/{r.aspect} here but {seen.domain}/{seen.aspect} on line {seen.line}", "fix domain and aspect")

    # tasks and judgments: rows that belong together must agree
    tasks: dict[tuple, list[_Row]] = {}
    groups: dict[tuple, list[_Row]] = {}
    for r in rows:
        tasks.setdefault(r.task_key, []).append(r)
        groups.setdefault(r.judgment_key, []).append(r)
    task_of_id: dict[str, tuple] = {}
    for key, trows in tasks.items():
        who = f"annotator {key[0]!r}, item {key[1]!r}" + (" (gold)" if key[2] else "")
        sides = {v: [r for r in trows if r.swapped is v] for v in (False, True)}
        if sides[False] and sides[True]:
            later = max(sides.values(), key=lambda rs: min(r.line for r in rs))
            bad(min(r.line for r in later), f"rows of one task ({who}) disagree on swapped ({_lines(sides[True])}: true; {_lines(sides[False])}: false)",
                "a task shows model A on one side for all its rows: fix swapped, or drop it and keep the outcome")
        ids = {r.task_id for r in trows if r.task_id}
        if len(ids) > 1:
            bad(min(r.line for r in trows if r.task_id), f"rows of one task ({who}) name {len(ids)} task_ids: {', '.join(sorted(ids))}", "one task_id per annotator and item")
        for tid in ids:
            other = task_of_id.setdefault(tid, key)
            if other != key:
                bad(min(r.line for r in trows if r.task_id == tid), f"task_id {tid!r} names two tasks ({other[0]!r}/{other[1]!r} and {key[0]!r}/{key[1]!r})", "fix task_id")
    for key, group in groups.items():
        by_dim: dict[str, _Row] = {}
        for r in sorted(group, key=lambda r: r.line):
            if r.dimension in by_dim:
                bad(r.line, f"a second {r.dimension} answer for annotator {r.annotator!r}, item {r.item_id!r} at {r.created_at} (line {by_dim[r.dimension].line})",
                    "one row per dimension and judgment (give superseded answers their own created_at)")
            by_dim.setdefault(r.dimension, r)
        for field_name in ("seconds", "cannot_judge", "source", "comment"):
            values = {getattr(r, field_name) for r in group} - ({None} if field_name in ("seconds", "comment") else set())
            if len(values) > 1:
                bad(max(r.line for r in group), f"rows of one judgment (annotator {key[0]!r}, item {key[1]!r} at {key[3] or 'no time'}, {_lines(group)}) disagree on {field_name}",
                    f"give every row of a judgment the same {field_name}")
    if problems:
        raise ImportRefused(path, problems, hints)

    for _attempt in range(5):
        try:
            return _write(store, path, target, known, model_a, model_b, dims, rows, tasks, groups, protocol)
        except IntegrityError:
            continue  # another writer stored the same submission meanwhile: decide again
    raise UserError("the import kept colliding with another writer; nothing was imported", path=path, hint="retry when the other import is done")


def _write(store, path, target, known, model_a, model_b, dims, rows, tasks, groups, protocol) -> ImportReport:
    report = ImportReport(tasks=len(tasks))
    with store.import_batch() as batch:
        if not known:
            items = {}
            for r in rows:
                items.setdefault(r.item_id, ItemInfo(r.item_id, r.domain, r.aspect, "", None))
            batch.create_study(target, run_name=first_run_name(rows, path), model_a=model_a, model_b=model_b, items=list(items.values()),
                               protocol=protocol)
        side = {key: next((r.swapped for r in trows if r.swapped is not None), None) for key, trows in tasks.items()}
        if known:
            clashes = []
            for key, trows in tasks.items():
                if side[key] is None or key[2]:
                    continue
                stored = batch.stored_swapped(target, *key)
                if stored is not None and stored != side[key]:
                    clashes.append((min(r.line for r in trows if r.swapped is not None),
                                    f"annotator {key[0]!r}, item {key[1]!r}: the file says swapped={side[key]} but the stored task says {stored}"))
            if clashes:  # raised inside the transaction: nothing of it stays
                raise ImportRefused(path, clashes, ["import model-relative rows (outcome) or fix the swapped column"])
        for key, group in sorted(groups.items(), key=lambda kv: (kv[0][3], min(r.line for r in kv[1]))):
            g0 = min(group, key=lambda r: r.line)
            task_key = key[:3]
            file_task_id = next((r.task_id for r in tasks[task_key] if r.task_id), None)
            task_id, ann_id, created, task_swapped = batch.ensure_task(
                target, g0.annotator, ItemInfo(g0.item_id, g0.domain, g0.aspect, "", None), is_gold=g0.is_gold, swapped=side[task_key], task_id=file_task_id
            )
            if created:
                report.annotators_created.append(g0.annotator)
            labels = {g.dimension: (g.screen_label or (to_screen(g.outcome, task_swapped) if g.outcome else None)) for g in group}
            cannot = g0.cannot_judge
            seconds = next((g.seconds for g in group if g.seconds is not None), None)
            comment = next((g.comment for g in group if g.comment), None)
            # The same fingerprint as earlier versions, so files imported by them are not imported twice.
            fp_key = (*key, next((g.task_id for g in group if g.task_id), "") or "")
            fingerprint = json.dumps([target, fp_key, sorted(labels.items(), key=lambda kv: kv[0]), cannot, comment], default=str)
            sid = "import-" + hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()[:40]
            res = batch.submit(task_id, annotator_id=ann_id, labels=labels, submission_id=sid, seconds=seconds, comment=comment,
                               cannot_judge=cannot, source=g0.source, created_at=g0.created_at or now_iso())
            if res.created:
                report.judgments += 1
                report.rows += len(group)
                report.partial += len(labels) < len(dims)
            else:
                report.duplicates += 1
                report.duplicate_rows += len(group)
    return report


def first_run_name(rows: list[_Row], path: Path) -> str:
    return next((r.run_name for r in rows if r.run_name), None) or path.stem

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
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stepeval.errors import UserError
from stepeval.human.dimensions import DIMENSION_NAMES, to_outcome, to_screen
from stepeval.human.store import AnnotationStore, ImportReport, ItemInfo, now_iso
from stepeval.runs import atomic_write

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


def _read_records(path: Path, fmt: str):
    """(line number, dict) for every record; malformed lines raise with their number."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("file not found", path=path, hint="check the path") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path, hint="save the file as UTF-8") from None
    if fmt == "jsonl":
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"line {n}: not valid JSON ({exc.msg} at column {exc.colno})", path=path, hint="fix or remove that line; nothing was imported") from None
            if not isinstance(rec, dict):
                raise UserError(f"line {n}: expected a JSON object, got {type(rec).__name__}", path=path, hint="one object per line; nothing was imported")
            yield n, rec
    else:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames:
            raise UserError("empty CSV file (no header)", path=path, hint="the first line must name the columns")
        try:
            for rec in reader:
                if None in rec:
                    raise UserError(f"line {reader.line_num}: more fields than the header has", path=path, hint="quote fields that contain commas; nothing was imported")
                yield reader.line_num, rec
        except csv.Error as exc:
            raise UserError(f"line {reader.line_num}: malformed CSV ({exc})", path=path, hint="fix that line; nothing was imported") from None


def _text(rec: dict, key: str) -> str | None:
    v = rec.get(key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    v = str(v).strip()
    return v or None


def _flag(rec: dict, key: str, line: int, path: Path, default: bool | None = False) -> bool | None:
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
    raise UserError(f"line {line}: {key}={v!r} is not true/false", path=path, hint="use true or false; nothing was imported")


def _parse(line: int, rec: dict, path: Path) -> _Row:
    def need(key):
        v = _text(rec, key)
        if v is None:
            raise UserError(f"line {line}: missing {key}", path=path, hint=f"every row needs {key}; nothing was imported")
        return v

    item_id, annotator, dimension = need("item_id"), need("annotator"), need("dimension")
    cannot = bool(_flag(rec, "cannot_judge", line, path))
    raw_screen, raw_outcome = _text(rec, "screen_label"), _text(rec, "outcome")
    screen = _SCREEN.get(raw_screen.lower()) if raw_screen else None
    outcome = _OUTCOME.get(raw_outcome.lower()) if raw_outcome else None
    if raw_screen and screen is None:
        raise UserError(f"line {line}: screen_label {raw_screen!r} is not left, tie or right", path=path, hint="fix the label; nothing was imported")
    if raw_outcome and outcome is None:
        raise UserError(f"line {line}: outcome {raw_outcome!r} is not A, tie or B", path=path, hint="fix the label; nothing was imported")
    swapped = _flag(rec, "swapped", line, path, default=None)
    if screen and not outcome and swapped is None:
        raise UserError(f"line {line}: a screen_label needs the swapped column to know which model was on the left", path=path, hint="add swapped, or give the model-relative outcome; nothing was imported")
    if screen and outcome and swapped is not None and to_outcome(screen, swapped) != outcome:
        raise UserError(f"line {line}: screen_label={screen}, swapped={swapped} means outcome {to_outcome(screen, swapped)}, but the row says {outcome}", path=path, hint="fix the row; nothing was imported")
    if not screen and not outcome and not cannot:
        raise UserError(f"line {line}: no judgment (screen_label or outcome)", path=path, hint="add a label, or set cannot_judge=true; nothing was imported")
    seconds = _text(rec, "seconds")
    try:
        seconds_v = float(seconds) if seconds is not None else None
    except ValueError:
        raise UserError(f"line {line}: seconds={seconds!r} is not a number", path=path, hint="fix the row; nothing was imported") from None
    source = (_text(rec, "source") or "import").lower()
    return _Row(
        line, _text(rec, "study_id"), item_id, annotator, dimension, screen, outcome, swapped,
        _text(rec, "model_a"), _text(rec, "model_b"), bool(_flag(rec, "is_gold", line, path)), cannot, seconds_v,
        _text(rec, "created_at"), "auto" if source == "auto" else "import", _text(rec, "comment"),
        _text(rec, "domain") or "", _text(rec, "aspect") or "", _text(rec, "task_id"), _text(rec, "run_name"),
    )


def import_judgments(store: AnnotationStore, path: str | Path, *, study_id: str | None = None, fmt: str | None = None) -> ImportReport:
    """Load judgments made elsewhere into a study (created when it does not exist and the file
    names model_a and model_b). Validates the whole file first; re-importing adds nothing."""
    path = Path(path)
    fmt = detect_format(path, fmt)
    rows = [_parse(n, rec, path) for n, rec in _read_records(path, fmt)]
    if not rows:
        raise UserError("no judgments in the file", path=path)
    target = study_id or rows[0].study_id
    if target is None:
        target = store.resolve_study(None)
    known = target in store.study_ids()
    first = rows[0]
    if known:
        info = store.study(target)
        model_a, model_b, dims = info.model_a, info.model_b, [d.name for d in info.dimensions]
    else:
        if not (first.model_a and first.model_b):
            raise UserError(f"study {target!r} does not exist and line {first.line} does not name model_a and model_b", path=path, hint="add those columns, or import into an existing study with --study")
        model_a, model_b, dims = first.model_a, first.model_b, list(DIMENSION_NAMES)
    groups: dict[tuple, list[_Row]] = {}
    for r in rows:
        if r.study_id and study_id is None and r.study_id != target:
            raise UserError(f"line {r.line}: study {r.study_id!r}, but the file started with {target!r}", path=path, hint="import one study per file, or pass --study")
        flip = False
        if r.model_a or r.model_b:
            if (r.model_a, r.model_b) == (model_b, model_a):
                flip = True
            elif (r.model_a, r.model_b) != (model_a, model_b):
                raise UserError(f"line {r.line}: models {r.model_a} vs {r.model_b} do not match the study ({model_a} vs {model_b})", path=path, hint="import into the study that compares those models; nothing was imported")
        if flip:  # the file's A is our B: the same judgment seen from the other side
            r.outcome = {"A": "B", "B": "A"}.get(r.outcome, r.outcome)
            if r.swapped is not None:
                r.swapped = not r.swapped
        if r.dimension not in dims:
            raise UserError(f"line {r.line}: unknown dimension {r.dimension!r}", path=path, hint=f"use {', '.join(dims)}; nothing was imported")
        key = (r.annotator, r.item_id, r.is_gold, r.created_at or "", r.task_id or "")
        group = groups.setdefault(key, [])
        if any(g.dimension == r.dimension for g in group):
            raise UserError(f"line {r.line}: a second {r.dimension} answer for annotator {r.annotator!r}, item {r.item_id!r} at {r.created_at}", path=path, hint="one row per dimension and judgment (give superseded answers their own created_at); nothing was imported")
        group.append(r)
    for key, group in groups.items():
        missing = [d for d in dims if d not in {g.dimension for g in group}]
        if missing and not any(g.cannot_judge for g in group):
            raise UserError(f"line {group[0].line}: annotator {key[0]!r}, item {key[1]!r} lacks {', '.join(missing)}", path=path, hint="give every dimension, or set cannot_judge=true; nothing was imported")
    if not known:
        items = {}
        for r in rows:
            items.setdefault(r.item_id, ItemInfo(r.item_id, r.domain, r.aspect, "", None))
        store.create_study(target, run_name=first_run_name(rows, path), model_a=model_a, model_b=model_b, items=list(items.values()), with_admin_token=False)
    report = ImportReport()
    for key, group in sorted(groups.items(), key=lambda kv: (kv[0][3], kv[1][0].line)):
        g0 = group[0]
        swapped = next((g.swapped for g in group if g.swapped is not None), None)
        task_id, ann_id, created, task_swapped = store.ensure_import_task(
            target, g0.annotator, ItemInfo(g0.item_id, g0.domain, g0.aspect, "", None), is_gold=g0.is_gold, swapped=swapped, task_id=g0.task_id
        )
        if created:
            report.annotators_created.append(g0.annotator)
        labels = {g.dimension: (g.screen_label or (to_screen(g.outcome, task_swapped) if g.outcome else None)) for g in group}
        cannot = any(g.cannot_judge for g in group)
        seconds = next((g.seconds for g in group if g.seconds is not None), None)
        comment = next((g.comment for g in group if g.comment), None)
        fingerprint = json.dumps([target, key, sorted(labels.items(), key=lambda kv: kv[0]), cannot, comment], default=str)
        sid = "import-" + hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()[:40]
        res = store.submit(task_id, annotator_id=ann_id, labels=labels, submission_id=sid, seconds=seconds, comment=comment,
                           cannot_judge=cannot, source=g0.source, created_at=g0.created_at or now_iso())
        if res.created:
            report.judgments += 1
        else:
            report.duplicates += 1
    return report


def first_run_name(rows: list[_Row], path: Path) -> str:
    return rows[0].run_name or path.stem

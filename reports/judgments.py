"""The human judgments frame (docs/data-contracts.md): loading, checking, coding.

A judgments frame has one row per (task, annotator, dimension). Reports read it from an exported
JSONL/CSV file, or from an annotation store through `stepeval.human` when that package is
installed. Before any statistic, `prepare_judgments` checks the columns, parses the booleans a CSV
turns into text, and adds ``code``: the outcome from model A's side (+1 A won, 0 tie, -1 B won).

Human and automatic (``source == "auto"``) judgments are never mixed: `prepare_judgments` refuses
a frame holding both, and `split_sources` is how a caller separates them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from stepeval.errors import UserError
from stepeval.human.dimensions import ALL_DIMENSION_NAMES, dimension_label
from stepeval.human.schema import JUDGMENT_BOOL_COLUMNS, JUDGMENT_COLUMNS, JUDGMENT_TEXT_COLUMNS
from stepeval.stats import encode_outcomes

#: The contract's columns, owned by `stepeval.human.schema`; the name report modules use.
COLUMNS = JUDGMENT_COLUMNS
#: Columns without which no table can be built; the others are filled with neutral values.
REQUIRED = ("run_name", "item_id", "annotator", "dimension", "model_a", "model_b", "outcome")
BOOL_COLUMNS = JUDGMENT_BOOL_COLUMNS
TEXT_COLUMNS = JUDGMENT_TEXT_COLUMNS

DOMAIN_NAMES = {"real": "Real", "anime": "Anime"}


def dimension_name(dimension: str) -> str:
    return dimension_label(dimension)


def domain_name(domain: str) -> str:
    if not domain:
        return "(none)"
    return DOMAIN_NAMES.get(domain, domain)


def _distinct(values) -> set[str]:
    if isinstance(values, (set, frozenset, dict)):
        return set(values)
    return set(pd.unique(np.asarray(list(values) if not hasattr(values, "__array__") else values, dtype=object)))


def ordered_dimensions(values) -> list[str]:
    """The dimensions present, in their template's order (any template's), then unknown ones by name."""
    present = _distinct(values)
    return [d for d in ALL_DIMENSION_NAMES if d in present] + sorted(present - set(ALL_DIMENSION_NAMES))


def ordered_domains(values) -> list[str]:
    present = _distinct(values)
    return [d for d in DOMAIN_NAMES if d in present] + sorted(present - set(DOMAIN_NAMES))


def empty_judgments() -> pd.DataFrame:
    return prepare_judgments(pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS}))


def _parse_bool(series: pd.Series, column: str, where: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype(bool)
    mapping = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False, "": False,
               "nan": False, "none": False}
    text = series.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip().lower())
    bad = sorted(set(text) - set(mapping))
    if bad:
        raise UserError(
            f"column {column!r} holds non-boolean value(s): {', '.join(map(repr, bad[:5]))}",
            path=where or None, hint="use true/false",
        )
    return text.map(mapping).astype(bool)


def prepare_judgments(frame: pd.DataFrame, *, where: str = "") -> pd.DataFrame:
    """Check a judgments frame and add ``code`` (A's side: +1 / 0 / -1).

    `where` names the file or store the frame came from, for error messages. Missing optional
    columns are filled (no gold, nothing flagged, source ``app``); a missing required column or an
    unknown outcome label is a `UserError`. Refuses a frame mixing human and ``auto`` judgments.
    """
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise UserError(
            f"judgments lack column(s) {', '.join(missing)}",
            path=where or None,
            hint="export the judgments with `stepeval annotate export` (columns: docs/data-contracts.md)",
        )
    out = frame.copy().reset_index(drop=True)
    for column in COLUMNS:
        if column not in out.columns:
            out[column] = False if column in BOOL_COLUMNS else (np.nan if column == "seconds" else "")
    for column in TEXT_COLUMNS:
        # Plain object arrays: pandas' Arrow-backed strings are slow to iterate row by row, and
        # reports iterate a lot (pivots, per-item tables).
        values = out[column].astype(object).to_numpy()
        missing = pd.isna(values)
        if missing.any():
            values = np.where(missing, "", values)
        out[column] = pd.Series(values.astype(str).astype(object), index=out.index, dtype=object)
    for column in BOOL_COLUMNS:
        out[column] = _parse_bool(out[column], column, where)
    out.loc[out["source"] == "", "source"] = "app"
    try:
        out["code"] = encode_outcomes(out["outcome"]) if len(out) else np.array([], dtype=np.int8)
    except UserError as exc:
        raise UserError(str(exc), path=where or None) from exc
    kinds = set(out["source"] == "auto")
    if len(kinds) > 1:
        raise UserError(
            "the judgments mix human and automatic (source 'auto') rows",
            path=where or None,
            hint="keep metric-derived judgments apart: split them with reports.judgments.split_sources",
        )
    return out


def split_sources(frame: pd.DataFrame, *, where: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(human, auto) parts of a raw judgments frame, each prepared (and so checked) on its own."""
    auto = frame["source"].astype(str) == "auto" if "source" in frame.columns else pd.Series(False, index=frame.index)
    return prepare_judgments(frame[~auto], where=where), prepare_judgments(frame[auto], where=where)


def is_auto(judgments: pd.DataFrame) -> bool:
    return bool(len(judgments)) and bool((judgments["source"] == "auto").all())


# --------------------------------------------------------------------------- loading


def _read_file(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            if path.stat().st_size == 0:
                return pd.DataFrame()
            # dtype=False: ids such as "001" must stay text.
            return pd.read_json(path, lines=True, dtype=False)
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            return pd.DataFrame(data if isinstance(data, list) else data.get("judgments", []))
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read the judgments file ({exc})", path=path,
                        hint="export it again with `stepeval annotate export`") from exc
    raise UserError("unknown judgments file type", path=path, hint="use a .jsonl, .csv or .parquet export")


def _read_store(url: str) -> pd.DataFrame:
    """Judgments of every study in the store (latest answers only), through `stepeval.human`."""
    try:
        from stepeval.human.store import AnnotationStore
    except ImportError as exc:
        raise UserError(
            "reading an annotation store needs stepeval.human, which is not available",
            path=url, hint="export the judgments to JSONL and pass that file to --annotations",
        ) from exc
    # create=False: a report must never create tables in somebody's database.
    store = AnnotationStore(url, create=False)
    try:
        return store.judgments_frame()
    finally:
        store.close()


def load_judgments(source: str | Path, *, run_name: str | None = None) -> pd.DataFrame:
    """Raw judgments from a file (JSONL/CSV/Parquet) or an annotation store (SQLAlchemy URL or
    ``.sqlite`` file), refused when they belong to another run than `run_name`. Columns and labels
    are checked by `prepare_judgments` / `split_sources`, which name `source` in their errors."""
    text = str(source)
    if "://" in text:
        frame, where = _read_store(text), text
    else:
        path = Path(text)
        if not path.exists():
            raise UserError("annotations not found", path=path, hint="pass an exported .jsonl/.csv file or a store URL")
        if path.suffix.lower() in (".sqlite", ".sqlite3", ".db"):
            frame, where = _read_store(f"sqlite:///{path.resolve()}"), text
        else:
            frame, where = _read_file(path), text
    if run_name is not None and len(frame) and "run_name" in frame.columns:
        names = sorted({str(v) for v in frame["run_name"].dropna()})
        others = [n for n in names if n != run_name]
        if others:
            raise UserError(
                f"these judgments belong to run {', '.join(map(repr, others))}, not to {run_name!r}",
                path=where,
                hint="pass the annotation store or export of this run (its run_name must match the run directory's name)",
            )
    return frame

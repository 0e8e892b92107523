"""Pairwise human studies: blinded tasks, assignment with overlap and gold items, an append-only
judgment store (SQLite in the run directory, or any SQLAlchemy URL), import/export.

    store = AnnotationStore.open(run_root=run.root)          # runs/<name>/annotations.sqlite
    study_id, admin_token = create_study_from_run(store, run, "model-x", "model-y", overlap=3, gold_per_annotator=5)
    # the questions follow the run's task (PROTOCOLS: ti2v, t2v); protocol="t2v" asks for a template
    token = store.add_annotator(study_id, "alice")
    frame = judgments_frame(store, study_id)                  # docs/data-contracts.md columns
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stepeval.human.dimensions import (
    DIMENSION_LABELS,
    DIMENSION_NAMES,
    DIMENSION_SHORT_LABELS,
    DIMENSIONS,
    OUTCOMES,
    PROTOCOLS,
    SCREEN_LABELS,
    Dimension,
    StudyProtocol,
    dimension_label,
    get_protocol,
    to_outcome,
    to_screen,
)
from stepeval.human.io import VIEWS, export_judgments, frame_view, import_judgments, to_csv, to_jsonl
from stepeval.human.schema import JUDGMENT_COLUMNS
from stepeval.human.store import (
    FRAME_COLUMNS,
    AnnotationStore,
    AuthError,
    Identity,
    ImportReport,
    ItemInfo,
    StudyInfo,
    SubmitResult,
    TaskInfo,
)
from stepeval.human.studies import create_study_from_run, run_items


def judgments_frame(
    store: AnnotationStore | str | Path,
    study_id: str | None = None,
    *,
    include_superseded: bool = False,
    source: str | None = None,
) -> pd.DataFrame:
    """Judgments as the contract's DataFrame; `store` may be a store, a run directory or a DB URL."""
    if not isinstance(store, AnnotationStore):
        text = str(store)
        store = AnnotationStore.open(db=text) if "://" in text or text.endswith((".sqlite", ".db")) else AnnotationStore.open(run_root=text)
    return store.judgments_frame(study_id, include_superseded=include_superseded, source=source)


__all__ = [
    "DIMENSIONS", "DIMENSION_LABELS", "DIMENSION_NAMES", "DIMENSION_SHORT_LABELS", "FRAME_COLUMNS",
    "JUDGMENT_COLUMNS", "OUTCOMES", "PROTOCOLS", "SCREEN_LABELS", "VIEWS",
    "AnnotationStore", "AuthError", "Dimension", "Identity", "ImportReport", "ItemInfo", "StudyInfo", "StudyProtocol",
    "SubmitResult", "TaskInfo", "create_study_from_run", "dimension_label", "export_judgments", "frame_view", "get_protocol",
    "import_judgments", "judgments_frame", "run_items", "to_csv", "to_jsonl", "to_outcome", "to_screen",
]

"""The judgments frame's columns and their types (docs/data-contracts.md), in contract order.

One row per (task, annotator, dimension). The store's frame, the JSONL/CSV export and import, the
metric-derived judges and the reports all use these names and types, so a file written by one is
read by the others.
"""

from __future__ import annotations

JUDGMENT_TYPES: dict[str, type] = {
    "study_id": str, "run_name": str, "item_id": str, "domain": str, "aspect": str, "annotator": str,
    "task_id": str, "dimension": str, "screen_label": str, "model_a": str, "model_b": str, "swapped": bool,
    "outcome": str, "is_gold": bool, "cannot_judge": bool, "seconds": float, "created_at": str, "source": str,
}
JUDGMENT_COLUMNS: tuple[str, ...] = tuple(JUDGMENT_TYPES)
JUDGMENT_BOOL_COLUMNS: tuple[str, ...] = tuple(c for c, t in JUDGMENT_TYPES.items() if t is bool)
JUDGMENT_TEXT_COLUMNS: tuple[str, ...] = tuple(c for c, t in JUDGMENT_TYPES.items() if t is str)

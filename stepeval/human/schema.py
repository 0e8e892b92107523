"""The judgments frame's columns (docs/data-contracts.md), in their contract order.

One row per (task, annotator, dimension). The store's frame, the JSONL/CSV export and import, and
the reports all use these names, so a file written by one is read by the others.
"""

from __future__ import annotations

JUDGMENT_COLUMNS: tuple[str, ...] = (
    "study_id", "run_name", "item_id", "domain", "aspect", "annotator", "task_id", "dimension",
    "screen_label", "model_a", "model_b", "swapped", "outcome", "is_gold", "cannot_judge", "seconds",
    "created_at", "source",
)

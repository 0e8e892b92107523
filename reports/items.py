"""Item metadata (domain, aspect) gathered from whatever table knows it."""

from __future__ import annotations

import pandas as pd

MODEL_ITEM = "*"  # per-model score rows (docs/data-contracts.md)


def item_meta(*sources: pd.DataFrame) -> pd.DataFrame:
    """item_id, domain, aspect from any frames holding those columns (first non-empty value wins),
    completed from Step-Video-TI2V-Eval ids (``{domain}/{aspect}/{number}``)."""
    meta: dict[str, dict[str, str]] = {}
    for frame in sources:
        if frame is None or frame.empty or "item_id" not in frame.columns:
            continue
        cols = [c for c in ("domain", "aspect") if c in frame.columns]
        for row in frame[["item_id", *cols]].drop_duplicates("item_id").itertuples(index=False):
            entry = meta.setdefault(str(row[0]), {"domain": "", "aspect": ""})
            for c, v in zip(cols, row[1:]):
                if not entry[c] and isinstance(v, str) and v:
                    entry[c] = v
    for item, entry in meta.items():
        parts = item.split("/")
        if len(parts) == 3 and parts[0] in ("real", "anime"):
            entry["domain"] = entry["domain"] or parts[0]
            entry["aspect"] = entry["aspect"] or parts[1]
    meta.pop(MODEL_ITEM, None)
    return pd.DataFrame([{"item_id": k, **v} for k, v in meta.items()], columns=["item_id", "domain", "aspect"])

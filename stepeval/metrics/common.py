"""What every metric shares: the videos of a run, the rows of scores.parquet, resume checks.

Rows follow docs/data-contracts.md: one per (model_tag, item_id, sample, metric); per-model rows use
item_id "*" and sample -1. A video counts as "already scored" only when its latest row is ok, was made
with the same settings, and the file has not changed since (size + mtime signature), so regenerating
a video re-scores it on the next run.

Sharded scoring (`stepeval score --shard I/N`): `run_videos` gives only the shard's videos and rows
go to the shard's part file. A per-model row needs every video of the model, so a shard writes it
only once the table holds a row of that metric for every video of the model: the last shard to
finish sees the others' rows (each appends its own before it looks) and writes it, the same row an
unsharded scorer would write.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stepeval.runs import SCORE_KEYS, Run

MODEL_ITEM = "*"
MODEL_SAMPLE = -1


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass(frozen=True)
class VideoRef:
    model_tag: str
    item_id: str
    sample: int
    path: Path

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.model_tag, self.item_id, self.sample)


def video_signature(path: Path) -> str | None:
    """Cheap identity of a video file: regenerating it changes size or mtime."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"


def run_videos(run: Run, *, model_tags: Sequence[str] | None = None, item_ids: Iterable[str] | None = None,
               every_shard: bool = False) -> list[VideoRef]:
    """The videos a run generated successfully (latest generations row per key says ok); for a run
    opened as one shard, that shard's videos unless `every_shard`."""
    latest = run.generations.latest(("model_tag", "item_id", "sample"))
    if latest.empty:
        return []
    rows = latest[latest["status"] == "ok"]
    if model_tags:
        rows = rows[rows["model_tag"].isin(list(model_tags))]
    if item_ids is not None:
        rows = rows[rows["item_id"].isin(list(item_ids))]
    out = []
    for r in rows.itertuples():
        if not every_shard and not run.owns(r.model_tag, r.item_id, int(r.sample)):
            continue
        rel = getattr(r, "video_path", None)
        path = run.root / rel if isinstance(rel, str) and rel else run.video_path(r.model_tag, r.item_id, int(r.sample))
        out.append(VideoRef(r.model_tag, r.item_id, int(r.sample), path))
    return sorted(out, key=lambda v: v.key)


def score_row(video: VideoRef | tuple[str, str, int], metric: str, value: float | None, *, status: str = "ok",
              error: str | None = None, details: dict | None = None, env: dict | None = None) -> dict:
    tag, item_id, sample = video.key if isinstance(video, VideoRef) else video
    v = float(value) if value is not None and status == "ok" else math.nan
    return {
        "model_tag": tag,
        "item_id": item_id,
        "sample": int(sample),
        "metric": metric,
        "value": v,
        "status": status,
        "error": error,
        "details": json.dumps(details or {}, ensure_ascii=False, sort_keys=True, default=str),
        "env": json.dumps(env or {}, ensure_ascii=False, sort_keys=True, default=str),
        "scored_at": now(),
    }


def latest_scores(run: Run, metrics: Iterable[str] | None = None) -> pd.DataFrame:
    df = run.scores.latest(SCORE_KEYS)
    if df.empty or metrics is None:
        return df
    return df[df["metric"].isin(list(metrics))].reset_index(drop=True)


def done_keys(run: Run, metric: str, settings_key: str) -> dict[tuple[str, str, int], str]:
    """(tag, item, sample) -> video signature, for videos whose latest row of `metric` is ok and was
    computed with `settings_key` (stored in details["settings_key"])."""
    df = latest_scores(run, [metric])
    out: dict[tuple[str, str, int], str] = {}
    if df.empty:
        return out
    for r in df[df["status"] == "ok"].itertuples():
        try:
            details = json.loads(r.details or "{}")
        except (TypeError, json.JSONDecodeError):
            continue
        if details.get("settings_key") == settings_key and details.get("video_signature"):
            out[(r.model_tag, r.item_id, int(r.sample))] = details["video_signature"]
    return out


def model_mean_rows(run: Run, metric: str, *, details: dict | None = None, env: dict | None = None,
                    model_tags: Iterable[str] | None = None) -> list[dict]:
    """One per-model row per tag: the mean of the latest ok per-video values (NaN + failed when none)."""
    df = latest_scores(run, [metric])
    if df.empty:
        return []
    df = df[df["item_id"] != MODEL_ITEM]
    tags = sorted(set(df["model_tag"])) if model_tags is None else list(model_tags)
    if run.shard is not None:
        tags = [t for t in tags if _every_video_has_a_row(run, df, t)]
    rows = []
    for tag in tags:
        sub = df[df["model_tag"] == tag]
        ok = sub[sub["status"] == "ok"]
        info = {**(details or {}), "n_videos": int(len(ok)), "n_failed": int((sub["status"] == "failed").sum()),
                "n_excluded": int((sub["status"] == "excluded").sum()), "reduction": "mean of per-video values"}
        if len(ok):
            rows.append(score_row((tag, MODEL_ITEM, MODEL_SAMPLE), metric, float(ok["value"].mean()), details=info, env=env))
        else:
            rows.append(score_row((tag, MODEL_ITEM, MODEL_SAMPLE), metric, None, status="failed",
                                  error="no video of this model was scored ok", details=info, env=env))
    return rows


def _every_video_has_a_row(run: Run, rows: pd.DataFrame, tag: str) -> bool:
    have = {(r.item_id, int(r.sample)) for r in rows[rows["model_tag"] == tag].itertuples()}
    return all((v.item_id, v.sample) in have for v in run_videos(run, model_tags=[tag], every_shard=True))


class RowBuffer:
    """Collects score rows and appends them to scores.parquet in batches (every `every_s` seconds or
    `max_rows` rows, and on close), so an interrupted run keeps what it scored."""

    def __init__(self, run: Run, *, every_s: float = 5.0, max_rows: int = 50):
        self.run = run
        self.every_s = every_s
        self.max_rows = max_rows
        self.rows: list[dict] = []
        self.last = time.monotonic()
        self.written = 0

    def add(self, rows: dict | Iterable[dict]) -> None:
        self.rows.extend([rows] if isinstance(rows, dict) else rows)
        if len(self.rows) >= self.max_rows or time.monotonic() - self.last >= self.every_s:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.written += self.run.scores.append(self.rows)
            self.rows = []
        self.last = time.monotonic()

    def __enter__(self) -> RowBuffer:
        return self

    def __exit__(self, *exc) -> None:
        self.flush()


def per_model_values(run: Run, prefix: str, dimensions: Sequence[str], tags: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """model tag -> {dimension: per-model value} from the latest ok per-model rows of `prefix + dimension`."""
    df = latest_scores(run, [prefix + d for d in dimensions])
    out: dict[str, dict[str, float]] = {}
    if df.empty:
        return out
    df = df[(df["item_id"] == MODEL_ITEM) & (df["status"] == "ok")]
    for r in df.itertuples():
        if tags is None or r.model_tag in tags:
            out.setdefault(r.model_tag, {})[r.metric[len(prefix):]] = float(r.value)
    return out


def aggregate_score_rows(run: Run, tags: Sequence[str], env_record: dict, *, prefix: str, dimensions: Sequence[str],
                         aggregates: Sequence[str], aggregate, protocol: dict[str, list[str]] | None = None) -> list[dict]:
    """Per model tag, a leaderboard formula's aggregates (`aggregate(raw) -> obj with .as_dict()`, raising
    UserError naming what is missing) as score rows, or failed rows carrying that message: an
    aggregate is never computed with a dimension missing."""
    from stepeval.errors import UserError

    values = per_model_values(run, prefix, dimensions, tags)
    rows = []
    for tag in tags:
        raw = values.get(tag, {})
        where = (tag, MODEL_ITEM, MODEL_SAMPLE)
        details = {"raw": raw} if protocol is None else {"raw": raw, "protocol_departures": protocol.get(tag, [])}
        try:
            agg = aggregate(raw).as_dict()
        except UserError as exc:
            error = str(exc).split("\n")[0]
            rows.extend(score_row(where, prefix + name, None, status="failed", error=error, details=details, env=env_record)
                        for name in aggregates)
            continue
        rows.extend(score_row(where, prefix + name, agg[name], details=details, env=env_record) for name in aggregates)
    return rows

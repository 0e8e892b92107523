"""How far a run is: per model and per shard, videos done / failed / left, and scores per metric.

The work of a run is its configured model tags x its items x `num_samples`; a video is done when its
latest row says ok and the file is there (as `Run.missing` decides), failed when its latest row says
failed or refused, and left otherwise. Shards are those the run's part files and invocations name
(or the split asked for), each unit counted in the shard `stepeval.runs.shards.shard_of` gives it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from stepeval.runs.lock import is_locked
from stepeval.runs.run import GENERATION_KEYS, SCORE_KEYS, Run
from stepeval.runs.shards import Shard, shard_of

_PART_RE = re.compile(r"\.part-(\d+)-of-(\d+)\.")


@dataclass
class Counts:
    done: int = 0
    failed: int = 0
    left: int = 0

    @property
    def total(self) -> int:
        return self.done + self.failed + self.left

    def to_dict(self) -> dict:
        return {"done": self.done, "failed": self.failed, "left": self.left, "total": self.total}


@dataclass
class Progress:
    run_dir: str
    models: dict[str, Counts] = field(default_factory=dict)
    shards: dict[int, dict[int, Counts]] = field(default_factory=dict)  # N -> I -> counts
    left: list[tuple[str, str, int]] = field(default_factory=list)
    failed: list[tuple[str, str, int]] = field(default_factory=list)
    scores: dict[str, dict[str, Counts]] = field(default_factory=dict)  # metric -> model tag -> counts
    active: list[str] = field(default_factory=list)  # who holds the run now: "run", "shard I/N"

    def to_dict(self) -> dict:
        return {
            "run_dir": self.run_dir,
            "complete": not self.left,
            "models": {t: c.to_dict() for t, c in self.models.items()},
            "shards": {str(n): {f"{i}/{n}": c.to_dict() for i, c in per.items()} for n, per in self.shards.items()},
            "left": [{"model_tag": t, "item_id": i, "sample": s, **{f"shard_of_{n}": shard_of(t, i, s, n) for n in self.shards}}
                     for t, i, s in self.left],
            "failed": [{"model_tag": t, "item_id": i, "sample": s} for t, i, s in self.failed],
            "scores": {m: {t: c.to_dict() for t, c in per.items()} for m, per in self.scores.items()},
            "active": self.active,
        }


def shard_counts_seen(run: Run) -> list[int]:
    """The shard counts N this run was split into: its part files and its invocations' shards."""
    seen = {int(m.group(2)) for p in run.root.glob("*.part-*-of-*.*") if (m := _PART_RE.search(p.name))}
    seen |= {Shard.parse(inv.shard).count for inv in run.record.invocations if inv.shard}
    return sorted(seen)


def run_progress(run: Run, *, shard_counts: list[int] | None = None) -> Progress:
    prog = Progress(str(run.root.resolve()))
    tags = [m.tag for m in run.config.models if m.tag]
    items = run.item_ids
    samples = run.config.num_samples
    latest = run.generations.latest(GENERATION_KEYS)
    status: dict[tuple[str, str, int], str] = {}
    if not latest.empty:
        status = {(r.model_tag, r.item_id, int(r.sample)): r.status for r in latest.itertuples()}
    counts = shard_counts if shard_counts is not None else shard_counts_seen(run)
    prog.shards = {n: {i: Counts() for i in range(n)} for n in counts}
    done_videos: dict[str, set[tuple[str, int]]] = {}
    for tag in tags:
        c = prog.models.setdefault(tag, Counts())
        for item_id in items:
            for s in range(samples):
                st = status.get((tag, item_id, s))
                if st == "ok" and run.video_path(tag, item_id, s).exists():
                    kind = "done"
                    done_videos.setdefault(tag, set()).add((item_id, s))
                elif st in ("failed", "refused"):
                    kind = "failed"
                    prog.failed.append((tag, item_id, s))
                else:
                    kind = "left"
                    prog.left.append((tag, item_id, s))
                setattr(c, kind, getattr(c, kind) + 1)
                for n, per in prog.shards.items():
                    sc = per[shard_of(tag, item_id, s, n)]
                    setattr(sc, kind, getattr(sc, kind) + 1)
    scores = run.scores.latest(SCORE_KEYS)
    if not scores.empty:
        per_video = scores[scores["item_id"] != "*"]
        for metric in sorted(set(per_video["metric"])):
            rows = per_video[per_video["metric"] == metric]
            by_key = {(r.model_tag, r.item_id, int(r.sample)): r.status for r in rows.itertuples()}
            for tag in tags:
                videos = done_videos.get(tag, set())
                st = Counter(by_key.get((tag, i, s)) for i, s in videos)
                prog.scores.setdefault(metric, {})[tag] = Counts(
                    done=st.get("ok", 0) + st.get("excluded", 0), failed=st.get("failed", 0), left=st.get(None, 0))
    if is_locked(run.root / ".run.lock"):
        prog.active.append("run")
    for p in sorted(run.root.glob(".run.part-*-of-*.lock")):
        m = _PART_RE.search(p.name)
        if m and is_locked(p):
            prog.active.append(f"shard {m.group(1)}/{m.group(2)}")
    return prog


__all__ = ["Counts", "Progress", "run_progress", "shard_counts_seen"]

"""The run directory (DESIGN.md, "Data contracts").

    runs/<name>/run.yaml               resolved configuration + environment (+ one entry per invocation)
    runs/<name>/videos/<tag>/<id>.mp4  generated videos (atomic writes)
    runs/<name>/generations.parquet    one row per video
    runs/<name>/scores.parquet         one row per video and metric
    runs/<name>/summary.json

A run is created once and reopened to resume; only one process may write a run at a time
(`Run.lock`), while the ranks of one distributed job append to its tables under a short lock.
"""

from __future__ import annotations

import json
import re
import time
from contextlib import contextmanager
from pathlib import Path

import yaml

from stepeval.errors import UserError
from stepeval.runs.atomic import atomic_write_text
from stepeval.runs.environment import capture_environment
from stepeval.runs.lock import exclusive_lock
from stepeval.runs.tables import Table

RUN_FILE = "run.yaml"
GENERATION_KEYS = ("model_tag", "item_id", "sample")
SCORE_KEYS = ("model_tag", "item_id", "sample", "metric")
_TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@=,+:-]*$")


def check_model_tag(tag: str) -> str:
    if not _TAG_RE.match(tag) or ".." in tag:
        raise UserError(
            f"invalid model tag {tag!r}",
            hint="tags are letters, digits and _ . @ = , + : - (e.g. stepvideo-ti2v@motion=5); no slashes or spaces",
        )
    return tag


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Run:
    def __init__(self, root: Path, meta: dict):
        self.root = Path(root)
        self.meta = meta

    # -- create / open -------------------------------------------------------------------------

    @classmethod
    def create(cls, root: str | Path, config: dict, *, command: str = "") -> Run:
        """Create a run, or reopen an existing one (resume) and record this invocation."""
        root = Path(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
            probe = root / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise UserError(f"cannot write the run directory ({exc.strerror})", path=root, hint="choose a writable location with --run-dir/--out") from exc
        env = capture_environment()
        path = root / RUN_FILE
        if path.exists():
            meta = cls._read_meta(path)
            meta["config"] = _merge_config(meta.get("config") or {}, config)
            meta["environment"] = env
        else:
            meta = {"stepeval_run": 1, "created_at": _now(), "config": config, "environment": env, "invocations": []}
        meta["invocations"].append({"at": _now(), "command": command, "git_commit": env.get("git_commit")})
        meta["updated_at"] = _now()
        run = cls(root, meta)
        run.save_meta()
        return run

    @classmethod
    def open(cls, root: str | Path) -> Run:
        root = Path(root)
        path = root / RUN_FILE
        if not path.is_file():
            raise UserError("not a stepeval run directory (no run.yaml)", path=root, hint="create one with `stepeval generate` or `stepeval run`")
        return cls(root, cls._read_meta(path))

    @staticmethod
    def _read_meta(path: Path) -> dict:
        try:
            meta = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise UserError(f"cannot read run.yaml ({exc})", path=path, hint="restore it from a backup or start a new run") from exc
        if not isinstance(meta, dict) or "config" not in meta:
            raise UserError("run.yaml is not a stepeval run file", path=path)
        meta.setdefault("invocations", [])
        return meta

    def save_meta(self) -> None:
        atomic_write_text(self.root / RUN_FILE, yaml.safe_dump(self.meta, allow_unicode=True, sort_keys=False))

    @property
    def config(self) -> dict:
        return self.meta["config"]

    @property
    def name(self) -> str:
        return self.root.name

    @contextmanager
    def lock(self):
        with exclusive_lock(self.root / ".run.lock"):
            yield self

    # -- layout --------------------------------------------------------------------------------

    def video_path(self, model_tag: str, item_id: str, sample: int = 0) -> Path:
        check_model_tag(model_tag)
        if item_id.startswith("/") or ".." in item_id.split("/"):
            raise UserError(f"invalid item id {item_id!r}")
        suffix = "" if sample == 0 else f"-{sample}"
        return self.root / "videos" / model_tag / f"{item_id}{suffix}.mp4"

    def model_tags(self) -> list[str]:
        videos = self.root / "videos"
        return sorted(p.name for p in videos.iterdir() if p.is_dir()) if videos.exists() else []

    @property
    def generations(self) -> Table:
        return Table(self.root / "generations.parquet")

    @property
    def scores(self) -> Table:
        return Table(self.root / "scores.parquet")

    def write_summary(self, summary: dict) -> None:
        atomic_write_text(self.root / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False, default=str))

    # -- resume --------------------------------------------------------------------------------

    def missing(self, model_tag: str, item_ids: list[str], samples: int = 1, *, retry_failed: bool = False) -> list[tuple[str, int]]:
        """(item_id, sample) pairs still to generate for a model tag.

        Done = the latest row says ok AND the video file is there. A failed item is redone only with
        retry_failed (a deterministic failure would otherwise burn GPU hours on every resume).
        """
        latest = self.generations.latest(GENERATION_KEYS)
        status: dict[tuple[str, int], str] = {}
        if not latest.empty:
            rows = latest[latest["model_tag"] == model_tag]
            status = {(r.item_id, int(r.sample)): r.status for r in rows.itertuples()}
        todo = []
        for item_id in item_ids:
            for s in range(samples):
                st = status.get((item_id, s))
                if st == "ok" and self.video_path(model_tag, item_id, s).exists():
                    continue
                if st in ("failed", "refused") and not retry_failed:
                    continue
                todo.append((item_id, s))
        return todo


def _merge_config(old: dict, new: dict) -> dict:
    """A resumed run keeps what it had and takes what the new invocation adds or changes;
    model lists are merged by tag so adding a model to a run keeps the old ones on record."""
    merged = dict(old)
    for key, value in new.items():
        if key == "models" and isinstance(value, list) and isinstance(old.get("models"), list):
            by_tag = {m.get("tag"): m for m in old["models"] if isinstance(m, dict)}
            for m in value:
                by_tag[m.get("tag")] = m
            merged["models"] = list(by_tag.values())
        else:
            merged[key] = value
    return merged

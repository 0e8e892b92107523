"""The run directory (DESIGN.md, "Data contracts").

    runs/<name>/run.yaml               resolved configuration + environment (+ one entry per invocation);
                                       one typed schema, `stepeval.runs.schema` (docs/run-yaml.md)
    runs/<name>/videos/<tag>/<id>.mp4  generated videos (atomic writes)
    runs/<name>/generations.parquet    one row per video
    runs/<name>/scores.parquet         one row per video and metric
    runs/<name>/*.part-I-of-N.parquet  the rows shard I of N appended (read as part of the table)
    runs/<name>/summary.json

A run is created once and reopened to resume; only one process may write a run (or one shard of
it, `stepeval.runs.shards`) at a time (`Run.lock`), while the ranks of one distributed job append to
its tables under a short lock. Shards of one run share no lock but the short one on run.yaml.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import yaml
from pydantic import ValidationError

from stepeval.benchmark import Subset
from stepeval.errors import UserError
from stepeval.runs.atomic import atomic_write_text
from stepeval.runs.environment import capture_environment
from stepeval.runs.lock import exclusive_lock, is_locked, short_lock
from stepeval.runs.shards import Shard
from stepeval.runs.schema import SCHEMA_VERSION, ImportRecord, Invocation, RunConfig, RunRecord, describe_errors, upgrade, validate_config
from stepeval.runs.tables import Table

RUN_FILE = "run.yaml"
GENERATIONS_FILE = "generations.parquet"
SCORES_FILE = "scores.parquet"
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


def video_path(root: Path, model_tag: str, item_id: str, sample: int = 0) -> Path:
    """Where a run keeps a video: RUN/videos/<model_tag>/<item_id>[-<sample>].mp4."""
    check_model_tag(model_tag)
    if item_id.startswith("/") or ".." in item_id.split("/"):
        raise UserError(f"invalid item id {item_id!r}")
    suffix = "" if sample == 0 else f"-{sample}"
    return Path(root) / "videos" / model_tag / f"{item_id}{suffix}.mp4"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Run:
    """A run directory. `record` is its run.yaml (`stepeval.runs.schema.RunRecord`). With a `shard`,
    the run as one shard sees it: it reads the whole tables, appends to its shard's part files, and
    its work (`owns`) is the shard's units."""

    def __init__(self, root: Path, record: RunRecord, shard: Shard | None = None):
        self.root = Path(root)
        self.record = record
        self.shard = shard

    # -- create / open -------------------------------------------------------------------------

    @classmethod
    def create(cls, root: str | Path, config: RunConfig | dict, *, command: str = "", items: Iterable[str] | None = None,
               imports: dict[str, dict] | None = None, config_file: str | Path | None = None, shard: Shard | None = None) -> Run:
        """Create a run, or reopen an existing one (resume) and record this invocation.

        `config` may be partial when the run exists: keys it sets replace the recorded ones, models
        and metrics are merged by name, and `items` (the ids this invocation selected) are added to
        the run's items. A different benchmark folder is refused: one run, one benchmark."""
        root = Path(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
            # One probe per process: shards of one run start at the same moment.
            probe = root / f".write-test.{os.getpid()}"
            probe.write_text("")
            probe.unlink(missing_ok=True)
        except OSError as exc:
            raise UserError(f"cannot write the run directory ({exc.strerror})", path=root, hint="choose a writable location with --run-dir/--out") from exc
        given = config.model_dump(exclude_unset=True) if isinstance(config, RunConfig) else dict(config)
        path = root / RUN_FILE
        with short_lock(root / ".run.yaml.lock"):  # two writers of one run.yaml must not lose each other's entries
            env = capture_environment()
            old = cls._read_record(path) if path.exists() else None
            merged = _merge_config(old.config.model_dump(exclude_unset=True) if old else {}, _store_paths(given, root))
            cfg = validate_config(merged, where=path if old else (config_file or "the run's configuration"))
            if old is not None:
                _check_same_benchmark(old.config, cfg, path)
            now = _now()
            record = RunRecord(
                created_at=old.created_at if old else now,
                updated_at=now,
                config=cfg,
                config_file=str(Path(config_file).resolve()) if config_file else (old.config_file if old else None),
                items=sorted(set(old.items if old else ()) | set(items or ())),
                imports={**(old.imports if old else {}), **{k: ImportRecord.model_validate(v) for k, v in (imports or {}).items()}},
                environment=env,
                invocations=[*(old.invocations if old else ()),
                             Invocation(at=now, command=command, cwd=str(Path.cwd()), git_commit=env.get("git_commit"),
                                        shard=str(shard) if shard else None)],
                stage_seconds=old.stage_seconds if old else [],
            )
            run = cls(root, record, shard)
            if old is not None:  # a damaged table is refused before this invocation is recorded
                run.generations.read()
                run.scores.read()
            run.save()
        return run

    @classmethod
    def open(cls, root: str | Path, shard: Shard | None = None) -> Run:
        root = Path(root)
        path = root / RUN_FILE
        if not path.is_file():
            raise UserError("not a stepeval run directory (no run.yaml)", path=root, hint="create one with `stepeval generate` or `stepeval run`")
        return cls(root, cls._read_record(path), shard)

    @staticmethod
    def _read_record(path: Path) -> RunRecord:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise UserError(f"cannot read run.yaml ({exc})", path=path, hint="restore it from a backup or start a new run") from exc
        if not isinstance(raw, dict) or "config" not in raw:
            raise UserError("run.yaml is not a stepeval run file", path=path, hint="restore it from a backup or start a new run")
        version = raw.get("schema_version")
        if isinstance(version, int) and version > SCHEMA_VERSION:
            raise UserError(f"run.yaml has schema_version {version}; this stepeval reads up to {SCHEMA_VERSION}", path=path,
                            hint="upgrade stepeval (pip install -U stepeval)")
        body = upgrade(raw, path.parent)
        try:
            return RunRecord.model_validate(body)
        except ValidationError as exc:
            raise UserError("run.yaml does not match the run schema:\n  " + "\n  ".join(describe_errors(exc, RunRecord)),
                            path=path, hint="restore the file, or correct the keys named above (docs/run-yaml.md)") from None

    def save(self) -> None:
        self.record.updated_at = _now()
        atomic_write_text(self.root / RUN_FILE, yaml.safe_dump(self.record.dump(), allow_unicode=True, sort_keys=False))

    def add_stage_seconds(self, stages: dict[str, float]) -> None:
        with short_lock(self.root / ".run.yaml.lock"):
            self.record = self._read_record(self.root / RUN_FILE)
            self.record.stage_seconds = [*self.record.stage_seconds, {k: round(v, 2) for k, v in stages.items()}]
            self.save()

    @property
    def config(self) -> RunConfig:
        return self.record.config

    # -- what the run is about -----------------------------------------------------------------

    @property
    def benchmark_path(self) -> Path | None:
        """The benchmark folder, wherever the current directory is (run.yaml keeps it absolute or
        relative to the run directory)."""
        path = self.config.benchmark.path
        if path is None:
            return None
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.root / p

    @property
    def item_ids(self) -> list[str]:
        """The run's items: what its invocations selected (runs made before items were recorded:
        the items its videos were made for)."""
        if self.record.items:
            return list(self.record.items)
        if self.generations.path.exists():
            frame = self.generations.read()
            if len(frame) and "item_id" in frame.columns:
                return sorted({str(i) for i in frame["item_id"]})
        return []

    def load_items(self, subset: Subset | None = None, *, verify: bool = False):
        """The run's benchmark items (a LoadedBenchmark), narrowed by `subset`; one clear error when the
        benchmark folder is gone."""
        from stepeval.benchmark import load_benchmark

        path = self.benchmark_path
        if path is None:
            raise UserError("run.yaml names no benchmark folder", path=self.root / RUN_FILE,
                            hint="recreate the run with `stepeval generate BENCHMARK ...`")
        if not path.exists():
            raise UserError(f"the run's benchmark folder is gone: {path}", path=self.root / RUN_FILE,
                            hint="put the benchmark back there, or set config.benchmark.path in run.yaml to where it is now")
        ids = self.item_ids
        loaded = load_benchmark(path, self.config.benchmark.kind, subset=Subset(ids=tuple(ids)) if ids else self.config.subset.to_subset(), verify=verify)
        if subset is not None and not subset.is_all:
            loaded.items = subset.apply(loaded.items)
        return loaded

    def configured_tags(self) -> list[str]:
        """Model tags the run was asked for, in config order, then imported ones."""
        tags = [m.tag for m in self.config.models if m.tag]
        return list(dict.fromkeys([*tags, *self.record.imports]))

    @property
    def name(self) -> str:
        return self.root.name

    def writer_active(self) -> bool:
        """Whether a `stepeval generate` (or `run`), or one of its shards, holds this run now: its
        tables may still grow."""
        return any(is_locked(p) for p in [self.root / ".run.lock", *sorted(self.root.glob(".run.part-*-of-*.lock"))])

    def _lock_name(self, base: str) -> Path:
        # A shard locks only itself: two processes on one shard would make its videos twice, two
        # shards never meet.
        return self.root / (f".{base}.{self.shard.part}.lock" if self.shard else f".{base}.lock")

    @contextmanager
    def lock(self):
        with exclusive_lock(self._lock_name("run"), what=f"run's shard {self.shard}" if self.shard else "run"):
            yield self

    @contextmanager
    def score_lock(self):
        """One scorer per run (or per shard of it) at a time."""
        with exclusive_lock(self._lock_name("score"), what=f"run's scoring (shard {self.shard})" if self.shard else "run's scoring"):
            yield self

    def owns(self, model_tag: str, item_id: str, sample: int = 0) -> bool:
        """Whether this process's share of the run includes the unit (always, without a shard)."""
        return self.shard is None or self.shard.owns(model_tag, item_id, sample)

    # -- layout --------------------------------------------------------------------------------

    def video_path(self, model_tag: str, item_id: str, sample: int = 0) -> Path:
        return video_path(self.root, model_tag, item_id, sample)

    def model_tags(self) -> list[str]:
        videos = self.root / "videos"
        return sorted(p.name for p in videos.iterdir() if p.is_dir()) if videos.exists() else []

    @property
    def generations(self) -> Table:
        return Table(self.root / GENERATIONS_FILE, part=self.shard.part if self.shard else None, order_by="created_at")

    @property
    def scores(self) -> Table:
        return Table(self.root / SCORES_FILE, part=self.shard.part if self.shard else None, order_by="scored_at")

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
    """A resumed run keeps what it had and takes what the new invocation sets; models are merged by
    tag and metrics by name, so adding a model to a run keeps the old ones on record."""
    merged = dict(old)
    for key, value in new.items():
        if key == "models" and isinstance(value, list) and isinstance(old.get("models"), list):
            by_tag = {m.get("tag"): m for m in old["models"] if isinstance(m, dict)}
            for m in value:
                by_tag[m.get("tag") if isinstance(m, dict) else m] = m
            merged["models"] = list(by_tag.values())
        elif key == "metrics" and isinstance(value, dict) and isinstance(old.get("metrics"), dict):
            merged["metrics"] = {**old["metrics"], **value}
        else:
            merged[key] = value
    return merged


def _store_paths(config: dict, root: Path) -> dict:
    """run.yaml's form of the paths a writer gives: the benchmark absolute, or relative to the run
    directory when it lives inside it; an ids file read into the ids."""
    out = dict(config)
    bench = out.get("benchmark")
    if isinstance(bench, (str, Path)):
        bench = {"path": str(bench)}
    if isinstance(bench, dict) and bench.get("path"):
        # Absolute as the user named it (a symlinked data folder stays the link), and relative when
        # it lies inside the run directory.
        path = Path(os.path.normpath(Path(str(bench["path"])).expanduser().absolute()))
        try:
            stored = path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            stored = str(path)
        out["benchmark"] = {**bench, "path": stored}
    subset = out.get("subset")
    if isinstance(subset, dict) and subset.get("ids_file"):
        from stepeval.benchmark.subsets import read_ids_file

        ids = [*(subset.get("ids") or []), *read_ids_file(Path(subset["ids_file"]))]
        out["subset"] = {**subset, "ids": list(dict.fromkeys(ids)), "ids_file": None}
    return out


def _check_same_benchmark(old: RunConfig, new: RunConfig, path: Path) -> None:
    a, b = old.benchmark.path, new.benchmark.path
    if a and b and (path.parent / a).resolve() != (path.parent / b).resolve():
        raise UserError(
            f"this run was made on the benchmark {a}, not {b}",
            path=path,
            hint="use another run directory (--run-dir/--name) for another benchmark, or pass the run's own benchmark folder",
        )

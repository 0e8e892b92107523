"""Registering videos made elsewhere (a commercial engine, another lab's script) into a run.

    stepeval generate import BENCHMARK FOLDER --engine kling-1.6 [--mapping map.csv] [--setting k=v]

The mapping says which file is which item: a CSV (columns item_id, file, and optionally sample,
status, note), or a JSON/YAML list of such records, or a JSON/YAML mapping {item_id: file | null |
{file, sample, status, note}}. Without a mapping, FOLDER/<item_id>.mp4 (and <item_id>-<k>.mp4 for
sample k) is looked for. A status of `refused` records that the engine declined the prompt (the
report counts refusals; they are not failures). Every file is validated by probing and decoding it in
full (frames, fps, size); a corrupt file is recorded as failed, an item with no file is reported as
missing, and the rest is imported. H.264/yuv420p mp4 files are copied; anything else is re-encoded so
every video of a run plays in a browser. Provenance (engine, date, settings, source file and its
SHA-256) goes into the `parameters` column.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stepeval.benchmark import BenchmarkItem
from stepeval.errors import UserError
from stepeval.runs import GENERATION_KEYS, Run, atomic_write
from stepeval.video import iter_frames, probe, write_video

GENERATOR = "external"
STATUSES = ("ok", "refused")


@dataclass(frozen=True)
class MappedVideo:
    item_id: str
    sample: int
    file: Path | None  # None for a refusal
    status: str = "ok"
    note: str | None = None


def _record(raw: dict, folder: Path, where: Path, n: int) -> MappedVideo:
    item_id = str(raw.get("item_id") or raw.get("id") or "").strip()
    if not item_id:
        raise UserError(f"entry {n} has no item_id", path=where, hint="every entry needs item_id (and file, unless status is refused)")
    status = str(raw.get("status") or "ok").strip().lower()
    if status not in STATUSES:
        raise UserError(f"entry {n} ({item_id}): unknown status {status!r}", path=where, hint=f"use one of {', '.join(STATUSES)}")
    file = raw.get("file") or raw.get("video") or raw.get("path")
    if status == "ok" and not file:
        raise UserError(f"entry {n} ({item_id}) has no file", path=where, hint="give the video file, or status: refused when the engine declined")
    try:
        sample = int(raw.get("sample") or 0)
    except (TypeError, ValueError):
        raise UserError(f"entry {n} ({item_id}): sample must be an integer", path=where) from None
    path = (folder / str(file)) if file else None
    return MappedVideo(item_id, sample, path, status, (str(raw["note"]) if raw.get("note") else None))


def read_mapping(path: Path, folder: Path) -> list[MappedVideo]:
    """Read a mapping file (CSV, JSON or YAML); file paths are relative to `folder`."""
    path = Path(path)
    if not path.is_file():
        raise UserError("mapping file not found", path=path, hint="pass a CSV/JSON/YAML file mapping item ids to video files")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read mapping file ({exc})", path=path, hint="save it as UTF-8") from exc
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        if rows and "item_id" not in rows[0]:
            raise UserError("CSV mapping needs an item_id column", path=path, hint="header: item_id,file[,sample,status,note]")
        records: list[dict] = rows
    else:
        try:
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise UserError(f"not valid {path.suffix.lstrip('.').upper() or 'YAML'} ({exc})", path=path,
                            hint="write the mapping as CSV (item_id,video), JSON or YAML, in UTF-8") from exc
        if isinstance(data, dict):
            records = []
            for item_id, value in data.items():
                if value is None:
                    records.append({"item_id": item_id, "status": "refused"})
                elif isinstance(value, dict):
                    records.append({"item_id": item_id, **value})
                else:
                    records.append({"item_id": item_id, "file": value})
        elif isinstance(data, list) and all(isinstance(r, dict) for r in data):
            records = data
        else:
            raise UserError("mapping must be a list of {item_id, file, ...} or a mapping item_id -> file", path=path)
    out = [_record(r, folder, path, n) for n, r in enumerate(records)]
    keys = [(m.item_id, m.sample) for m in out]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise UserError(f"item {dupes[0][0]} sample {dupes[0][1]} is mapped twice", path=path, hint="map each (item, sample) to one file")
    return out


def discover(folder: Path, item_ids: list[str], num_samples: int = 1) -> list[MappedVideo]:
    """Without a mapping: FOLDER/<item_id>.mp4 for sample 0 and FOLDER/<item_id>-<k>.mp4 for k > 0."""
    out = []
    for item_id in item_ids:
        for k in range(num_samples):
            path = folder / f"{item_id}{'' if k == 0 else f'-{k}'}.mp4"
            if path.exists():
                out.append(MappedVideo(item_id, k, path))
    return out


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # mapped ids that are not in the benchmark subset
    already_done: list[str] = field(default_factory=list)
    reencoded: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def validate_video(path: Path) -> dict:
    """Probe and decode in full. Returns frames/fps/size/codec; raises UserError for a bad file."""
    if path is not None and path.is_dir():
        raise UserError("is a folder, not a video file", path=path, hint="map the item to the .mp4 file inside it")
    if path is None or not path.is_file():
        raise UserError("video file not found", path=path)
    info = probe(path)
    if not (info.fps > 0) or info.width <= 0 or info.height <= 0:
        raise UserError(f"implausible stream (fps {info.fps}, size {info.width}x{info.height})", path=path)
    decoded = sum(1 for _ in iter_frames(path, gray=True))
    if decoded == 0 or decoded < info.frames:
        raise UserError(f"only {decoded} of {info.frames} frames decode (truncated or corrupt)", path=path, hint="re-download or re-export the video")
    return {"frames": decoded, "fps": info.fps, "width": info.width, "height": info.height, "codec": info.codec, "pix_fmt": info.pix_fmt}


def import_videos(
    run: Run,
    items: list[BenchmarkItem],
    mapped: list[MappedVideo],
    *,
    tag: str,
    engine: str,
    date: str | None = None,
    settings: dict[str, Any] | None = None,
    num_samples: int = 1,
    force: bool = False,
    on_video=None,
) -> ImportReport:
    """Validate and copy mapped videos into `videos/<tag>/`, one generations row per video."""
    report = ImportReport()
    wanted = {(it.id, s) for it in items for s in range(num_samples)}
    by_key = {(m.item_id, m.sample): m for m in mapped}
    report.unknown = sorted({f"{m.item_id}#{m.sample}" for m in mapped if (m.item_id, m.sample) not in wanted})
    latest = run.generations.latest(GENERATION_KEYS)
    done = set()
    if not latest.empty:
        ok = latest[(latest["model_tag"] == tag) & (latest["status"].isin(["ok", "refused"]))]
        done = {(r.item_id, int(r.sample)) for r in ok.itertuples() if r.status == "refused" or run.video_path(tag, r.item_id, int(r.sample)).exists()}
    host = socket.gethostname()
    for item_id, sample in sorted(wanted):
        label = item_id if num_samples == 1 else f"{item_id}#{sample}"
        m = by_key.get((item_id, sample))
        if m is None:
            report.missing.append(label)
            continue
        if (item_id, sample) in done and not force:
            report.already_done.append(label)
            continue
        dest = run.video_path(tag, item_id, sample)
        provenance: dict[str, Any] = {"engine": engine, "date": date, "settings": settings or {}, "source": str(m.file) if m.file else None}
        if m.note:
            provenance["note"] = m.note
        row = {
            "model_tag": tag, "item_id": item_id, "sample": sample, "seed": -1, "generator": GENERATOR,
            "fps": 0.0, "frames": 0, "width": 0, "height": 0, "seconds": float("nan"), "peak_memory_bytes": None,
            "status": "ok", "error": None, "traceback": None, "video_path": None,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": host, "rank": 0,
        }  # fmt: skip
        if m.status == "refused":
            row.update(status="refused", error=m.note or f"refused by {engine}")
            report.refused.append(label)
        else:
            try:
                info = validate_video(m.file)
                provenance.update(sha256=_sha256(m.file), source_codec=info["codec"], source_pix_fmt=info["pix_fmt"])
                playable = info["codec"] == "h264" and info["pix_fmt"] == "yuv420p" and m.file.suffix.lower() == ".mp4"
                if playable:
                    atomic_write(dest, lambda p: shutil.copyfile(m.file, p))
                else:
                    write_video(dest, (f for _, f in iter_frames(m.file)), info["fps"])
                    report.reencoded.append(label)
                provenance["reencoded"] = not playable
                row.update(fps=float(info["fps"]), frames=int(info["frames"]), width=int(info["width"]), height=int(info["height"]),
                           video_path=dest.relative_to(run.root).as_posix())  # fmt: skip
                report.imported.append(label)
            except Exception as exc:  # one bad file is recorded and the import goes on
                row.update(status="failed", error=str(exc))
                report.failed[label] = str(exc)
        row["parameters"] = json.dumps(provenance, sort_keys=True, ensure_ascii=False)
        run.generations.append([row])
        if on_video:
            on_video(label, row["status"])
    return report

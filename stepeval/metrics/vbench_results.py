"""VBench's own results files, both ways: write a run's VBench-I2V scores as VBench writes them, and
read VBench results made elsewhere into a run's scores.parquet, with provenance.

The formats (read from the Vchitect/VBench repository, facts in docs/vbench-i2v.md):

- ``{name}_eval_results.json``, what ``VBenchI2V.evaluate`` writes: ``{dimension: [mean,
  [{"video_path": ..., "video_results": value, ...}, ...]]}``. Per-video values are VBench's raw
  ones: `imaging_quality` per video on MUSIQ's 0-100 scale (its mean divided by 100),
  `dynamic_degree` per video a boolean. stepeval stores every value on the [0, 1] scale of the mean
  (`stepeval.metrics.vbench_i2v.PER_VIDEO_SCALE`).
- The leaderboard's archive (``scripts/cal_i2v_final_score.py``): a zip of such JSON files, at its
  top level or in one folder; only element ``[0]`` (the mean) of each dimension is read, every key
  must be one of the nine dimensions, and a dimension missing from it is counted as 0 by the
  leaderboard: `leaderboard_archive` therefore refuses a model that lacks one.

What stepeval adds, without changing what VBench's readers see: each per-video entry carries a
``"stepeval"`` object (model tag, item id, sample, the value as stored), and beside each results file
a ``{name}_stepeval.json`` records the export (run, time, environment, and the rows VBench's format
cannot hold: videos excluded from a dimension or failed). Reading a file back uses those when
present, so a run's scores survive the round trip unchanged; a file made elsewhere is read from its
video file names (`stepeval.generation.vbench_view.video_name`) or a mapping.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from stepeval.errors import UserError
from stepeval.generation.vbench_view import parse_video_name, video_name
from stepeval.metrics.aggregate import DIMENSION_KEYS
from stepeval.metrics.common import MODEL_ITEM, MODEL_SAMPLE, now, score_row
from stepeval.metrics.vbench_i2v import PER_VIDEO_SCALE, PREFIX, aggregate_rows, metric_name
from stepeval.runs import SCORE_KEYS, Run, atomic_write_bytes, atomic_write_text, check_model_tag

EXPORT_FORMAT = "stepeval-vbench-export"
RESULTS_SUFFIX = "_eval_results.json"
SIDECAR_SUFFIX = "_stepeval.json"


def _latest(run: Run, tag: str) -> pd.DataFrame:
    df = run.scores.latest(SCORE_KEYS)
    if df.empty:
        return df
    return df[(df["model_tag"] == tag) & df["metric"].isin([metric_name(d) for d in DIMENSION_KEYS])]


def _raw(value: float, dim: str, details: str | None):
    """VBench's own per-video value: the one vbench returned when stepeval ran it, else the stored
    value put back on VBench's per-video scale."""
    try:
        raw = json.loads(details or "{}").get("raw")
    except (TypeError, json.JSONDecodeError):
        raw = None
    if isinstance(raw, bool) or (isinstance(raw, (int, float)) and math.isfinite(raw)):
        return raw
    return float(value) / PER_VIDEO_SCALE.get(dim, 1.0)


def results_document(run: Run, tag: str) -> tuple[dict, dict]:
    """(VBench's results document, stepeval's sidecar) for one model tag of a run."""
    rows = _latest(run, tag)
    doc: dict[str, list] = {}
    sidecar: dict = {"format": EXPORT_FORMAT, "format_version": 1, "run_name": run.name, "model_tag": tag,
                     "exported_at": now(), "means": {}, "not_ok": [], "env": {}}
    for dim in DIMENSION_KEYS:
        sub = rows[rows["metric"] == metric_name(dim)] if len(rows) else rows
        if sub.empty:
            continue
        videos = sub[sub["item_id"] != MODEL_ITEM].sort_values(["item_id", "sample"])
        ok = videos[videos["status"] == "ok"]
        entries = []
        for r in ok.itertuples():
            entries.append({"video_path": f"vbench/{tag}/videos/{video_name(r.item_id, int(r.sample))}",
                            "video_results": _raw(r.value, dim, r.details),
                            "stepeval": {"model_tag": tag, "item_id": r.item_id, "sample": int(r.sample), "value": float(r.value)}})
        for r in videos[videos["status"] != "ok"].itertuples():
            sidecar["not_ok"].append({"metric": r.metric, "item_id": r.item_id, "sample": int(r.sample), "status": r.status,
                                      "error": r.error})
        model_row = sub[(sub["item_id"] == MODEL_ITEM) & (sub["status"] == "ok")]
        if len(model_row):
            mean = float(model_row["value"].iloc[-1])
        elif len(ok):
            mean = float(ok["value"].mean())  # what vbench itself reports: the mean over the videos scored
        else:
            continue
        sidecar["means"][dim] = "stored per-model row" if len(model_row) else "mean of the per-video values"
        doc[dim] = [mean, entries]
        if not sidecar["env"] and len(ok):
            try:
                sidecar["env"] = json.loads(ok["env"].iloc[-1] or "{}")
            except (TypeError, json.JSONDecodeError):
                sidecar["env"] = {}
    return doc, sidecar


def export_run(run: Run, out_dir: str | Path, *, model_tags: Sequence[str] | None = None, archive: bool = True) -> list[Path]:
    """Write ``OUT/<tag>/<tag>_eval_results.json`` (+ the sidecar) per model tag with VBench-I2V
    scores, and with `archive` the leaderboard's ``OUT/<tag>_eval_results.zip``. Returns the paths."""
    out_dir = Path(out_dir)
    scores = run.scores.latest(SCORE_KEYS)
    have = sorted(set(scores[scores["metric"].astype(str).str.startswith(PREFIX)]["model_tag"])) if len(scores) else []
    tags = list(model_tags) if model_tags else have
    unknown = [t for t in tags if t not in have]
    if unknown or not tags:
        raise UserError(f"no VBench-I2V scores for {', '.join(unknown) if unknown else 'any model tag'} in this run",
                        path=run.root, hint="score them first (`stepeval score RUN --metrics vbench_i2v`)"
                        + (f"; tags with scores: {', '.join(have)}" if have else ""))
    written: list[Path] = []
    for tag in tags:
        doc, sidecar = results_document(run, tag)
        folder = out_dir / tag
        results = folder / f"{tag}{RESULTS_SUFFIX}"
        atomic_write_text(results, json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
        atomic_write_text(folder / f"{tag}{SIDECAR_SUFFIX}", json.dumps(sidecar, ensure_ascii=False, indent=1, default=str) + "\n")
        written += [results, folder / f"{tag}{SIDECAR_SUFFIX}"]
        if archive:
            written.append(leaderboard_archive(results, out_dir / f"{tag}_eval_results.zip"))
    return written


def leaderboard_archive(results: str | Path, zip_path: str | Path) -> Path:
    """The zip VBench-I2V's leaderboard takes: the results JSON at its top level. A dimension
    missing from the results is refused here, because the leaderboard would count it as 0."""
    results, zip_path = Path(results), Path(zip_path)
    doc = read_document(results)
    missing = [d for d in DIMENSION_KEYS if d not in doc]
    if missing:
        raise UserError(f"no archive for the leaderboard: the results lack {', '.join(missing)}, which the leaderboard "
                        "would count as 0", path=results,
                        hint="score every dimension first, or use the results JSON without the archive (--no-archive)")
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(results.name, date_time=(1980, 1, 1, 0, 0, 0))  # a fixed date: the same scores, the same bytes
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, results.read_bytes())
    atomic_write_bytes(zip_path, buf.getvalue())
    return zip_path


def read_document(path: str | Path) -> dict[str, list]:
    """A VBench results document, checked: nine-dimension keys, each [mean, per-video list]."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read the VBench results ({exc.strerror})", path=path, hint="pass an existing file") from exc
    except json.JSONDecodeError as exc:
        raise UserError(f"not JSON ({exc})", path=path, hint=f"pass a VBench `*{RESULTS_SUFFIX}` file") from exc
    if not isinstance(doc, dict) or not doc:
        raise UserError("not a VBench results file (expected {dimension: [mean, [per-video results]]})", path=path,
                        hint=f"pass the `*{RESULTS_SUFFIX}` file VBench wrote")
    for dim, value in doc.items():
        if not isinstance(value, list) or not value or not isinstance(value[0], (int, float)) or isinstance(value[0], bool):
            raise UserError(f"dimension {dim!r} is not [mean, [per-video results]]", path=path,
                            hint=f"pass the `*{RESULTS_SUFFIX}` file VBench wrote, unedited")
    return doc


@dataclass
class ImportReport:
    model_tag: str
    rows: int = 0
    dimensions: list[str] = field(default_factory=list)
    skipped_dimensions: list[str] = field(default_factory=list)  # not VBench-I2V's nine
    unmatched: list[str] = field(default_factory=list)  # video paths no item could be found for


def _read_mapping(mapping: str | Path | Mapping[str, tuple[str, int]] | None) -> dict[str, tuple[str, int]]:
    """video file name -> (item id, sample), from a CSV with columns video, item_id[, sample]."""
    if mapping is None:
        return {}
    if isinstance(mapping, Mapping):
        return {Path(k).name: (v[0], int(v[1])) for k, v in mapping.items()}
    frame = pd.read_csv(mapping, dtype=str)
    if not {"video", "item_id"} <= set(frame.columns):
        raise UserError("a mapping needs columns video,item_id (and optionally sample)", path=mapping,
                        hint="one row per video file name: video,item_id,sample")
    samples = frame["sample"] if "sample" in frame.columns else pd.Series("0", index=frame.index)
    return {Path(v).name: (i, int(s or 0)) for v, i, s in zip(frame["video"], frame["item_id"], samples.fillna("0"))}


def import_results(run: Run, path: str | Path, model_tag: str, *,
                   mapping: str | Path | Mapping[str, tuple[str, int]] | None = None) -> ImportReport:
    """Append the VBench results in `path` to the run's scores.parquet as `model_tag`'s, with
    provenance (file, sha256, time; VBench's own raw value) in every row's details, then the
    Quality / I2V / Total rows when all nine dimensions are there. A per-video entry is placed by
    its ``stepeval`` object, else by `mapping`, else by its file name (`video_name`)."""
    path = Path(path)
    check_model_tag(model_tag)
    doc = read_document(path)
    sidecar_path = path.with_name(path.name[: -len(RESULTS_SUFFIX)] + SIDECAR_SUFFIX) if path.name.endswith(RESULTS_SUFFIX) else None
    sidecar = json.loads(sidecar_path.read_text(encoding="utf-8")) if sidecar_path and sidecar_path.is_file() else {}
    names = _read_mapping(mapping)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    provenance = {"source": "vbench results file", "file": str(path.resolve()), "sha256": digest, "imported_at": now()}
    env = {"scorer": "vbench (imported)", **(sidecar.get("env") or {}), "imported_from": str(path.resolve())}
    report = ImportReport(model_tag)
    rows: list[dict] = []
    for dim, value in doc.items():
        if dim not in DIMENSION_KEYS:
            report.skipped_dimensions.append(dim)
            continue
        report.dimensions.append(dim)
        entries = value[1] if len(value) > 1 and isinstance(value[1], list) else []
        for e in entries:
            if not isinstance(e, dict) or "video_results" not in e:
                continue
            own = e.get("stepeval") if isinstance(e.get("stepeval"), dict) else {}
            vpath = str(e.get("video_path", ""))
            place = ((own["item_id"], int(own.get("sample", 0))) if "item_id" in own else
                     names.get(Path(vpath).name) or parse_video_name(vpath))
            if place is None:
                report.unmatched.append(vpath)
                continue
            raw = e["video_results"]
            stored = own.get("value")
            v = float(stored) if isinstance(stored, (int, float)) else float(raw) * PER_VIDEO_SCALE.get(dim, 1.0)
            details = {**provenance, "raw": raw, "video_path": vpath,
                       **{k: val for k, val in e.items() if k in ("prompt_type", "predict_type")}}
            rows.append(score_row((model_tag, place[0], place[1]), metric_name(dim), v, details=details, env=env))
        rows.append(score_row((model_tag, MODEL_ITEM, MODEL_SAMPLE), metric_name(dim), float(value[0]),
                              details={**provenance, "reduction": "vbench's own mean"}, env=env))
    for r in sidecar.get("not_ok") or []:
        if r.get("metric") in {metric_name(d) for d in report.dimensions}:
            rows.append(score_row((model_tag, r["item_id"], int(r["sample"])), r["metric"], None, status=r["status"],
                                  error=r.get("error"), details=provenance, env=env))
    placed = sum(1 for r in rows if r["item_id"] != MODEL_ITEM)
    if report.unmatched and not placed:
        raise UserError(f"no video of the results could be matched to an item ({len(report.unmatched)} unmatched, e.g. "
                        f"{report.unmatched[0]!r})", path=path,
                        hint="pass --mapping CSV (video,item_id,sample), or name videos as `stepeval` does (<item id with "
                             "/ as __>-<sample>.mp4)")
    run.scores.append(rows)
    report.rows = len(rows)
    if set(DIMENSION_KEYS) <= set(report.dimensions):
        agg = aggregate_rows(run, [model_tag], env)
        run.scores.append(agg)
        report.rows += len(agg)
    return report

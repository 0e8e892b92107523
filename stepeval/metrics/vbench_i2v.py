"""VBench-I2V on a run's videos, through the real vbench==0.1.5 in its own environment.

For each chosen dimension and video this module decides what can run (weights present, input image
present, camera instruction known, video decodes, not already scored), stages the videos and their
input images in vbench's layout (`videos/<key>.mp4`, `vbench2_beta_i2v/data/crop/stepeval/<key>.png`,
a full-info JSON), runs `vbench_driver.py` in the VBench venv (one process per device), parses its
JSON and writes rows to scores.parquet:

- per video: `vbench_i2v/<dimension>`, the raw vbench value on the [0, 1] scale of vbench's mean
  (imaging_quality's per-video MUSIQ score is divided by 100 as vbench does for its mean;
  dynamic_degree and camera_motion are 0 or 1);
- per model (item "*", sample -1): the mean of the per-video values of each dimension (equal to
  vbench's own mean when all videos of a model have the same frame count), and `vbench_i2v/quality`,
  `vbench_i2v/i2v`, `vbench_i2v/total` when all nine dimensions are there (else a failed row saying
  which are missing).

The input image the i2v dimensions compare with: for VBench-I2V's own suite, the crop file of the
ratio nearest the video's aspect, unchanged (what vbench reads from `data/crop/<ratio>/`, so scores
equal vbench's own run); for other benchmarks, the image as the generator saw it: converted to RGB,
resized to cover the video's size and centre-cropped (stepeval.images.prepare_image), which is what
VBench-I2V's per-ratio crops approximate. camera_motion needs the expected camera move in the file
name; it comes from the prompt's camera instruction (stepeval.benchmark.camera: the suite's camera
prompts end in VBench's own phrases), and items without one are `excluded`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from stepeval.benchmark.camera import VBENCH_PHRASES, camera_motion
from stepeval.benchmark.vbench_suite import crop_for_size
from stepeval.errors import UserError
from stepeval.metrics.aggregate import DIMENSION_KEYS, aggregate
from stepeval.metrics.common import (
    aggregate_score_rows,
    per_model_values,
    RowBuffer,
    VideoRef,
    done_keys,
    model_mean_rows,
    run_videos,
    score_row,
    video_signature,
)
from stepeval.metrics.registry import Metric, ScoreError, ScoreReport
from stepeval.metrics.vbench_env import DRIVER, VBenchEnv, default_cache_dir, default_torch_home, load_env, missing_weights
from stepeval.metrics.vbench_weights import weights_record
from stepeval.runs import Run

PREFIX = "vbench_i2v/"
I2V_IMAGE_DIMS = ("i2v_subject", "i2v_background")
# What CI runs with random weights: all nine (stepeval.metrics.testing writes their checkpoints).
CI_DIMENSIONS = tuple(DIMENSION_KEYS)
PER_VIDEO_SCALE = {"imaging_quality": 0.01}
RESOLUTION = "stepeval"  # the crop folder name vbench's i2v dimensions read the staged images from
CAMERA_PHRASES = VBENCH_PHRASES  # vbench2_beta_i2v.camera_motion.get_type reads these from the file name
AGGREGATES = ("quality", "i2v", "total")
VBENCH_SAMPLES = 5  # VBenchI2V.evaluate reads <prompt>-0.mp4 ... <prompt>-4.mp4 for each prompt
# The human protocol's three dimensions read off VBench-I2V for the automatic judge
# (stepeval.metrics.judge); a heuristic, which reports state next to the judgments.
JUDGE_METRICS: dict[str, tuple[str, ...]] = {
    # Does the video do what was asked: the camera instruction when VBench could read one, and
    # whether anything moves at all (a static clip fails the instruction).
    "instruction_adherence": (PREFIX + "camera_motion", PREFIX + "dynamic_degree"),
    # Faithful to the input image in subject and background.
    "consistency": (PREFIX + "i2v_subject", PREFIX + "i2v_background"),
    # Plausible motion: smooth, without warping artefacts.
    "physical_laws": (PREFIX + "motion_smoothness",),
}


def metric_name(dim: str) -> str:
    return PREFIX + dim


def parse_dimensions(spec: str | None) -> list[str]:
    """`vbench-i2v` -> all nine dimensions; `vbench-i2v:a,b` -> those (`ci` = what CI runs: all nine)."""
    if not spec:
        return list(DIMENSION_KEYS)
    dims: list[str] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if part in ("all", "*"):
            dims.extend(DIMENSION_KEYS)
        elif part == "ci":
            dims.extend(CI_DIMENSIONS)
        elif part in DIMENSION_KEYS:
            dims.append(part)
        else:
            raise UserError(f"unknown VBench-I2V dimension {part!r}", hint=f"choose from {', '.join(DIMENSION_KEYS)} (or 'ci', 'all')")
    return list(dict.fromkeys(dims))


def camera_type(prompt: str | None) -> str | None:
    if not prompt:
        return None
    kind = camera_motion(prompt)
    return kind if kind in CAMERA_PHRASES else None


def parse_devices(spec: str | Sequence[str] | None) -> list[str]:
    """`cpu`, `cuda`, `cuda:0,cuda:1` or `auto` (every visible GPU, else cpu)."""
    if spec is None or spec == "auto":
        try:
            import torch

            n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        except ImportError:
            n = 0
        return [f"cuda:{i}" for i in range(n)] or ["cpu"]
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for p in (x.strip() for x in parts):
        if p == "cpu" or p == "cuda" or (p.startswith("cuda:") and p[5:].isdigit()):
            out.append("cuda:0" if p == "cuda" else p)
        else:
            raise UserError(f"unknown device {p!r}", hint="use cpu, cuda, cuda:N, a comma-separated list, or auto")
    return out or ["cpu"]


@dataclass
class VBenchReport:
    scored: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # dimension -> wall seconds in vbench
    videos: dict[str, int] = field(default_factory=dict)  # dimension -> videos vbench ran
    peak_rss_mb: dict[str, float] = field(default_factory=dict)  # dimension -> the driver's peak RSS after it (max over shards)
    flops: dict[str, int] = field(default_factory=dict)  # dimension -> FLOPs counted (only with count_flops)
    errors: list[tuple[str, str, int, str, str]] = field(default_factory=list)  # tag, item, sample, dim, error
    logs: list[Path] = field(default_factory=list)

    def count(self, kind: str, dim: str, n: int = 1) -> None:
        d = getattr(self, kind)
        d[dim] = d.get(dim, 0) + n


def settings_key(env: VBenchEnv) -> str:
    basis = {"vbench": (env.info.get("packages") or {}).get("vbench"), "resolution": RESOLUTION,
             "image": "suite crop nearest the video's aspect, unchanged; else prepare_image(cover+crop to video size)"}
    return hashlib.sha1(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:12]


def benchmark_items(run: Run, benchmark: str | Path | None, kind: str, ids: set[str]) -> tuple[dict, str | None]:
    """item id -> BenchmarkItem for the run's items, and a note when none could be loaded."""
    from stepeval.benchmark import Subset, load_benchmark

    if benchmark is None:
        benchmark, kind = run.benchmark_path, run.config.benchmark.kind
    if not benchmark:
        return {}, "the run names no benchmark (pass --benchmark PATH)"
    try:
        loaded = load_benchmark(benchmark, kind, subset=Subset(ids=tuple(sorted(ids))), verify=False)
    except UserError as exc:
        return {}, str(exc)
    return loaded.by_id(), None


def _stage_image(item, work: Path, vkey: str, height: int, width: int) -> tuple[str, dict]:
    """Write the item's input image where vbench's i2v dimensions read it; returns (image_name, details)."""
    from stepeval.images import prepare_image

    src = crop_for_size(item, width, height)
    if src is None:
        raise UserError(f"no input image for item {item.id}")
    folder = work / "vbench2_beta_i2v" / "data" / "crop" / RESOLUTION
    folder.mkdir(parents=True, exist_ok=True)
    if item.extra.get("crops"):
        # VBench-I2V's suite: the crop itself, as vbench reads it (vbench resizes it to its backbones' input)
        name = vkey + Path(src).suffix.lower()
        shutil.copyfile(src, folder / name)
        return name, {"image": f"crop {Path(src).parent.name}"}
    name = vkey + ".png"
    Image.fromarray(prepare_image(src, height, width)).save(folder / name)
    return name, {"image": f"prepared {width}x{height}"}


def score_run_vbench(
    run: Run,
    dimensions: Sequence[str],
    *,
    env_path: str | Path | None = None,
    devices: Sequence[str] | str | None = "cpu",
    cache_dir: str | Path | None = None,
    torch_home: str | Path | None = None,
    benchmark: str | Path | None = None,
    kind: str = "auto",
    model_tags: Sequence[str] | None = None,
    item_ids: Iterable[str] | None = None,
    rescore: bool = False,
    threads: int | None = None,
    log: Callable[[str], None] | None = None,
    count_flops: bool = False,
) -> VBenchReport:
    """Score the run's videos on `dimensions`; see the module doc. Raises UserError only when nothing
    can run (no VBench environment); per-video and per-dimension problems become failed rows."""
    from stepeval.video import probe

    say = log or (lambda msg: None)
    dims = list(dict.fromkeys(dimensions))
    env = load_env(Path(env_path) if env_path else None)
    cache = Path(cache_dir or default_cache_dir()).expanduser().resolve()
    thome = Path(torch_home or default_torch_home()).expanduser().resolve()
    device_list = parse_devices(devices)
    key = settings_key(env)
    report = VBenchReport()
    videos = run_videos(run, model_tags=model_tags, item_ids=item_ids)
    if not videos:
        say("no generated videos to score")
        return report
    items, items_note = benchmark_items(run, benchmark, kind, {v.item_id for v in videos})
    if items_note:
        say(f"[yellow]benchmark not loaded[/]: {items_note}; i2v and camera dimensions cannot run")
    # The weights' hashes go with every row: a score is only comparable with another made from the same files.
    env_record = env.record(",".join(device_list), weights=weights_record(dims, cache, thome))
    done = {d: ({} if rescore else done_keys(run, metric_name(d), key)) for d in dims}
    missing_w = {d: missing_weights(d, cache, thome) for d in dims}

    def fail(buf: RowBuffer, v: VideoRef, dim: str, error: str, status: str = "failed") -> None:
        buf.add(score_row(v, metric_name(dim), None, status=status, error=error, details={"settings_key": key}, env=env_record))
        report.count("excluded" if status == "excluded" else "failed", dim)
        if status == "failed":
            report.errors.append((v.model_tag, v.item_id, v.sample, dim, error))

    work = run.root / ".vbench" / time.strftime("job-%Y%m%d-%H%M%S")
    entries: list[dict] = []
    staged: dict[str, tuple[VideoRef, str | None, dict]] = {}  # key -> video, signature, extra details
    with RowBuffer(run) as buf:
        for n, v in enumerate(videos):
            sig = video_signature(v.path)
            todo = [d for d in dims if rescore or done[d].get(v.key) != sig or sig is None]
            for d in dims:
                if d not in todo:
                    report.count("skipped", d)
            if not todo:
                continue
            try:
                info = probe(v.path)
                if info.frames < 2:
                    raise UserError(f"video has {info.frames} frame(s); VBench's dimensions compare frames and need at least 2",
                                    path=v.path, hint="regenerate the video with more frames")
            except UserError as exc:
                for d in todo:
                    fail(buf, v, d, str(exc))
                continue
            item = items.get(v.item_id)
            vkey = f"v{n:05d}"
            plain_dims, camera = [], None
            # VBench-I2V's own suite names the dimensions each prompt is scored on (camera prompts
            # only on camera_motion); other benchmarks' items are scored on every chosen dimension.
            suite_dims = item.extra.get("dimensions") if item is not None else None
            for d in todo:
                cam = camera_type(item.prompt) if (d == "camera_motion" and item is not None) else None
                if suite_dims is not None and d not in suite_dims:
                    fail(buf, v, d, f"VBench-I2V does not score {d} on this prompt (its full info lists {', '.join(suite_dims)})", status="excluded")
                elif d == "camera_motion" and item is not None and cam is None:
                    fail(buf, v, d, "no camera instruction in the prompt", status="excluded")
                elif d in I2V_IMAGE_DIMS and (item is None or item.image_path is None):
                    why = items_note or f"the benchmark copy has no image for {v.item_id}"
                    fail(buf, v, d, f"no input image for item {v.item_id}: {why} (fix: put the image in the benchmark folder or pass --benchmark)")
                elif d == "camera_motion" and item is None:
                    fail(buf, v, d, f"no prompt for item {v.item_id}: {items_note or 'not in the benchmark'}")
                elif missing_w[d]:
                    files = ", ".join(str(w.path) for w in missing_w[d])
                    fail(buf, v, d, f"missing VBench weights for {d}: {files} (fix: `stepeval vbench prefetch` on a machine with internet, "
                                    f"or copy the files there; `stepeval vbench check` lists them)")
                elif d == "camera_motion":
                    camera = cam
                else:
                    plain_dims.append(d)
            if not plain_dims and camera is None:
                continue
            work.mkdir(parents=True, exist_ok=True)
            video_link = work / "videos" / f"{vkey}.mp4"
            video_link.parent.mkdir(parents=True, exist_ok=True)
            video_link.symlink_to(v.path.resolve())
            image_name, image_details = f"{vkey}.png", {}
            if any(d in I2V_IMAGE_DIMS for d in plain_dims):
                try:
                    # the crop nearest the video's aspect, as VBench-I2V pairs them (other benchmarks: the image)
                    image_name, image_details = _stage_image(item, work, vkey, info.height, info.width)
                except (UserError, OSError) as exc:
                    for d in [d for d in plain_dims if d in I2V_IMAGE_DIMS]:
                        fail(buf, v, d, f"input image unusable: {exc}")
                    plain_dims = [d for d in plain_dims if d not in I2V_IMAGE_DIMS]
            prompt = item.prompt if item else v.item_id
            if plain_dims:
                entries.append({"prompt_en": prompt, "dimension": plain_dims, "video_list": [str(video_link)], "image_name": image_name, "stepeval_key": vkey})
            if camera is not None:
                cam_link = work / "camera" / f"{vkey}-{CAMERA_PHRASES[camera]}.mp4"
                cam_link.parent.mkdir(parents=True, exist_ok=True)
                cam_link.symlink_to(v.path.resolve())
                entries.append({"prompt_en": prompt, "dimension": ["camera_motion"], "video_list": [str(cam_link)], "image_name": image_name, "stepeval_key": vkey})
            staged[vkey] = (v, sig, {**image_details, **({"camera_expected": camera} if camera else {})})
        buf.flush()
        if entries:
            results = run_shards(env, entries, dims, device_list, work, cache, thome, threads, report, say, count_flops)
            write_results(buf, results, entries, staged, dims, key, env_record, report)
        buf.flush()
        suite = bool(items) and all(it.extra.get("crops") for it in items.values())
        _write_model_rows(buf, run, dims, sorted({v.model_tag for v in videos}), env_record, suite=suite)
    if work.exists():
        shutil.rmtree(work / "videos", ignore_errors=True)
        shutil.rmtree(work / "camera", ignore_errors=True)
        shutil.rmtree(work / "vbench2_beta_i2v", ignore_errors=True)
    return report


def run_shards(env, entries, dims, devices, work, cache, thome, threads, report, say, count_flops=False, job_extra=None) -> list[dict]:
    """One driver process per device, each on a round-robin share of the videos. `job_extra` adds keys
    to the driver's job (`suite: t2v` runs vbench's text-to-video code)."""
    keys = list(dict.fromkeys(e["stepeval_key"] for e in entries))
    shards = [[k for i, k in enumerate(keys) if i % len(devices) == s] for s in range(len(devices))]
    procs = []
    for s, (device, shard_keys) in enumerate(zip(devices, shards)):
        if not shard_keys:
            continue
        wanted = set(shard_keys)
        info_path = work / f"full_info-{s}.json"
        info_path.write_text(json.dumps([e for e in entries if e["stepeval_key"] in wanted], ensure_ascii=False, indent=1), encoding="utf-8")
        proc_env = dict(os.environ)
        # Spinning OpenMP workers are 20x slower when other processes share the cores (measured:
        # RAFT pair 0.8 s passive vs 20-30 s spinning on a loaded 2-core machine).
        proc_env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        run_device = "cpu"
        if device.startswith("cuda"):
            proc_env["CUDA_VISIBLE_DEVICES"] = device.split(":")[1]
            run_device = "cuda"  # vbench compares the device with the string "cuda" in places
        job = {"device": run_device, "dimensions": dims, "work_dir": str(work), "full_info": str(info_path), "resolution": RESOLUTION,
               "cache_dir": str(cache), "torch_home": str(thome), "threads": threads or os.cpu_count(), "count_flops": count_flops,
               **(job_extra or {})}
        job_path = work / f"job-{s}.json"
        job_path.write_text(json.dumps(job, indent=1), encoding="utf-8")
        out_path = work / f"result-{s}.json"
        log_path = work / f"driver-{s}.log"
        say(f"vbench: {len(shard_keys)} video(s) x {len(dims)} dimension(s) on {device} (log: {log_path})")
        logf = open(log_path, "w", encoding="utf-8")
        p = subprocess.Popen([str(env.python), str(DRIVER), "run", str(job_path), str(out_path)], stdout=logf, stderr=subprocess.STDOUT,
                             env=proc_env, cwd=str(work))
        procs.append((p, logf, out_path, log_path))
        report.logs.append(log_path)
    results = []
    try:
        for p, logf, out_path, log_path in procs:
            rc = p.wait()
            logf.close()
            res = {}
            if out_path.exists():
                try:
                    res = json.loads(out_path.read_text(encoding="utf-8"))
                except json.JSONDecodeError:
                    res = {}
            res["returncode"] = rc
            res["log"] = str(log_path)
            if rc != 0:
                tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
                res["crash"] = f"the VBench process exited with code {rc}: {' | '.join(tail)} (full log: {log_path})"
            results.append(res)
    except BaseException:
        for p, logf, *_ in procs:
            if p.poll() is None:
                p.terminate()
            logf.close()
        raise
    return results


def write_results(buf, results, entries, staged, dims, key, env_record, report, name=metric_name) -> None:
    """Per-video rows from the drivers' results (`name`: dimension -> the scores.parquet metric)."""
    by_key_dims: dict[str, set[str]] = {}
    for e in entries:
        by_key_dims.setdefault(e["stepeval_key"], set()).update(e["dimension"])
    merged: dict[str, dict] = {}
    crash = None
    for res in results:
        crash = crash or res.get("crash")
        for dim, rec in (res.get("dimensions") or {}).items():
            m = merged.setdefault(dim, {"videos": {}, "extra": {}, "video_errors": {}, "seconds": 0.0, "errors": [], "peak_rss_mb": 0.0, "flops": 0})
            m["peak_rss_mb"] = max(m["peak_rss_mb"], float(rec.get("peak_rss_mb") or 0.0))
            m["flops"] += int(rec.get("flops") or 0)
            m["videos"].update(rec.get("videos") or {})
            m["extra"].update(rec.get("extra") or {})
            m["video_errors"].update(rec.get("video_errors") or {})
            m["seconds"] += float(rec.get("seconds") or 0.0)
            if rec.get("error"):
                m["errors"].append(rec["error"])
    for dim in dims:
        m = merged.get(dim)
        keys = [k for k, ds in by_key_dims.items() if dim in ds]
        if not keys:
            continue
        if m is not None:
            report.seconds[dim] = report.seconds.get(dim, 0.0) + m["seconds"]
            report.videos[dim] = report.videos.get(dim, 0) + len(keys)
            report.peak_rss_mb[dim] = max(report.peak_rss_mb.get(dim, 0.0), m["peak_rss_mb"])
            if m["flops"]:
                report.flops[dim] = report.flops.get(dim, 0) + m["flops"]
        for k in keys:
            v, sig, extra = staged[k]
            if m is not None and k in m["videos"]:
                raw = m["videos"][k]
                value = float(raw) * PER_VIDEO_SCALE.get(dim, 1.0)
                details = {"settings_key": key, "video_signature": sig, "raw": raw, "dimension_seconds": round(m["seconds"], 3),
                           "dimension_videos": len(keys), **extra, **(m["extra"].get(k) or {})}
                buf.add(score_row(v, name(dim), value, details=details, env=env_record))
                report.count("scored", dim)
            else:
                err = (m or {}).get("video_errors", {}).get(k) if m else None
                err = err or crash or "vbench produced no value for this video"
                buf.add(score_row(v, name(dim), None, status="failed", error=err, details={"settings_key": key}, env=env_record))
                report.count("failed", dim)
                report.errors.append((v.model_tag, v.item_id, v.sample, dim, err))


def _write_model_rows(buf: RowBuffer, run: Run, dims: Sequence[str], tags: Sequence[str], env_record: dict, *, suite: bool) -> None:
    for dim in dims:
        buf.add(model_mean_rows(run, metric_name(dim), env=env_record, model_tags=tags))
    buf.flush()
    buf.add(aggregate_rows(run, tags, env_record, protocol={t: protocol_departures(run, t, suite=suite) for t in tags}))


def protocol_departures(run: Run, tag: str, *, suite: bool) -> list[str]:
    """Where a model tag's scored videos depart from VBench-I2V's protocol (docs/vbench-i2v.md); the
    report prints them under Table 3."""
    out = []
    if not suite:
        out.append("not VBench-I2V's image suite: each item's own image, prepared to the video size, stands in for the per-ratio crops")
    per_item: dict[str, int] = {}
    for v in run_videos(run, model_tags=[tag]):
        per_item[v.item_id] = per_item.get(v.item_id, 0) + 1
    counts = sorted(set(per_item.values()))
    if counts and counts != [VBENCH_SAMPLES]:
        shown = "-".join(map(str, (counts[0], counts[-1]))) if len(counts) > 1 else str(counts[0])
        out.append(f"{shown} sample(s) per prompt; VBench-I2V's evaluator reads {VBENCH_SAMPLES}")
    return out


def model_values(run: Run, tags: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """model tag -> {dimension: per-model value} from the latest ok per-model rows."""
    return per_model_values(run, PREFIX, DIMENSION_KEYS, tags)


def aggregate_rows(run: Run, tags: Sequence[str], env_record: dict, protocol: dict[str, list[str]] | None = None) -> list[dict]:
    """Quality / I2V / Total per model tag, or failed rows naming the missing dimensions."""
    return aggregate_score_rows(run, tags, env_record, prefix=PREFIX, dimensions=DIMENSION_KEYS, aggregates=AGGREGATES,
                                aggregate=aggregate, protocol=protocol)


class VBenchI2V(Metric):
    """The registry's face of `score_run_vbench` (entry point `vbench_i2v`)."""

    name = "vbench_i2v"
    description = ("VBench-I2V (vbench==0.1.5, run in its own environment): the nine I2V dimensions per video, and per model "
                   "the quality, i2v and total scores when all nine are there. Select dimensions with vbench_i2v:DIM,DIM "
                   "(`ci` = what CI runs: all nine).")
    columns = (*(metric_name(d) for d in DIMENSION_KEYS), *(PREFIX + a for a in AGGREGATES))
    higher_is_better = True
    device = "cpu or gpu"
    environment = "VBench venv (`stepeval vbench setup`)"
    weights = "VBench checkpoints (`stepeval vbench prefetch`)"
    benchmark = "input images and prompts (i2v and camera dimensions)"
    selector = "dimensions"
    settings = {
        "dimensions": "dimension names (list or comma-separated), `ci` or `all` (default all)",
        "devices": "cpu, cuda, cuda:0,cuda:1 (one process per GPU) or auto",
        "env_path": "the VBench environment (default: where `stepeval vbench setup` put it)",
        "cache_dir": "VBench weight folder",
        "torch_home": "torch.hub root for VBench's hub models",
        "benchmark": "benchmark folder with the input images (default: the run's)",
        "kind": "that folder's layout (default: auto; the run's when the folder is the run's)",
        "threads": "CPU threads per process",
    }

    def score(self, run, *, settings=None, model_tags=None, item_ids=None, rescore=False, log=None, progress=None) -> ScoreReport:
        s = dict(settings or {})
        dims = s.pop("dimensions", None)
        dims = parse_dimensions(",".join(map(str, dims)) if isinstance(dims, (list, tuple)) else dims)
        rep = score_run_vbench(run, dims, model_tags=model_tags, item_ids=item_ids, rescore=rescore, log=log, **s)
        columns = {metric_name(d): {k: getattr(rep, k).get(d, 0) for k in ("scored", "failed", "skipped", "excluded")} for d in dims}
        errors = [ScoreError(tag, item, sample, metric_name(dim), err) for tag, item, sample, dim, err in rep.errors]
        return ScoreReport.from_columns(self.name, columns, errors)

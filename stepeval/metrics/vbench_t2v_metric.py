"""VBench for text-to-video on a run's videos: the `vbench_t2v` metric.

It runs the real vbench==0.1.5 text-to-video code (`vbench.<dimension>.compute_<dimension>`) in the
isolated VBench environment, through the same driver and per-device processes as VBench-I2V
(stepeval.metrics.vbench_i2v, vbench_driver.py with `suite: t2v`). The dimensions, their names and
the leaderboard's aggregation belong to stepeval.metrics.vbench_t2v.

Which dimensions can run depends on the run's benchmark:

- VBench's standard prompt suite (benchmark kind `vbench-t2v`, stepeval.benchmark.vbench_t2v_suite):
  all 16. Each video is scored on the dimensions the full info lists for its prompt (with the prompt's
  `auxiliary_info`, which the semantic dimensions read); the other (video, dimension) pairs are
  counted as excluded and get no row. The staged files are named as VBench's evaluator names them,
  `<prompt>-<sample>.mp4`: human_action reads the expected action from that name.
- Any other benchmark (one's own prompts): VBench's custom-input mode, `CUSTOM_INPUT_DIMENSIONS` on
  every video. Any other dimension asked for is refused by name with the reason (`NOT_ON_OWN_PROMPTS`)
  and gets no row; when none is left the metric cannot run at all (UserError).

Rows (scores.parquet), as vbench_i2v writes them:
- per video: `vbench_t2v/<dimension>`, VBench's raw value on the [0, 1] scale of its mean
  (imaging_quality's per-video MUSIQ score divided by 100, as VBench divides its mean);
- per model (item "*", sample -1): the mean of the per-video values of each dimension (VBench's own
  mean when every video of the model has the same frame count), and `vbench_t2v/quality`,
  `vbench_t2v/semantic`, `vbench_t2v/total` when all 16 dimensions have a per-model value, else failed
  rows naming the missing ones (never a total counting one as 0). Their details list where the
  videos depart from VBench's protocol (own prompts, samples per prompt other than five, suite
  prompts without a video).

A dimension whose weight files are missing gets a failed row per video naming the files and the fix,
as in vbench_i2v; the files are listed once, in vbench_weights.json.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from stepeval.benchmark.vbench_t2v_suite import NAME as SUITE, SAMPLES_PER_PROMPT, scored_dimensions
from stepeval.errors import UserError
from stepeval.metrics.common import (
    aggregate_score_rows,
    per_model_values,
    MODEL_ITEM,
    RowBuffer,
    VideoRef,
    done_keys,
    latest_scores,
    model_mean_rows,
    run_videos,
    score_row,
    video_signature,
)
from stepeval.metrics.registry import Metric, ScoreError, ScoreReport
from stepeval.metrics.vbench_env import VBenchEnv, default_cache_dir, default_torch_home, load_env, missing_weights
from stepeval.metrics.vbench_i2v import VBenchReport, benchmark_items, parse_devices, run_shards, write_results
from stepeval.metrics.vbench_t2v import (
    AGGREGATES,
    CUSTOM_INPUT_DIMENSIONS,
    DIMENSION_KEYS,
    METRIC,
    PREFIX,
    aggregate,
    metric_name,
)
from stepeval.metrics.vbench_weights import load_table, weights_record
from stepeval.runs import Run

# Why each dimension outside custom-input mode needs VBench's own prompts.
_AUX = "needs what VBench's full info names for each of its prompts ({}); VBench's custom-input mode refuses it"
NOT_ON_OWN_PROMPTS: dict[str, str] = {
    "object_class": _AUX.format("the object to detect"),
    "multiple_objects": _AUX.format("the two objects to detect"),
    "color": _AUX.format("the object and the colour asked for"),
    "spatial_relationship": _AUX.format("the two objects and their relation"),
    "scene": _AUX.format("the scene to recognise"),
    "appearance_style": _AUX.format("the style phrase"),
    "human_action": "reads the expected action from a video file named after one of VBench's action prompts ('A person is <action>')",
    "temporal_flickering": "VBench scores it only on its still-scene prompts ('In a still frame, ...'), where any flicker is the model's; "
                           "its README leaves it out of custom-input mode",
    "temporal_style": "VBench scores it only on its prompts written for camera and temporal styles; its README leaves it out of custom-input mode",
    "overall_consistency": "VBench scores it only on its prompts written for it; its README leaves it out of custom-input mode",
}
SUITE_FIX = "generate videos for VBench's standard prompt suite (benchmark kind vbench-t2v, docs/t2v.md) and score that run"


def parse_dimensions(spec: str | Sequence[str] | None) -> list[str]:
    """None/`all` -> the 16; `custom` -> CUSTOM_INPUT_DIMENSIONS; else dimension names."""
    if spec is None:
        return list(DIMENSION_KEYS)
    parts = spec.split(",") if isinstance(spec, str) else [str(p) for p in spec]
    dims: list[str] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if part in ("all", "*"):
            dims.extend(DIMENSION_KEYS)
        elif part == "custom":
            dims.extend(CUSTOM_INPUT_DIMENSIONS)
        elif part in DIMENSION_KEYS:
            dims.append(part)
        else:
            raise UserError(f"unknown VBench text-to-video dimension {part!r}",
                            hint=f"choose from {', '.join(DIMENSION_KEYS)} (or 'custom', 'all')")
    return list(dict.fromkeys(dims))


def split_runnable(dims: Sequence[str], *, suite: bool) -> tuple[list[str], dict[str, str]]:
    """(dimensions that can run on this run, {dimension: why not}) - all of them on the suite."""
    if suite:
        return list(dims), {}
    return [d for d in dims if d in CUSTOM_INPUT_DIMENSIONS], {d: NOT_ON_OWN_PROMPTS[d] for d in dims if d not in CUSTOM_INPUT_DIMENSIONS}


def settings_key(env: VBenchEnv) -> str:
    basis = {"vbench": (env.info.get("packages") or {}).get("vbench"), "suite": "t2v", "code": "vbench.<dimension>, vbench.utils.init_submodules"}
    return hashlib.sha1(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:12]


def video_file_name(prompt: str, sample: int) -> str | None:
    """`<prompt>-<sample>.mp4`, the name VBench's evaluator gives a prompt's video; None when the
    prompt cannot be a file name."""
    name = f"{prompt}-{int(sample)}.mp4"
    if "/" in prompt or "\0" in prompt or len(name.encode("utf-8")) > 255:
        return None
    return name


def score_run_vbench_t2v(
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
) -> tuple[VBenchReport, dict[str, str]]:
    """Score the run's videos on `dimensions` (see the module doc); returns the report and the
    dimensions refused on this run with the reason. Raises UserError when nothing can run."""
    from stepeval.video import probe

    say = log or (lambda msg: None)
    asked = list(dict.fromkeys(dimensions))
    report = VBenchReport()
    videos = run_videos(run, model_tags=model_tags, item_ids=item_ids)
    items, items_note = benchmark_items(run, benchmark, kind, {v.item_id for v in videos}) if videos else ({}, None)
    suite = bool(items) and all(it.benchmark == SUITE for it in items.values())
    dims, refused = split_runnable(asked, suite=suite)
    if refused:
        say(f"[yellow]{METRIC}: not scored on this run's own prompts[/] (custom-input mode scores {', '.join(CUSTOM_INPUT_DIMENSIONS)}; "
            f"fix: {SUITE_FIX}):\n" + "\n".join(f"  {d}: {why}" for d, why in refused.items()))
    if not dims:
        raise UserError(f"none of the chosen VBench text-to-video dimensions can run on this run's own prompts: "
                        + "; ".join(f"{d}: {why}" for d, why in refused.items()),
                        hint=f"choose from {', '.join(CUSTOM_INPUT_DIMENSIONS)} (VBench's custom-input mode), or {SUITE_FIX}")
    env = load_env(Path(env_path) if env_path else None)
    cache = Path(cache_dir or default_cache_dir()).expanduser().resolve()
    thome = Path(torch_home or default_torch_home()).expanduser().resolve()
    device_list = parse_devices(devices)
    key = settings_key(env)
    if not videos:
        say("no generated videos to score")
        return report, refused
    if items_note:
        say(f"[yellow]benchmark not loaded[/]: {items_note}; scoring in custom-input mode")
    env_record = env.record(",".join(device_list), weights=weights_record(dims, cache, thome))
    done = {d: ({} if rescore else done_keys(run, metric_name(d), key)) for d in dims}
    in_table = set(load_table().dimensions())
    missing_w = {d: (missing_weights(d, cache, thome) if d in in_table else []) for d in dims}  # temporal_flickering reads no file

    def fail(buf: RowBuffer, v: VideoRef, dim: str, error: str) -> None:
        buf.add(score_row(v, metric_name(dim), None, status="failed", error=error, details={"settings_key": key}, env=env_record))
        report.count("failed", dim)
        report.errors.append((v.model_tag, v.item_id, v.sample, dim, error))

    work = run.root / ".vbench" / time.strftime("t2v-%Y%m%d-%H%M%S")
    entries: list[dict] = []
    staged: dict[str, tuple[VideoRef, str | None, dict]] = {}
    names_used: set[Path] = set()
    tag_folder = {tag: f"{i:03d}" for i, tag in enumerate(sorted({v.model_tag for v in videos}))}
    with RowBuffer(run) as buf:
        for n, v in enumerate(videos):
            item = items.get(v.item_id)
            wanted = scored_dimensions(item) if (suite and item is not None) else None
            vdims = []
            for d in dims:
                if wanted is not None and d not in wanted:
                    report.count("excluded", d)  # VBench does not score this prompt on d: no row
                elif suite and item is None:
                    fail(buf, v, d, f"item {v.item_id} is not in VBench's standard suite as loaded ({items_note or 'unknown id'})")
                else:
                    vdims.append(d)
            sig = video_signature(v.path)
            todo = [d for d in vdims if rescore or sig is None or done[d].get(v.key) != sig]
            for d in vdims:
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
            run_now = []
            for d in todo:
                if missing_w[d]:
                    files = ", ".join(str(w.path) for w in missing_w[d])
                    fail(buf, v, d, f"missing VBench weights for {d}: {files} (fix: `stepeval vbench prefetch` on a machine with internet, "
                                    f"or copy the files there; vbench_weights.json lists them)")
                else:
                    run_now.append(d)
            if not run_now:
                continue
            vkey = f"v{n:05d}"
            prompt = item.prompt if item is not None else v.item_id
            folder = work / "videos" / tag_folder[v.model_tag]
            name = video_file_name(prompt, v.sample)
            link = folder / (name or f"{vkey}-{v.sample}.mp4")
            if link in names_used:  # two items of one model with the same prompt: VBench's naming cannot tell them apart
                link = folder / f"{vkey}-{v.sample}.mp4"
            names_used.add(link)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(v.path.resolve())
            entry = {"prompt_en": prompt, "dimension": run_now, "video_list": [str(link)], "stepeval_key": vkey}
            aux = (item.extra.get("auxiliary_info") or {}) if item is not None else {}
            if aux:
                entry["auxiliary_info"] = aux
            entries.append(entry)
            staged[vkey] = (v, sig, {"video_name": link.name, "mode": "standard suite" if suite else "custom input"})
        buf.flush()
        if entries:
            results = run_shards(env, entries, dims, device_list, work, cache, thome, threads, report, say, job_extra={"suite": "t2v"})
            write_results(buf, results, entries, staged, dims, key, env_record, report, name=metric_name)
        buf.flush()
        tags = sorted({v.model_tag for v in videos})
        per_video = latest_scores(run, [metric_name(d) for d in dims])
        per_video = per_video[per_video["item_id"] != MODEL_ITEM] if not per_video.empty else per_video
        for d in dims:
            # a model none of whose prompts VBench scores on d (a suite subset) has no value for it, not a failed one
            with_rows = sorted(set(per_video[per_video["metric"] == metric_name(d)]["model_tag"]) & set(tags)) if not per_video.empty else []
            if with_rows:
                buf.add(model_mean_rows(run, metric_name(d), env=env_record, model_tags=with_rows))
        buf.flush()
        suite_items = _whole_suite(run, benchmark, kind) if suite else None
        buf.add(aggregate_rows(run, tags, env_record, {t: protocol_departures(run, t, suite=suite, suite_items=suite_items) for t in tags}))
    if work.exists():
        shutil.rmtree(work / "videos", ignore_errors=True)
    return report, refused


def _whole_suite(run: Run, benchmark: str | Path | None, kind: str) -> list | None:
    """Every item of the run's suite (the run may hold a subset), to name the prompts without a video."""
    from stepeval.benchmark import load_benchmark

    try:
        return load_benchmark(benchmark or run.benchmark_path, kind if benchmark else run.config.benchmark.kind, verify=False).items
    except UserError:
        return None


def protocol_departures(run: Run, tag: str, *, suite: bool, suite_items=None) -> list[str]:
    """Where a model tag's videos depart from VBench's standard protocol (shown under the report's table)."""
    out = []
    per_item: dict[str, int] = {}
    for v in run_videos(run, model_tags=[tag], every_shard=True):
        per_item[v.item_id] = per_item.get(v.item_id, 0) + 1
    if not suite:
        out.append("own prompts (VBench's custom-input mode), not its standard prompt suite: the semantic dimensions, and so "
                   "Semantic and Total, need that suite")
    elif suite_items is not None:
        lacking = [it.id for it in suite_items if it.id not in per_item]
        if lacking:
            out.append(f"{len(lacking)} of the suite's {len(suite_items)} prompts have no video (e.g. {', '.join(lacking[:3])})")
    counts = sorted(set(per_item.values()))
    if counts and counts != [SAMPLES_PER_PROMPT]:
        shown = f"{counts[0]}-{counts[-1]}" if len(counts) > 1 else str(counts[0])
        out.append(f"{shown} sample(s) per prompt; VBench's protocol is {SAMPLES_PER_PROMPT}")
    return out


def model_values(run: Run, tags: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """model tag -> {dimension: per-model value} from the latest ok per-model rows."""
    return per_model_values(run, PREFIX, DIMENSION_KEYS, tags)


def aggregate_rows(run: Run, tags: Sequence[str], env_record: dict, protocol: dict[str, list[str]] | None = None) -> list[dict]:
    """Quality / Semantic / Total per model tag, or failed rows naming the missing dimensions."""
    return aggregate_score_rows(run, tags, env_record, prefix=PREFIX, dimensions=DIMENSION_KEYS, aggregates=AGGREGATES,
                                aggregate=aggregate, protocol=protocol)


class VBenchT2V(Metric):
    """The registry's face of `score_run_vbench_t2v` (entry point `vbench_t2v`)."""

    name = METRIC
    description = ("VBench for text-to-video (vbench==0.1.5, run in its own environment): on VBench's standard prompt suite "
                   "(benchmark kind vbench-t2v) its 16 dimensions and per model the quality, semantic and total scores; on any "
                   "other run the six custom-input dimensions. Select dimensions with vbench_t2v:DIM,DIM (`custom`, `all`).")
    columns = (*(metric_name(d) for d in DIMENSION_KEYS), *(metric_name(a) for a in AGGREGATES))
    higher_is_better = True
    device = "cpu or gpu"
    environment = "VBench venv (`stepeval vbench setup`)"
    weights = "VBench checkpoints (`stepeval vbench prefetch`)"
    benchmark = "prompts; VBench's standard suite for the semantic dimensions"
    selector = "dimensions"
    settings = {
        "dimensions": "dimension names (list or comma-separated), `custom` (the six custom-input ones) or `all` (default all: "
                      "what the run's prompts allow)",
        "devices": "cpu, cuda, cuda:0,cuda:1 (one process per GPU) or auto",
        "env_path": "the VBench environment (default: where `stepeval vbench setup` put it)",
        "cache_dir": "VBench weight folder (default $VBENCH_CACHE_DIR or ~/.cache/vbench)",
        "torch_home": "torch.hub root for VBench's hub models (default $TORCH_HOME)",
        "benchmark": "benchmark folder with the prompts (default: the run's)",
        "kind": "that folder's layout (default: auto)",
        "threads": "CPU threads per process",
    }

    def score(self, run, *, settings=None, model_tags=None, item_ids=None, rescore=False, log=None, progress=None) -> ScoreReport:
        s = dict(settings or {})
        dims = parse_dimensions(s.pop("dimensions", None))
        rep, _ = score_run_vbench_t2v(run, dims, model_tags=model_tags, item_ids=item_ids, rescore=rescore, log=log, **s)
        columns = {metric_name(d): {k: getattr(rep, k).get(d, 0) for k in ("scored", "failed", "skipped", "excluded")}
                   for d in dims if any(getattr(rep, k).get(d, 0) for k in ("scored", "failed", "skipped", "excluded"))}
        errors = [ScoreError(tag, item, sample, metric_name(dim), err) for tag, item, sample, dim, err in rep.errors]
        return ScoreReport.from_columns(self.name, columns, errors)

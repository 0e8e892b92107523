"""The batch runner: (benchmark subset x model settings x samples) -> a complete run directory.

    runs/<name>/videos/<model_tag>/<item_id>[-<sample>].mp4   one video per (model, item, sample)
    runs/<name>/generations.parquet                           one row per attempt
    runs/<name>/summary.json ("generation")                   counts per model, what was skipped
    runs/<name>/vbench/                                       VBench custom-input view (vbench_view.py)

Resumable: a video counts as done when its latest row says ok and its file exists, so rerunning the
same command makes only what is missing (and what failed, with retry_failed). With a shard
(`shard: I/N`, `stepeval.runs.shards`) it makes only that shard's videos and appends to the shard's
part file; shards need nothing from each other.
Videos are written atomically and their row is appended after, so a SIGKILL loses at most the video
being made.
Text-to-video: a benchmark's task (TI2V or T2V) must be one each model declares
(`Capabilities.tasks`); a mismatch is refused before anything is built, unless the config's `task`
poses the items as the other task on purpose (`t2v`: the prompts alone, images unused; `ti2v`: an
image for every item, so a text-only benchmark also needs placeholder_images).
One failing item is recorded (error + traceback) and the run goes on.

`generate_run(config)` is the Python entry point; `stepeval generate` and `stepeval run` call it with
the YAML schema of `GenerateConfig.from_dict`.
"""

from __future__ import annotations

import gc
import json
import socket
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table as RichTable

from stepeval.benchmark import TASKS, BenchmarkItem, LoadedBenchmark, Problem, Subset, load_benchmark
from stepeval.benchmark.items import T2V, TI2V, resolve_task
from stepeval.benchmark.checks import skipped_table
from stepeval.benchmark.vbench_suite import crop_for_size
from stepeval.errors import UserError
from stepeval.generation import registry
from stepeval.generation.distributed import DistContext, init_distributed, resolve_device
from stepeval.generation.memory import PeakMemory
from stepeval.generation.placeholders import write_placeholder
from stepeval.generation.protocol import GenerationRequest, Generator, Refused
from stepeval.generation.seeds import derive_seed
from stepeval.generation.params import check_model_params
from stepeval.generation.tags import ModelSpec, specs_from_config
from stepeval.runs import GENERATION_KEYS, Run, Shard
from stepeval.runs.lock import short_lock
from stepeval.runs.schema import RunConfig, invalid, validate_config
from stepeval.video import write_video

PARTIAL_GLOB = ".*.partial.mp4"  # stepeval.video.write_video's temporary files


@dataclass
class GenerateConfig:
    """What a generation run needs, read from the run config (`stepeval.runs.schema.RunConfig`, the
    YAML of `stepeval generate --config` and `stepeval run`): the benchmark, the subset, the model
    settings with sweeps expanded, seeds and devices. `extra` carries the config's other sections
    (metrics, report) into run.yaml untouched."""

    benchmark: Path
    models: list[ModelSpec]
    kind: str = "auto"
    subset: Subset = field(default_factory=Subset)
    seed: int = 0
    num_samples: int = 1
    run_dir: Path | None = None
    name: str | None = None
    retry_failed: bool = False
    device: str = "auto"
    placeholder_images: bool = False
    vbench_view: bool = True
    sp_degree: int = 1
    task: str = "auto"
    extra: dict = field(default_factory=dict)
    config_file: Path | None = None
    shard: Shard | None = None

    def __post_init__(self) -> None:
        self.benchmark = Path(self.benchmark)
        self.shard = Shard.parse(self.shard)
        self.run_dir = Path(self.run_dir) if self.run_dir is not None else None
        if not self.models:
            raise UserError("no model given", hint="add --model NAME (see `stepeval generate --list-models`) or a `models:` list in the config")
        if self.num_samples < 1:
            raise UserError(f"num_samples must be >= 1, got {self.num_samples}")
        if self.task != "auto" and self.task not in TASKS:
            raise UserError(f"unknown task {self.task!r}", hint=f"choose auto, {', '.join(TASKS)}")
        tags = [m.tag for m in self.models]
        dupes = sorted({t for t in tags if tags.count(t) > 1})
        if dupes:
            raise UserError(f"the same model setting is given twice: {', '.join(dupes)}", hint="list each model setting once")

    @classmethod
    def from_dict(cls, d: dict, *, where: str | Path = "config") -> GenerateConfig:
        """From a YAML mapping; every problem is one UserError naming `where` and the key path."""
        return cls.from_config(validate_config(d, where=where), where=where)

    @classmethod
    def from_config(cls, cfg: RunConfig, *, where: str | Path = "config", config_file: Path | None = None) -> GenerateConfig:
        if cfg.benchmark.path is None:
            raise invalid(where, ["benchmark: generation needs a benchmark folder (`stepeval run` writes the synthetic one first)"])
        if not cfg.models:
            raise invalid(where, ["models: no model given; add a `models:` list (or --model NAME)"])
        check_model_params(cfg.models, where=where)
        specs = specs_from_config([m.model_dump(exclude_none=True) for m in cfg.models], where=str(where))
        return cls(
            benchmark=Path(cfg.benchmark.path), models=specs, kind=cfg.benchmark.kind, subset=cfg.subset.to_subset(),
            seed=cfg.seed, num_samples=cfg.num_samples, run_dir=cfg.run_dir, name=cfg.name, retry_failed=cfg.retry_failed,
            device=cfg.device, placeholder_images=cfg.placeholder_images, vbench_view=cfg.vbench_view, sp_degree=cfg.sp_degree,
            task=cfg.task, extra=cfg.model_dump(include={"metrics", "report"}, exclude_unset=True), config_file=config_file,
            shard=Shard.parse(cfg.shard),
        )

    def to_dict(self) -> dict:
        """The run.yaml `config:` body (models expanded, one entry per tag)."""
        body = {
            "benchmark": {"path": str(self.benchmark), "kind": self.kind},
            "subset": self.subset.to_dict(),
            "models": [m.to_dict() for m in self.models],
            "seed": self.seed,
            "num_samples": self.num_samples,
            "device": self.device,
            "placeholder_images": self.placeholder_images,
            "vbench_view": self.vbench_view,
            "sp_degree": self.sp_degree,
            **self.extra,
        }
        if self.task != "auto":  # run.yaml keeps the default implicit, as older runs have it
            body["task"] = self.task
        if self.name:
            body["name"] = self.name
        return body

    def resolve_run_dir(self, benchmark_name: str) -> Path:
        return self.run_dir or Path("runs") / (self.name or benchmark_name)


# -- measuring -------------------------------------------------------------------------------------


class _TimedFrames:
    """Iterates a result's frames, timing the generator's share of a streamed video and noting the shape."""

    def __init__(self, frames: np.ndarray | Iterable[np.ndarray]):
        self._frames = frames
        self.seconds = 0.0
        self.count = 0
        self.height = self.width = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        it = iter(self._frames)
        while True:
            t0 = time.perf_counter()
            try:
                frame = next(it)
            except StopIteration:
                return
            finally:
                self.seconds += time.perf_counter() - t0
            if self.count == 0:
                self.height, self.width = int(frame.shape[0]), int(frame.shape[1])
            self.count += 1
            yield frame


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class _Work:
    spec: ModelSpec
    item: BenchmarkItem
    sample: int


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _load_key(spec: ModelSpec) -> tuple[str, dict, dict]:
    """Split a spec's parameters into load-time ones (a new instance) and per-request ones (declared
    on the generator's class: `capabilities.request_params`); the key names the instance they need."""
    per_request_names = registry.request_params(spec.name)
    load = {k: v for k, v in spec.params.items() if k not in per_request_names}
    per_request = {k: v for k, v in spec.params.items() if k in per_request_names}
    return json.dumps([spec.name, load], sort_keys=True, default=str), load, per_request


def build_generators(specs: list[ModelSpec]) -> dict[str, Generator]:
    """Construct every model setting before any work starts: an unknown name or a bad parameter is
    a clear error now, not after hours of other models. Construction is cheap; load() is not, so
    settings that differ only in request params share one instance (one key)."""
    built: dict[str, Generator] = {}
    for spec in specs:
        key, load, _ = _load_key(spec)
        if key not in built:
            built[key] = registry.create(spec.name, load)
    return built


def _serving(task: str) -> list[str]:
    """The installed models that declare `task` (for the fix of a refusal); unloadable ones are left out."""
    names = []
    for name in registry.available():
        try:
            if registry.capabilities(name).serves(task):
                names.append(name)
        except UserError:
            continue
    return names


def check_tasks(cfg: GenerateConfig, loaded: LoadedBenchmark) -> str:
    """The run's task, after refusing every model that does not serve it.

    With `task: auto` the run takes the benchmark's task, and a model that does not declare it is
    refused: a text-to-video model would silently ignore a TI2V benchmark's images, and a TI2V
    model on text-only items needs a first frame that nothing should guess. `task` set explicitly
    poses the items as that task on purpose; the models must serve it."""
    task = resolve_task(cfg.task, loaded.task)
    refused = []
    for spec in cfg.models:
        caps = registry.capabilities(spec.name)
        if not caps.serves(task):
            refused.append((spec, caps))
    if not refused:
        return task
    spec, caps = refused[0]
    names = ", ".join(sorted({s.name for s, _ in refused}))
    takes = " and ".join(TASKS[t] for t in sorted(caps.tasks))
    others = [n for n in _serving(task)]
    choose = f"choose a model that serves {task} ({', '.join(others)})" if others else f"choose a model that serves {task}"
    if cfg.task != "auto":
        hint = f"{choose}, or drop --task {cfg.task} to run on the benchmark as it is"
        why = f"this run poses every item as {TASKS[task]} (task: {cfg.task})"
    elif task == TI2V:
        hint = f"{choose}, or give the models the prompts alone on purpose with --task {T2V} (config `task: {T2V}`; the images are then not used)"
        why = f"benchmark {loaded.name} ({loaded.root}) is {TASKS[TI2V]}"
    else:
        hint = (f"{choose}, or, to run a TI2V model on these prompts on purpose, give it a stand-in first frame with "
                f"--task {TI2V} --placeholder-images (config `task: {TI2V}`, `placeholder_images: true`)")
        why = f"benchmark {loaded.name} ({loaded.root}) is {TASKS[T2V]}: its items have no input image"
    raise UserError(f"model(s) {names} cannot run on this benchmark: {spec.name} takes {takes}, and {why}", hint=hint)


def _remove_stale_partials(run: Run, units: Iterable[tuple[str, str, int]] = ()) -> int:
    """Temporary files of videos whose writer was killed (SIGKILL skips every cleanup). A shard
    removes only those of its own videos (`units`): another shard may be writing its own now."""
    videos = run.root / "videos"
    if not videos.exists():
        return 0
    if run.shard is None:
        stale = list(videos.rglob(PARTIAL_GLOB))
    else:
        stale = []
        for tag, item_id, sample in units:
            target = run.video_path(tag, item_id, sample)
            if target.parent.is_dir():
                stale.extend(target.parent.glob(f".{target.stem}.*.partial.mp4"))
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


def _prepare_items(cfg: GenerateConfig, run_root: Path, items: list[BenchmarkItem], write: bool) -> tuple[list[BenchmarkItem], list[str]]:
    """Text-only items and items with an image; with placeholder_images, items without one get a
    placeholder image."""
    usable, skipped = [], []
    for item in items:
        if item.image_path is not None or not item.takes_image:
            usable.append(item)
        elif cfg.placeholder_images:
            path = run_root / "placeholders" / f"{item.id}.png"
            if write:
                write_placeholder(path, item.id, item.aspect)
            usable.append(BenchmarkItem(item.id, item.prompt, path, item.benchmark, item.domain, item.aspect, {**item.extra, "placeholder_image": True}))
        else:
            skipped.append(item.id)
    return usable, skipped


class _Runner:
    def __init__(self, cfg: GenerateConfig, run: Run, dist: DistContext, device: str, console: Console, show_progress: bool, built: dict[str, Generator]):
        self.cfg, self.run, self.dist, self.device, self.built = cfg, run, dist, device, built
        self.console = console
        self.show_progress = show_progress and dist.rank == 0
        self.host = socket.gethostname()
        self.counts: Counter = Counter()
        self.load_errors: dict[str, str] = {}
        self._keys: dict[str, tuple[str, dict, dict]] = {}
        self._gen: Generator | None = None
        self._gen_key: str | None = None

    # A sweep over request-time parameters reuses the loaded model; anything else reloads it.
    def _generator_for(self, spec: ModelSpec) -> tuple[Generator, dict]:
        if spec.tag not in self._keys:
            self._keys[spec.tag] = _load_key(spec)
            if self._keys[spec.tag][0] == self._gen_key and self.dist.rank == 0:
                sharing = [t for t, (k, _, _) in self._keys.items() if k == self._gen_key]
                self.console.print(
                    f"loaded {escape(spec.name)} once for {len(sharing)} settings: {escape(spec.tag)} differs only in "
                    f"request-time parameters ({escape(', '.join(sorted(self._keys[spec.tag][2])) or 'none')})",
                    highlight=False, soft_wrap=True,
                )
        key, load_params, per_request = self._keys[spec.tag]
        if key != self._gen_key:
            self._release()
            gen = self.built.pop(key, None)
            if gen is None:
                gen = registry.create(spec.name, load_params)
            gen.load(self.device)
            self._gen, self._gen_key = gen, key
        return self._gen, per_request

    def _release(self) -> None:
        if self._gen is None:
            return
        self._gen, self._gen_key = None, None
        gc.collect()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    def units(self, specs: list[ModelSpec], items: list[BenchmarkItem]) -> list[_Work]:
        """Every video of the run this shard (the whole run without one) makes, in config order."""
        work = [_Work(spec, item, s) for spec in specs for item in items for s in range(self.cfg.num_samples)]
        return [w for w in work if self.run.owns(w.spec.tag, w.item.id, w.sample)]

    def todo(self, specs: list[ModelSpec], items: list[BenchmarkItem]) -> list[_Work]:
        mine = self.dist.share(self.units(specs, items))
        ids = [it.id for it in items]
        missing = {spec.tag: set(self.run.missing(spec.tag, ids, self.cfg.num_samples, retry_failed=self.cfg.retry_failed)) for spec in specs}
        return [w for w in mine if (w.item.id, w.sample) in missing[w.spec.tag]]

    def generate_all(self, work: list[_Work]) -> None:
        columns = (
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[last]}"),
        )  # fmt: skip
        with Progress(*columns, console=self.console, disable=not self.show_progress, transient=False) as progress:
            task = progress.add_task("generate", total=len(work), last="")
            for w in work:
                if w.spec.tag in self.load_errors:
                    progress.advance(task)
                    continue
                progress.update(task, description=f"{w.spec.tag} {w.item.id}" + (f" #{w.sample}" if self.cfg.num_samples > 1 else ""))
                try:
                    gen, per_request = self._generator_for(w.spec)
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # a model that cannot load must not stop the other models
                    self.load_errors[w.spec.tag] = f"{type(exc).__name__}: {exc}"
                    self.console.print(f"[red]model {escape(w.spec.tag)} failed to load[/]: {escape(str(exc))}", soft_wrap=True)
                    progress.advance(task)
                    continue
                row = self.generate_one(gen, per_request, w)
                self.counts[row["status"]] += 1
                if row["status"] == "ok":
                    mem = f", peak {row['peak_memory_bytes'] / 2**30:.2f} GiB" if row["peak_memory_bytes"] else ""
                    progress.update(task, last=f"{row['seconds']:.1f} s/video{mem}")
                else:
                    where = f"{w.spec.tag} {w.item.id} sample {w.sample}"
                    progress.console.print(f"[{'yellow' if row['status'] == 'refused' else 'red'}]{row['status']}[/] {escape(where)}: {escape(str(row['error']))}", soft_wrap=True)
                progress.advance(task)
        self._release()

    def image_for(self, gen: Generator, w: _Work) -> Path | None:
        """The item's image (None for a text-only item); for VBench-I2V, the crop nearest the model's
        output size (its adaptive aspect ratio): the size the generator makes from the default crop
        picks the crop."""
        if w.item.image_path is None:
            return None
        image = Path(w.item.image_path)
        if not w.item.extra.get("crops"):
            return image
        probe = GenerationRequest(item_id=w.item.id, prompt=w.item.prompt, image_path=image, seed=0)
        fixed = {**dict(getattr(gen, "parameters", None) or {}), **w.spec.params}
        try:
            resolve = getattr(gen, "resolve", None)
            height, width, _, _ = resolve(probe) if callable(resolve) else gen.capabilities.resolve(
                replace(probe, height=fixed.get("height"), width=fixed.get("width")))
        except UserError:  # a bad default crop: generate() meets it again and records the failure
            return image
        return crop_for_size(w.item, width, height) or image

    def generate_one(self, gen: Generator, per_request: dict, w: _Work) -> dict:
        seed = derive_seed(self.cfg.seed, w.item.id, w.sample)
        image = self.image_for(gen, w)
        request = GenerationRequest(item_id=w.item.id, prompt=w.item.prompt, image_path=image, seed=seed, sample=w.sample, params=dict(per_request))
        path = self.run.video_path(w.spec.tag, w.item.id, w.sample)
        status, error, tb = "ok", None, None
        fps, frames_n, width, height, seconds, peak = 0.0, 0, 0, 0, 0.0, None
        t0 = time.perf_counter()
        # Frames may be streamed, so the video is made while it is written: measure both.
        with PeakMemory(self.device) as meter:
            try:
                result = gen.generate(request)
                call_seconds = time.perf_counter() - t0
                frames = _TimedFrames(result.frames)
                if self.dist.is_group_leader:
                    write_video(path, frames, result.fps)
                else:
                    for _ in frames:  # the group's other ranks take part in making every frame
                        pass
                fps, frames_n, width, height = float(result.fps), frames.count, frames.width, frames.height
                seconds = result.seconds if result.seconds is not None else call_seconds + frames.seconds
                peak = result.peak_memory_bytes if result.peak_memory_bytes is not None else meter.bytes
            except Refused as exc:
                status, error = "refused", str(exc) or "refused by the generator"
                seconds = time.perf_counter() - t0
            except Exception as exc:  # per-item isolation: record it and go on with the next video
                status, error, tb = "failed", f"{type(exc).__name__}: {exc}", traceback.format_exc()
                seconds = time.perf_counter() - t0
        params = {**dict(getattr(gen, "parameters", None) or {}), **w.spec.params}
        if w.item.extra.get("crops") and image is not None:
            params["image_crop"] = image.parent.name  # which of VBench-I2V's crops the video was made from
        row = {
            "model_tag": w.spec.tag,
            "item_id": w.item.id,
            "sample": w.sample,
            "seed": seed,
            "generator": w.spec.name,
            "parameters": json.dumps(params, sort_keys=True, ensure_ascii=False, default=str),
            "fps": fps,
            "frames": frames_n,
            "width": width,
            "height": height,
            "seconds": float(seconds),
            "peak_memory_bytes": peak,
            "status": status,
            "error": error,
            "traceback": tb,
            "video_path": path.relative_to(self.run.root).as_posix() if status == "ok" else None,
            "created_at": _now(),
            "host": self.host,
            "rank": self.dist.rank,
        }
        if self.dist.is_group_leader:
            self.run.generations.append([row])
        return row


def summarize(run: Run, specs: list[ModelSpec], item_ids: list[str], num_samples: int) -> dict[str, dict]:
    """Per model tag: videos ok / failed / refused / still missing, mean seconds, max peak memory."""
    latest = run.generations.latest(GENERATION_KEYS)
    wanted = {(i, s) for i in item_ids for s in range(num_samples)}
    out = {}
    for spec in specs:
        rows = latest[latest["model_tag"] == spec.tag] if not latest.empty else latest
        rows = rows[[(r.item_id, int(r.sample)) in wanted for r in rows.itertuples()]] if not rows.empty else rows
        status = Counter(rows["status"]) if not rows.empty else Counter()
        ok = rows[rows["status"] == "ok"] if not rows.empty else rows
        present = sum(run.video_path(spec.tag, r.item_id, int(r.sample)).exists() for r in ok.itertuples()) if not ok.empty else 0
        out[spec.tag] = {
            "generator": spec.name,
            "ok": present,
            "failed": status.get("failed", 0),
            "refused": status.get("refused", 0),
            "missing": len(wanted) - present - status.get("failed", 0) - status.get("refused", 0),
            "seconds_mean": float(ok["seconds"].mean()) if present else None,
            "peak_memory_bytes_max": int(ok["peak_memory_bytes"].max()) if present and ok["peak_memory_bytes"].notna().any() else None,
        }
    return out


def _update_summary(run: Run, section: str, value: dict) -> None:
    path = run.root / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, json.JSONDecodeError):
        summary = {}
    summary[section] = value
    run.write_summary(summary)


def _print_summary(console: Console, summary: dict) -> None:
    table = RichTable(title=f"generation: {summary['run_dir']}")
    for col in ("model", "ok", "failed", "refused", "missing", "s/video", "peak GiB"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for tag, m in summary["models"].items():
        table.add_row(
            escape(tag), str(m["ok"]), str(m["failed"]), str(m["refused"]), str(m["missing"]),
            f"{m['seconds_mean']:.2f}" if m["seconds_mean"] is not None else "-",
            f"{m['peak_memory_bytes_max'] / 2**30:.2f}" if m["peak_memory_bytes_max"] else "-",
        )  # fmt: skip
    console.print(table)
    inv = summary["this_invocation"]
    console.print(f"this invocation: {inv['ok']} made, {inv['failed']} failed, {inv['refused']} refused, {inv['already_done']} already done", highlight=False)
    if summary["skipped_no_image"]:
        ids = summary["skipped_no_image"]
        console.print(f"[yellow]skipped {len(ids)} item(s) without an image[/] ({', '.join(ids[:5])}{', ...' if len(ids) > 5 else ''}); fetch the images, or pass --placeholder-images for a dry run", soft_wrap=True)
    if summary.get("skipped_bad"):
        problems = [Problem(p["kind"], Path(p["path"]) if p["path"] else None, p["message"], p["item_id"]) for p in summary["skipped_bad"]]
        console.print(skipped_table(problems, Path(summary["benchmark_root"]) if summary.get("benchmark_root") else None, title="[red]skipped items, bad or unpaired files[/]"))
        console.print("fix or remove these files and rerun the same command to make their videos; `stepeval data validate` lists every problem", highlight=False)
    for tag, err in summary["load_errors"].items():
        console.print(f"[red]model {escape(tag)} did not load[/]: {escape(err)}", soft_wrap=True)
    if any(m["failed"] for m in summary["models"].values()):
        console.print("failed videos are kept as failures on rerun; add --retry-failed to try them again (errors and tracebacks are in generations.parquet)")
    if summary.get("vbench_view"):
        console.print(f"VBench custom-input view: {summary['vbench_view']}", highlight=False)


def generate_run(config: GenerateConfig | RunConfig | dict, *, console: Console | None = None, show_progress: bool = True, command: str = "") -> dict:
    """Generate every missing video of a run; returns the summary (also written to summary.json).

    Safe to call again with the same config: it resumes. Under torchrun each rank calls it with the
    same config and takes its share of the work."""
    console = console or Console(stderr=True)
    if isinstance(config, GenerateConfig):
        cfg = config
    elif isinstance(config, RunConfig):
        cfg = GenerateConfig.from_config(config)
    else:
        cfg = GenerateConfig.from_dict(config)
    loaded = load_benchmark(cfg.benchmark, cfg.kind, subset=cfg.subset, verify=False)
    task = check_tasks(cfg, loaded)
    built = build_generators(cfg.models)
    if task != loaded.task:
        loaded.items = [it.as_task(task) for it in loaded.items]
    if not loaded.items:
        if loaded.skipped:
            console.print(skipped_table(loaded.skipped, loaded.root))
            raise UserError(f"no usable items: {len(loaded.skipped)} problem(s) left every selected item out (listed above)", path=cfg.benchmark, hint="fix the files listed, or check `stepeval data validate`")
        raise UserError("the subset selects no items", path=cfg.benchmark, hint="check --domain/--aspect/--ids/--sample")
    ctx = init_distributed(resolve_device(cfg.device), cfg.sp_degree)
    device = resolve_device(cfg.device, ctx.local_rank)
    root = cfg.resolve_run_dir(loaded.name)
    with ExitStack() as stack:
        stack.callback(ctx.close)
        stale = 0
        if ctx.rank == 0:
            try:
                body = cfg.to_dict()
                body["benchmark"]["name"] = loaded.name
                # also refuses an unwritable directory, and a run made on another benchmark
                run = Run.create(root, body, command=command, items=loaded.ids, config_file=cfg.config_file, shard=cfg.shard)
                stack.enter_context(run.lock())
                units = [(s.tag, it.id, k) for s in cfg.models for it in loaded.items for k in range(cfg.num_samples)]
                stale = _remove_stale_partials(run, [u for u in units if run.owns(*u)])
                items, skipped = _prepare_items(cfg, run.root, loaded.items, write=True)
            except BaseException as exc:
                ctx.share_outcome(f"rank 0 could not set up the run: {exc}")  # so the other ranks stop too
                raise
        problem = ctx.share_outcome(None)
        if problem:
            raise UserError(problem, path=root)
        if ctx.rank != 0:
            run = Run.open(root, cfg.shard)
            items, skipped = _prepare_items(cfg, run.root, loaded.items, write=False)
        runner = _Runner(cfg, run, ctx, device, console, show_progress, built)
        work = runner.todo(cfg.models, items)
        mine_total = len(ctx.share(runner.units(cfg.models, items)))
        if work and show_progress and ctx.rank == 0:
            console.print(f"{len(work)} video(s) to make on this rank ({mine_total - len(work)} already done), device {device}"
                          + (f", shard {cfg.shard}" if cfg.shard else "")
                          + (f", rank {ctx.rank}/{ctx.world_size}" if ctx.is_distributed else ""), highlight=False)
        runner.generate_all(work)
        ctx.barrier()
        summary = {
            "run_dir": str(run.root.resolve()),
            "benchmark": loaded.name,
            "benchmark_root": str(loaded.root),
            "items": len(items),
            "num_samples": cfg.num_samples,
            "models": summarize(run, cfg.models, [it.id for it in items], cfg.num_samples),
            "this_invocation": {**{k: runner.counts.get(k, 0) for k in ("ok", "failed", "refused")}, "already_done": mine_total - len(work)},
            "skipped_no_image": skipped,
            "skipped_bad": [p.to_record() for p in loaded.skipped],
            "load_errors": runner.load_errors,
            "stale_partials_removed": stale,
            "world_size": ctx.world_size,
            "shard": str(cfg.shard) if cfg.shard else None,
            "vbench_view": None,
        }
        if ctx.rank == 0:
            if cfg.vbench_view:
                from stepeval.generation.vbench_view import write_vbench_view

                # The view is rebuilt from the whole table; shards finishing together take turns.
                with short_lock(run.root / ".vbench-view.lock"):
                    summary["vbench_view"] = str(write_vbench_view(run, items, [s.tag for s in cfg.models], cfg.num_samples))
            _update_summary(run, "generation", summary)
            _print_summary(console, summary)
    return summary


def exit_code(summary: dict) -> int:
    """0 when every video of the run exists (or was refused); 1 when some failed or did not load,
    or when items were left out for bad or unpaired files."""
    if summary["load_errors"] or summary["this_invocation"]["failed"] or summary.get("skipped_bad"):
        return 1
    return 0


__all__ = ["GenerateConfig", "exit_code", "generate_run", "summarize"]

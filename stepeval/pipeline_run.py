"""`stepeval run CONFIG.yaml`: generate every model of the config, score, build the report.

The YAML is the run config (`stepeval.runs.schema.RunConfig`, docs/run-yaml.md; `stepeval config
schema` prints it): benchmark, subset, models, seed, num_samples, run_dir, name, device, ... plus the
sections generation does not read:

    metrics:                      which scorers run (`stepeval score --list-metrics`), with their settings
      motion_score: {every: 12, short_side: 256, top_fraction: 0.1, workers: 0}
      synthetic: {}               the synthetic world's ground-truth checks (needs labels.json)
      vbench_i2v: {dimensions: [...], devices: cpu, env_path: ...}
    report:                       options of `stepeval report` (formats, bootstrap, seed, focal, auto)
      out: PATH                   default RUN/report

`benchmark` may also be `{synthetic: {n: 16, seed: 20250320}}`: the synthetic smoke benchmark is
then written (deterministically) into RUN/benchmark/ and used from there.

Relative paths in a config are relative to the config file's folder, except `run_dir`, which is
relative to the working directory (default `runs/<name>`). Every stage resumes: videos and scores
already made are kept, so rerunning the same command finishes an interrupted run. The report is
built by the installed `report` command group (`stepeval.commands` entry point), so this module
never imports the `reports` package.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from rich.console import Console

from stepeval.errors import UserError
from stepeval.runs import Run, atomic_write_text
from stepeval.runs.schema import RunConfig, read_config_file, validate_config

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


# ------------------------------------------------------------------------------------------------
# Config
# ------------------------------------------------------------------------------------------------

def resolve_config_path(spec: str | Path | None) -> Path:
    """A config file, or the name of a shipped one (`smoke` -> configs/smoke.yaml); default smoke."""
    if spec is None:
        spec = "smoke"
    path = Path(spec)
    if path.is_file():
        return path
    shipped = CONFIG_DIR / f"{spec}.yaml"
    if path.suffix == "" and shipped.is_file():
        return shipped
    names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")) if CONFIG_DIR.is_dir() else []
    raise UserError("config file not found", path=path,
                    hint=f"pass a YAML file, or one of the shipped configs: {', '.join(names) or '(none)'}")


def load_config(path: Path) -> RunConfig:
    """The config file, checked whole before anything runs: keys and types, every model's parameters,
    every metric and its settings."""
    from stepeval.generation.params import check_model_params

    cfg = validate_config(read_config_file(path), where=path)
    if not cfg.models:
        raise UserError("the config names no model", path=path, hint="add a `models:` list, e.g. models: [{name: static}]")
    if cfg.shard or cfg.launcher:
        # The pipeline scores and reports the whole run right after generating it: one shard of it
        # would be reported as if it were the run.
        raise UserError("`stepeval run` does a whole run in one process; `shard:` and `launcher:` are for `stepeval generate` "
                        "and `stepeval score`", path=path,
                        hint="remove them here, or run `stepeval generate --config` (and `stepeval score`) with them, "
                             "then `stepeval report` (docs/sharding.md)")
    check_model_params(cfg.models, where=path)
    _check_metrics(cfg.metrics, path)
    return cfg


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------

@dataclass
class RunResult:
    run_dir: Path
    report: Path | None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    generation: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    check: dict | None = None
    ablation: Path | None = None


def _materialise_benchmark(cfg: RunConfig, run_dir: Path) -> Path:
    from stepeval.benchmark import synthetic

    spec = cfg.benchmark.synthetic
    dest = run_dir / "benchmark"
    synthetic.write_smoke_benchmark(dest, n=spec.n, seed=spec.seed, also=tuple((s.n, s.seed, s.prefix) for s in spec.also))
    return dest


def _run_dir(cfg: RunConfig, config_path: Path) -> Path:
    return Path(cfg.run_dir) if cfg.run_dir else Path("runs") / (cfg.name or config_path.stem)


def _report_command():
    """The installed `report` command group (a typer app), or None when reports is not installed."""
    for ep in entry_points(group="stepeval.commands"):
        if ep.name == "report":
            return ep.load()
    return None


def run_pipeline(config_path: Path, *, console: Console | None = None, run_dir: Path | None = None,
                 show_progress: bool = True, command: str = "") -> RunResult:
    from stepeval.generation.runner import GenerateConfig, generate_run

    console = console or Console(stderr=True)
    cfg = load_config(config_path)
    root = Path(run_dir) if run_dir else _run_dir(cfg, config_path)
    stages: dict[str, float] = {}
    result = RunResult(root, None, stages)

    t0 = time.perf_counter()
    bench_dir = _materialise_benchmark(cfg, root) if cfg.benchmark.path is None else Path(cfg.benchmark.path)
    cfg.benchmark.path = str(bench_dir)
    cfg.run_dir = str(root)
    cfg.name = cfg.name or config_path.stem
    gen_cfg = GenerateConfig.from_config(cfg, where=config_path, config_file=config_path)
    stages["prepare"] = time.perf_counter() - t0

    console.rule("[bold]1/3 generate")
    t0 = time.perf_counter()
    result.generation = generate_run(gen_cfg, console=console, show_progress=show_progress, command=command)
    stages["generate"] = time.perf_counter() - t0

    console.rule("[bold]2/3 score")
    run = Run.open(root)
    for name, settings in cfg.metrics.items():
        t0 = time.perf_counter()
        result.metrics[name] = _score(name, dict(settings or {}), run, bench_dir, cfg, console)
        stages[f"score:{name}"] = time.perf_counter() - t0

    console.rule("[bold]3/3 report")
    t0 = time.perf_counter()
    result.report = _build_report(cfg, run, bench_dir, console)
    if cfg.ablation is not None:
        result.ablation = _ablation(cfg, run, console)
    stages["report"] = time.perf_counter() - t0
    Run.open(root).add_stage_seconds(stages)
    return result


def _ablation(cfg: RunConfig, run: Run, console: Console) -> Path:
    from stepeval.ablation import write_ablation

    path, result = write_ablation(run, cfg.ablation, n_resamples=cfg.ablation.bootstrap, seed=cfg.report.seed or 0)
    for a in result["answers"]:
        console.print(f"[bold]{a['question']}[/]: {a['verdict']} ({a['metric']}: {a['variant']} - {a['reference']} = "
                      f"{a['difference']:.3g} [{a['low']:.3g}, {a['high']:.3g}], {a['items']} items)")
    console.print(f"ablation: {path}")
    return path


def _check_metrics(metrics: dict, path: Path) -> None:
    """Every metric of a config is installed and every setting is one it takes, checked before any
    video is generated (a typo must not surface after hours of generation)."""
    from stepeval.metrics import registry

    known = registry.available()
    unknown = sorted(set(metrics) - set(known))
    if unknown:
        renamed = [f"{u} -> {registry.DEPRECATED_ALIASES[u]}" for u in unknown if u in registry.DEPRECATED_ALIASES]
        raise UserError(f"unknown metric(s) {', '.join(unknown)}", path=path,
                        hint=(f"write {', '.join(renamed)}; " if renamed else "") + f"known metrics: {', '.join(known)}")
    for name, settings in metrics.items():
        if settings is not None and not isinstance(settings, dict):
            raise UserError(f"the settings of metric {name!r} must be a mapping (or empty)", path=path)
        try:
            registry.check_settings(registry.get(name), settings, allow=registry.COMMON_SETTINGS)
        except UserError as exc:
            raise UserError(str(exc).split("\n")[0], path=path, hint=exc.hint) from exc


def _score(name: str, settings: dict, run: Run, bench_dir: Path, cfg: RunConfig, console: Console) -> dict:
    from stepeval.metrics import registry

    metric = registry.get(name)
    settings = dict(settings)
    rescore = bool(settings.pop("rescore", False))
    # A metric that reads the benchmark gets the folder this run generated from (the materialised
    # one for a synthetic benchmark) and its layout, unless the config names another.
    for key, value in (("benchmark", str(bench_dir)), ("kind", cfg.benchmark.kind)):
        if key in metric.settings:
            settings.setdefault(key, value)
    report = registry.score(name, run, settings=settings, rescore=rescore, log=lambda m: console.print(m))
    out = report.to_dict()
    console.print(f"{name}: {out}", highlight=False)
    return out


def _build_report(cfg: RunConfig, run: Run, bench_dir: Path, console: Console) -> Path | None:
    import typer.main

    options = cfg.report
    app = _report_command()
    if app is None:
        console.print("[yellow]note:[/] no `report` command installed (the reports package); skipping the report")
        return None
    out = Path(options.out) if options.out else run.root / "report"
    args = [str(run.root), "--out", str(out)]
    if options.formats:
        args += ["--format", ",".join(options.formats) if isinstance(options.formats, list) else options.formats]
    for key in ("bootstrap", "seed", "focal"):
        if getattr(options, key) is not None:
            args += [f"--{key}", str(getattr(options, key))]
    if not options.auto:
        args.append("--no-auto")
    # run.yaml keeps these too, so a later `stepeval report RUN` shows the same; passing them makes
    # this report independent of which run.yaml the report command reads.
    for flag, values in (("--published", options.published), ("--published-path", options.published_paths),
                         ("--compare-published", options.compare_published), ("--table2-columns", options.table2_columns)):
        for value in values:
            args += [flag, str(value)]
    annotations = options.annotations
    if annotations is None and "synthetic" in cfg.metrics:
        annotations = _write_synthetic_judgments(run)
    if annotations:
        args += ["--annotations", str(annotations)]
    cmd = typer.main.get_command(app)
    cmd.main(args=args, prog_name="stepeval report", standalone_mode=False)
    return out / "index.html" if (out / "index.html").exists() else out


def _write_synthetic_judgments(run: Run) -> Path | None:
    """Metric-derived judgments from the synthetic world's ground truth, as an export file the
    report reads (source `auto`: shown in the report's AUTO section, never mixed with human ones)."""
    from stepeval.metrics import judge, synthetic

    scores = run.scores.latest(("model_tag", "item_id", "sample", "metric"))
    if scores.empty:
        return None
    models = run.configured_tags()
    mapping = synthetic.TEXT_JUDGE_METRICS if synthetic.text_only(run) else synthetic.JUDGE_METRICS
    frame = judge.pairwise_judgments(scores, mapping, models=models, run_name=run.name,
                                     margin=synthetic.JUDGE_MARGIN, study_id=synthetic.JUDGE_STUDY_ID,
                                     item_info=synthetic.judge_item_info)
    if frame.empty:
        return None
    path = run.root / judge.AUTO_JUDGMENTS_FILE
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, default=_nan_none) + "\n"
                                    for r in frame.to_dict(orient="records")))
    return path


def _nan_none(value: Any):
    return None


# ------------------------------------------------------------------------------------------------
# Regression check against a committed baseline
# ------------------------------------------------------------------------------------------------

def run_summary(run: Run) -> dict[str, float]:
    """The numbers a regression check compares: per model tag, the mean of each metric over its
    videos, and for model families with a motion_score sweep, Spearman(requested, measured)."""
    from stepeval.metrics.calibration import MOTION_CONTROL, run_calibration
    from stepeval.metrics.common import MODEL_ITEM

    scores = run.scores.latest(("model_tag", "item_id", "sample", "metric"))
    out: dict[str, float] = {}
    if scores.empty:
        return out
    ok = scores[(scores["status"] == "ok") & (scores["item_id"] != MODEL_ITEM)]
    for (tag, metric), grp in ok.groupby(["model_tag", "metric"]):
        out[f"{tag}/{metric}"] = round(float(grp["value"].mean()), 4)
    gens = run.generations.latest(("model_tag", "item_id", "sample"))
    # An empty generations table has no columns to group by.
    for tag, grp in (gens.groupby("model_tag") if not gens.empty else ()):
        out[f"{tag}/videos_ok"] = float((grp["status"] == "ok").sum())
    # Motion control: Spearman(requested, measured) per family of a motion_score sweep (the tag less
    # motion_score, so other swept settings are never pooled), as motion calibration computes it.
    _, families = run_calibration(run, "motion_score")
    for row in families.itertuples():
        if row.levels > 1:
            out[f"{row.family}/{MOTION_CONTROL}"] = round(float(row.rho_measured), 4)
    return out


def _headline_metrics() -> dict[str, tuple[str, str]]:
    """What `stepeval run` prints per model, when the run has it: metric -> (column label, what the
    number is). Image fidelity beside the subject's own colour and shape (whole-frame PSNR cannot
    see a small subject change colour), stray content, direction and the amount of motion; a
    text-only run has the named colour instead of the picture's checks."""
    from stepeval.metrics import motion, synthetic

    return {synthetic.METRIC_PSNR: ("PSNR", "first-frame PSNR (dB)"),
            synthetic.METRIC_COLOUR_KEPT: ("colour", "share keeping the subject's colour"),
            synthetic.METRIC_SHAPE_KEPT: ("shape", "share keeping its shape"),
            synthetic.METRIC_COLOUR_HELD: ("held", "share still showing its colour in every frame"),
            synthetic.METRIC_NAMED_COLOUR: ("named colour", "share showing the prompt's colour"),
            synthetic.METRIC_CLEAN: ("clean", "clean content"),
            synthetic.METRIC_DIRECTION: ("direction", "share following the prompt's direction with the subject present"),
            motion.METRIC: ("motion", "motion score")}


def headline_table(summary: dict[str, float]):
    """A model x headline-metric frame of a run summary and the columns' descriptions (None, "" when
    the run has none of them)."""
    import pandas as pd

    labels = _headline_metrics()
    present = [m for m in labels if any(k.endswith("/" + m) for k in summary)]
    if not present:
        return None, ""
    tags = sorted({k[: -len(m) - 1] for k in summary for m in present if k.endswith("/" + m)})
    rows = [{"model": tag, **{labels[m][0]: summary.get(f"{tag}/{m}", float("nan")) for m in present}} for tag in tags]
    return pd.DataFrame(rows), "; ".join(labels[m][1] for m in present)


def check_against(summary: dict[str, float], baseline_path: Path) -> dict:
    """Compare a run summary with a baseline file: {"metrics": {key: value}, "tolerances": {...}}.

    Keys are `MODEL_TAG/METRIC`. A tolerance is looked up by the full key, then by the metric
    (`synthetic/first_frame_psnr`), then by its last part (`first_frame_psnr`), else "default";
    each is {"abs": a, "rel": r} and a value passes when |new - old| <= max(a, r * |old|).
    A metric missing from the run fails; one the baseline lacks is listed, not failed."""
    try:
        base = json.loads(Path(baseline_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the baseline ({exc})", path=baseline_path,
                        hint="write one with `stepeval run CONFIG --write-baseline PATH`") from exc
    tolerances = base.get("tolerances", {})
    default = tolerances.get("default", {"abs": 0.0, "rel": 0.0})
    failures, checked = [], []
    for key, old in sorted(base.get("metrics", {}).items()):
        tol = _tolerance_for(key, tolerances, default)
        new = summary.get(key)
        allowed = max(float(tol.get("abs", 0.0)), float(tol.get("rel", 0.0)) * abs(float(old)))
        row = {"metric": key, "baseline": old, "value": new, "allowed": round(allowed, 6)}
        if new is None or (isinstance(new, float) and math.isnan(new)):
            row["status"] = "missing"
            failures.append(row)
        elif abs(float(new) - float(old)) > allowed + 1e-12:
            row["status"] = "moved"
            failures.append(row)
        else:
            row["status"] = "ok"
        checked.append(row)
    new_keys = sorted(set(summary) - set(base.get("metrics", {})))
    return {"ok": not failures, "checked": checked, "failures": failures, "not_in_baseline": new_keys}


def _tolerance_for(key: str, tolerances: dict, default: dict) -> dict:
    # Most specific first: the full key, then the metric name with its namespace, then its last part.
    metric = key.split("/", 1)[1] if "/" in key else key
    for candidate in (key, metric, metric.rsplit("/", 1)[-1]):
        if candidate in tolerances:
            return tolerances[candidate]
    return default


def write_baseline(summary: dict[str, float], path: Path, tolerances: dict, note: str = "") -> Path:
    body = {"note": note, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "tolerances": tolerances,
            "metrics": dict(sorted(summary.items()))}
    atomic_write_text(path, json.dumps(body, indent=1, sort_keys=False) + "\n")
    return path


DEFAULT_TOLERANCES = {
    # Per-video means over 16 items; the same code and seeds reproduce them to float noise on one
    # machine. The margins absorb CPU/BLAS and OpenCV/FFmpeg build differences between machines,
    # and are tight enough that a broken stage (no motion, lost image conditioning, wrong direction
    # on a few items) moves a value past them.
    "default": {"abs": 0.02, "rel": 0.05},
    "motion_score": {"abs": 0.3, "rel": 0.15},
    "first_frame_psnr": {"abs": 1.0},
    "first_frame_fidelity": {"abs": 0.025},
    "direction_match": {"abs": 0.13},  # two of 16 items
    "temporal_smoothness": {"abs": 0.03},
    "motion_spearman": {"abs": 0.1},
    "videos_ok": {"abs": 0.0},
}

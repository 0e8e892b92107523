"""`stepeval run CONFIG.yaml`: generate every model of the config, score, build the report.

The YAML is the generation schema (`stepeval.generation.runner.GenerateConfig`: benchmark, kind,
subset, models, seed, num_samples, run_dir, name, device, ...) plus two sections of its own:

    metrics:                      which scorers run, with their settings
      motion_score: {every: 12, short_side: 256, top_fraction: 0.1, workers: 0}
      synthetic: {}               the synthetic world's ground-truth judge (needs labels.json)
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

import yaml
from rich.console import Console

from stepeval.errors import UserError
from stepeval.runs import Run, atomic_write_text

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
RUN_KEYS = {"metrics", "report", "check"}
KNOWN_METRICS = ("motion_score", "synthetic", "vbench_i2v")


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


def load_config(path: Path) -> dict:
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read the config ({exc})", path=path, hint="fix the YAML syntax") from exc
    if not isinstance(cfg, dict):
        raise UserError("a config must be a YAML mapping", path=path)
    metrics = cfg.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise UserError("`metrics:` must be a mapping of metric name -> settings", path=path)
    unknown = sorted(set(metrics) - set(KNOWN_METRICS))
    if unknown:
        raise UserError(f"unknown metric(s) {', '.join(unknown)}", path=path, hint=f"known metrics: {', '.join(KNOWN_METRICS)}")
    base = path.resolve().parent
    bench = cfg.get("benchmark")
    if isinstance(bench, str):
        cfg["benchmark"] = str(_relative_to(base, bench))
    elif isinstance(bench, dict) and set(bench) != {"synthetic"}:
        raise UserError("`benchmark:` must be a path or {synthetic: {n, seed}}", path=path)
    if cfg.get("subset") and isinstance(cfg["subset"], dict) and cfg["subset"].get("ids_file"):
        cfg["subset"]["ids_file"] = str(_relative_to(base, cfg["subset"]["ids_file"]))
    for m in cfg.get("models") or []:
        params = m.get("params") if isinstance(m, dict) else None
        if isinstance(params, dict) and isinstance(params.get("model_dir"), str):
            params["model_dir"] = str(_relative_to(base, params["model_dir"]))
    return cfg


def _relative_to(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


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


def _materialise_benchmark(cfg: dict, run_dir: Path) -> Path:
    from stepeval.benchmark import synthetic

    spec = cfg["benchmark"]["synthetic"] or {}
    dest = run_dir / "benchmark"
    synthetic.write_smoke_benchmark(dest, n=int(spec.get("n", 16)), seed=int(spec.get("seed", synthetic.SMOKE_SEED)))
    return dest


def _run_dir(cfg: dict, config_path: Path) -> Path:
    if cfg.get("run_dir") or cfg.get("out"):
        return Path(cfg.get("run_dir") or cfg.get("out"))
    return Path("runs") / str(cfg.get("name") or config_path.stem)


def _report_command():
    """The installed `report` command group (a typer app), or None when reports is not installed."""
    for ep in entry_points(group="stepeval.commands"):
        if ep.name == "report":
            return ep.load()
    return None


def run_pipeline(config_path: Path, *, console: Console | None = None, run_dir: Path | None = None,
                 show_progress: bool = True, command: str = "") -> RunResult:
    from stepeval.generation.runner import generate_run

    console = console or Console(stderr=True)
    cfg = load_config(config_path)
    root = Path(run_dir) if run_dir else _run_dir(cfg, config_path)
    stages: dict[str, float] = {}
    result = RunResult(root, None, stages)

    t0 = time.perf_counter()
    bench_dir = _materialise_benchmark(cfg, root) if isinstance(cfg.get("benchmark"), dict) else Path(cfg["benchmark"])
    gen_cfg = {k: v for k, v in cfg.items() if k not in RUN_KEYS}
    gen_cfg["benchmark"] = str(bench_dir)
    gen_cfg["run_dir"] = str(root)
    gen_cfg.pop("out", None)
    # Record the whole config (metrics, report, check) in run.yaml before generation merges its part.
    Run.create(root, {"stepeval_run_config": str(config_path), **{k: cfg[k] for k in RUN_KEYS if k in cfg},
                      "benchmark": str(bench_dir)}, command=command)
    stages["prepare"] = time.perf_counter() - t0

    console.rule("[bold]1/3 generate")
    t0 = time.perf_counter()
    result.generation = generate_run(gen_cfg, console=console, show_progress=show_progress, command=command)
    stages["generate"] = time.perf_counter() - t0

    console.rule("[bold]2/3 score")
    run = Run.open(root)
    metrics = cfg.get("metrics") or {}
    for name, settings in metrics.items():
        t0 = time.perf_counter()
        result.metrics[name] = _score(name, dict(settings or {}), run, bench_dir, cfg, console)
        stages[f"score:{name}"] = time.perf_counter() - t0

    console.rule("[bold]3/3 report")
    t0 = time.perf_counter()
    result.report = _build_report(cfg, run, bench_dir, console)
    stages["report"] = time.perf_counter() - t0
    run = Run.open(root)
    run.meta.setdefault("stage_seconds", []).append({k: round(v, 2) for k, v in stages.items()})
    run.save_meta()
    return result


def _score(name: str, settings: dict, run: Run, bench_dir: Path, cfg: dict, console: Console) -> dict:
    if name == "motion_score":
        from stepeval.metrics.motion import MotionSettings, score_run_motion

        workers = int(settings.pop("workers", 0))
        try:
            ms = MotionSettings(**settings)
        except (TypeError, ValueError) as exc:
            raise UserError(f"bad motion_score settings ({exc})", hint="allowed: every, short_side, top_fraction, workers") from exc
        rep = score_run_motion(run, settings=ms, workers=workers)
        out = {"scored": rep.scored, "skipped": rep.skipped, "failed": rep.failed}
    elif name == "synthetic":
        from stepeval.benchmark import synthetic

        out = synthetic.score_run_synthetic(run, bench_dir, rescore=bool(settings.get("rescore", False)))
    else:  # vbench_i2v
        from stepeval.metrics.vbench_i2v import parse_dimensions, score_run_vbench

        dims = settings.pop("dimensions", None)
        dims = parse_dimensions(",".join(dims) if isinstance(dims, list) else dims)
        rep = score_run_vbench(run, dims, benchmark=bench_dir, kind=str(cfg.get("kind", "auto")),
                               log=lambda m: console.print(m), **settings)
        out = {k: v for k, v in vars(rep).items() if isinstance(v, (int, float, str))}
    console.print(f"{name}: {out}", highlight=False)
    return out


def _build_report(cfg: dict, run: Run, bench_dir: Path, console: Console) -> Path | None:
    import typer.main

    report_cfg = dict(cfg.get("report") or {})
    app = _report_command()
    if app is None:
        console.print("[yellow]note:[/] no `report` command installed (the reports package); skipping the report")
        return None
    out = Path(report_cfg.get("out") or run.root / "report")
    args = [str(run.root), "--out", str(out)]
    formats = report_cfg.get("formats")
    if formats:
        args += ["--format", ",".join(formats) if isinstance(formats, list) else str(formats)]
    for key in ("bootstrap", "seed", "focal"):
        if report_cfg.get(key) is not None:
            args += [f"--{key}", str(report_cfg[key])]
    if report_cfg.get("auto") is False:
        args.append("--no-auto")
    annotations = report_cfg.get("annotations")
    if annotations is None and "synthetic" in (cfg.get("metrics") or {}):
        annotations = _write_synthetic_judgments(run)
    if annotations:
        args += ["--annotations", str(annotations)]
    cmd = typer.main.get_command(app)
    cmd.main(args=args, prog_name="stepeval report", standalone_mode=False)
    return out / "index.html" if (out / "index.html").exists() else out


def _write_synthetic_judgments(run: Run) -> Path | None:
    """Metric-derived judgments from the synthetic world's ground truth, as an export file the
    report reads (source `auto`: shown in the report's AUTO section, never mixed with human ones)."""
    from stepeval.benchmark import synthetic

    scores = run.scores.latest(("model_tag", "item_id", "sample", "metric"))
    if scores.empty:
        return None
    models = [m.get("tag") for m in run.config.get("models", []) if isinstance(m, dict) and m.get("tag")]
    frame = synthetic.pairwise_judgments(scores, models, run.name)
    if frame.empty:
        return None
    path = run.root / "auto-judgments.jsonl"
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
    import pandas as pd

    from stepeval.metrics.common import MODEL_ITEM

    scores = run.scores.latest(("model_tag", "item_id", "sample", "metric"))
    out: dict[str, float] = {}
    if scores.empty:
        return out
    ok = scores[(scores["status"] == "ok") & (scores["item_id"] != MODEL_ITEM)]
    for (tag, metric), grp in ok.groupby(["model_tag", "metric"]):
        out[f"{tag}/{metric}"] = round(float(grp["value"].mean()), 4)
    gens = run.generations.latest(("model_tag", "item_id", "sample"))
    for tag, grp in gens.groupby("model_tag"):
        out[f"{tag}/videos_ok"] = float((grp["status"] == "ok").sum())
    # Motion control: requested vs measured over every (item, setting) of a motion_score sweep.
    motion = ok[ok["metric"] == "motion_score"].copy()
    motion["family"] = motion["model_tag"].str.split("@").str[0]
    motion["requested"] = motion["model_tag"].str.extract(r"motion_score=([0-9.]+)")[0].astype(float)
    for family, grp in motion.dropna(subset=["requested"]).groupby("family"):
        if grp["requested"].nunique() > 1:
            rho = pd.Series(grp["requested"].values).rank().corr(pd.Series(grp["value"].values).rank())
            out[f"{family}/motion_spearman"] = round(float(rho), 4)
    return out


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

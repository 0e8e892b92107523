"""run.yaml and the YAML run config: one typed contract (docs/run-yaml.md).

`RunConfig` is what a user writes (`stepeval run CONFIG.yaml`, `stepeval generate --config`) and
what run.yaml keeps under `config:` once resolved; `RunRecord` is the whole run.yaml. Every writer
(`generate`, `generate import`, `run`) goes through `Run.create`, every reader through `Run.open`,
and both through these models, so a field means the same thing everywhere.

Paths: in a config file, relative paths are relative to the config file's folder (`run_dir`: to the
working directory). In run.yaml, `config.benchmark.path` is absolute, or relative to the run
directory when the benchmark lives inside it (the synthetic benchmark `stepeval run` writes), so a
run directory keeps working from any working directory and when it is moved with its benchmark.

`schema_version` 2 is this layout. run.yaml files without one (version 1: `stepeval_run: 1`, the
benchmark as a bare path string, `kind` and `subset` beside it) are read through `upgrade` and
written back in this layout on the next write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator, model_validator

from stepeval.benchmark import KINDS, Subset
from stepeval.benchmark.synthetic import SMOKE_SEED
from stepeval.errors import UserError

SCHEMA_VERSION = 2
Scalar = int | float | bool | str


class _Strict(BaseModel):
    # An unknown key is a typo (`model:` for `models:`) until proven otherwise.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SubsetConfig(_Strict):
    """Which items of the benchmark (every key narrows; `sample` draws a stratified sample)."""

    domains: list[str] = Field(default_factory=list, description="Keep only these domains (real, anime, ...).")
    aspects: list[str] = Field(default_factory=list, description="Keep only these aspects (H, S, V).")
    ids: list[str] = Field(default_factory=list, description="Keep only these item ids.")
    ids_file: str | None = Field(None, description="A file with one item id per line (added to `ids`).")
    sample: PositiveInt | None = Field(None, description="A seeded sample of N items, stratified by domain and aspect.")
    seed: int = Field(0, description="Seed of `sample`.")
    present_only: bool = Field(False, description="Keep only items whose image is present locally.")

    @field_validator("domains", "aspects", "ids", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def to_subset(self) -> Subset:
        return Subset.from_dict(self.model_dump())

    @classmethod
    def from_subset(cls, subset: Subset) -> SubsetConfig:
        return cls.model_validate(subset.to_dict())


class SyntheticSet(_Strict):
    """A further set of synthetic scenes in the same benchmark folder, named PREFIX000, PREFIX001, ..."""

    n: PositiveInt = Field(description="Number of scenes.")
    seed: int = Field(description="Seed of the scenes (keep it apart from training and validation).")
    prefix: str = Field(pattern=r"^[a-rt-zA-Z][a-zA-Z]*$", description="Item-name prefix (letters; the main set's is 's').")


class SyntheticBenchmark(_Strict):
    """The synthetic smoke world, written deterministically into RUN/benchmark/."""

    n: PositiveInt = Field(16, description="Number of scenes.")
    seed: int = Field(SMOKE_SEED, description="Seed of the scenes (the smoke set's by default).")
    also: list[SyntheticSet] = Field(default_factory=list, description="Further sets in the same folder, e.g. a larger held-out set.")


class AblationQuestion(_Strict):
    """One design question, answered by the interval of variant minus reference on one metric."""

    question: str = Field(description="In plain words, e.g. 'frame replacement keeps the first frame better'.")
    variant: str = Field(description="Model family (a config tag without its motion_score sweep).")
    metric: str = Field(description="A per-video metric of the run, or motion_spearman (motion control).")
    reference: str | None = Field(None, description="Family to compare with (default: the ablation's reference).")
    higher_is_better: bool = Field(True, description="Which side of zero answers 'yes'.")


class AblationConfig(_Strict):
    """A design ablation over the run's model families (stepeval.ablation)."""

    reference: str = Field(description="The family every variant is compared with.")
    variants: list[str] = Field(description="Families compared with the reference on every metric.")
    questions: list[AblationQuestion] = Field(default_factory=list, description="Plain-language questions and the metric that answers each.")
    bootstrap: PositiveInt = Field(2000, description="Cluster-bootstrap resamples of items.")


class BenchmarkConfig(_Strict):
    """The benchmark a run draws its items from: a folder (`path`) or the synthetic world."""

    path: str | None = Field(None, description="Benchmark folder. In run.yaml: absolute, or relative to the run directory.")
    kind: Literal[KINDS] = Field("auto", description="Layout of the folder; auto detects it.")  # type: ignore[valid-type]
    synthetic: SyntheticBenchmark | None = Field(None, description="Write the synthetic smoke benchmark instead of reading a folder.")
    name: str | None = Field(None, description="The benchmark's name (filled in when the run is created).")

    @model_validator(mode="after")
    def _a_source(self) -> BenchmarkConfig:
        # run.yaml keeps both for the synthetic world: what was asked for and where it was written.
        if self.path is None and self.synthetic is None:
            raise ValueError("give `path` (a benchmark folder) or `synthetic: {n, seed}`")
        return self


class ModelConfig(_Strict):
    """One model entry: a registered generator, its parameters, an optional tag, an optional sweep."""

    name: str = Field(description="Generator name (`stepeval generate --list-models`).")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters of the generator.")
    tag: str | None = Field(None, description="Model tag (default: name@k=v,... built from params and sweep).")
    sweep: dict[str, list[Scalar] | Scalar] = Field(default_factory=dict, description="Parameter -> values: one model tag per combination.")


class ReportConfig(_Strict):
    """Options of `stepeval report` for the report `stepeval run` builds."""

    out: str | None = Field(None, description="Report folder (default RUN/report).")
    formats: list[str] | str | None = Field(None, description="html, json, csv, md, tex.")
    bootstrap: PositiveInt | None = Field(None, description="Bootstrap resamples for the intervals.")
    seed: int | None = Field(None, description="Seed of the bootstrap.")
    focal: str | None = Field(None, description="The model tag the report compares the others with.")
    auto: bool = Field(True, description="Include metric-derived (automatic) judgments.")
    annotations: str | None = Field(None, description="Judgments file or store to report (default: the run's own store).")
    published: list[str] = Field(default_factory=list, description="Published columns shown beside the run's, marked as such: NAME or NAME:COLUMN (docs/published-results.md).")
    published_paths: list[str] = Field(default_factory=list, description="Reference-results files or folders of your own (besides the shipped ones).")
    compare_published: list[str] = Field(default_factory=list, description="Compare the run with published columns, per dimension: NAME:COLUMN or NAME:COLUMN=MODEL_TAG.")
    table2_columns: list[str] = Field(default_factory=list, description="Table 2's opponents, in this order (default: the run's model order).")

    @field_validator("published", "published_paths", "compare_published", "table2_columns", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def _check_shard(value: Any) -> Any:
    """`I/N` with 0 <= I < N: the form `--shard` takes."""
    if value is None:
        return value
    from stepeval.runs.shards import Shard

    try:
        return str(Shard.parse(str(value)))
    except UserError:
        raise ValueError("a shard is I/N with N >= 1 and 0 <= I < N (0/4 ... 3/4)") from None


class LauncherConfig(_Strict):
    """How `stepeval generate`/`score` start the shards of a run: here (`local`, one subprocess per
    shard) or on a SLURM cluster (`slurm`, one job-array task per shard, through submitit)."""

    kind: Literal["local", "slurm"] = Field("local", description="local: subprocesses on this machine; slurm: a SLURM job array.")
    shards: PositiveInt = Field(1, description="Number of shards (one subprocess or array task each).")
    gpus_per_shard: int = Field(0, ge=0, description="local: GPUs given to each shard (CUDA_VISIBLE_DEVICES); 0: none assigned.")
    nodes: PositiveInt = Field(1, description="slurm: nodes per shard.")
    gpus_per_node: int = Field(0, ge=0, description="slurm: GPUs per node; more than 1 runs the shard as a torchrun group.")
    cpus_per_task: PositiveInt | None = Field(None, description="slurm: CPUs per task.")
    mem_gb: float | None = Field(None, gt=0, description="slurm: memory per node in GB.")
    partition: str | None = Field(None, description="slurm: partition.")
    time: str | None = Field(None, description="slurm: time limit per task, minutes or HH:MM:SS.")
    account: str | None = Field(None, description="slurm: account.")
    qos: str | None = Field(None, description="slurm: quality of service.")
    max_parallel: PositiveInt | None = Field(None, description="slurm: most array tasks running at once.")
    requeue: bool = Field(True, description="slurm: requeue a preempted or timed-out task (it resumes: done work is skipped).")
    max_requeues: int = Field(3, ge=0, description="slurm: requeues per task before it counts as failed.")
    logs: str | None = Field(None, description="slurm: folder of submitit's job files and logs (default RUN/.slurm).")
    extra: dict[str, Any] = Field(default_factory=dict, description="slurm: more sbatch parameters (submitit's slurm_additional_parameters).")


class RunConfig(_Strict):
    """A run's configuration: benchmark and subset x models x samples, metrics, report."""

    name: str | None = Field(None, description="Run name; the run lives in runs/<name> unless run_dir says otherwise.")
    benchmark: BenchmarkConfig = Field(description="A benchmark folder (a path), {path, kind} or {synthetic: {n, seed}}.")
    subset: SubsetConfig = Field(default_factory=SubsetConfig, description="Which items of the benchmark.")
    models: list[ModelConfig] = Field(default_factory=list, description="Model settings to generate.")
    seed: int = Field(0, description="Run seed: every video's seed derives from (seed, item id, sample).")
    num_samples: PositiveInt = Field(1, description="Videos per item and model setting.")
    run_dir: str | None = Field(None, description="Run directory (relative to the working directory). Not kept in run.yaml.")
    device: str = Field("auto", description="auto, cpu, cuda, cuda:1.")
    sp_degree: PositiveInt = Field(1, description="Ranks per sequence-parallel group.")
    retry_failed: bool = Field(False, description="Also redo videos whose last attempt failed. Not kept in run.yaml.")
    shard: str | None = Field(None, description="I/N: do only shard I of N of the work (stepeval.runs.shards). Not kept in run.yaml's config (each invocation records its own).")
    launcher: LauncherConfig | None = Field(None, description="Start the shards here or on SLURM instead of doing the work in this process. Not kept in run.yaml.")
    placeholder_images: bool = Field(False, description="Give items without an image a placeholder (dry runs).")
    task: Literal["auto", "ti2v", "t2v"] = Field("auto", description="auto: the benchmark's task; t2v: give the models the prompts alone (images unused); ti2v: every item needs an image (a text-only benchmark then needs placeholder_images). A model that does not serve the task is refused.")
    vbench_view: bool = Field(True, description="Write RUN/vbench/, a VBench custom-input view of the videos.")
    metrics: dict[str, dict[str, Any] | None] = Field(default_factory=dict, description="Metric name -> settings (`stepeval score --list-metrics`).")
    report: ReportConfig = Field(default_factory=ReportConfig, description="Options of the report.")
    ablation: AblationConfig | None = Field(None, description="Compare model families on every metric and answer design questions (RUN/ablation/).")

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        """`benchmark: PATH`, a top-level `kind:`, `out:` for `run_dir:`, and bare model names."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        bench = data.get("benchmark")
        if isinstance(bench, (str, Path)):
            data["benchmark"] = bench = {"path": str(bench)}
        if "kind" in data:
            kind = data.pop("kind")
            if isinstance(bench, dict) and kind is not None:
                data["benchmark"] = {**bench, "kind": kind}
        if "out" in data:
            out = data.pop("out")
            data.setdefault("run_dir", out)
        models = data.get("models")
        if isinstance(models, list):
            data["models"] = [{"name": m} if isinstance(m, str) else m for m in models]
        return data

    @field_validator("shard", mode="before")
    @classmethod
    def _shard(cls, value: Any) -> Any:
        return _check_shard(value)

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_list(cls, value: Any) -> Any:
        if isinstance(value, list):  # `metrics: [motion_score, synthetic]`
            return {str(v): {} for v in value}
        return value


class ImportRecord(_Strict):
    """Provenance of videos made elsewhere (`stepeval generate import`)."""

    engine: str
    date: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    folder: str | None = None


class Invocation(_Strict):
    at: str
    command: str = ""
    shard: str | None = Field(None, description="I/N when the invocation did one shard of the run.")
    cwd: str | None = None
    git_commit: str | None = None


class RunRecord(_Strict):
    """The whole run.yaml."""

    schema_version: Literal[2] = SCHEMA_VERSION
    created_at: str
    updated_at: str
    config: RunConfig
    config_file: str | None = Field(None, description="The YAML file `stepeval run` read.")
    items: list[str] = Field(default_factory=list, description="The run's item ids: every item some invocation selected.")
    imports: dict[str, ImportRecord] = Field(default_factory=dict, description="Model tag -> provenance of imported videos.")
    environment: dict[str, Any] = Field(default_factory=dict)
    invocations: list[Invocation] = Field(default_factory=list)
    stage_seconds: list[dict[str, float]] = Field(default_factory=list)

    def dump(self) -> dict:
        """The YAML body: defaults of the config left out, except what a reader should see."""
        body = self.model_dump(mode="json", exclude_none=True)
        cfg = body["config"]
        for key in ("run_dir", "retry_failed", "shard", "launcher"):  # per invocation, not a property of the run
            cfg.pop(key, None)
        for model in cfg.get("models", []):
            if not model.get("sweep"):
                model.pop("sweep", None)
        return body


# -- errors ------------------------------------------------------------------------------------------


def key_path(loc: tuple) -> str:
    """pydantic's location as a user writes it: models[0].params.motion_score."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str] | None:
    """The keys allowed at `loc` (the parent of an unknown key), for the message."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(part) if isinstance(current, type) and issubclass(current, BaseModel) else None
        if field is None:
            return None
        current = _model_of(field.annotation)
    return sorted(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def describe_errors(exc: ValidationError, model: type[BaseModel]) -> list[str]:
    """One line per problem: `key.path: what is wrong; allowed: ...`."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        # pydantic adds the union member or validator name to the location; users never wrote those.
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        where = key_path(loc)
        if err["type"] == "extra_forbidden":
            allowed = _fields_at(model, loc[:-1])
            lines.append(f"{where}: unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else ""))
        elif err["type"] == "missing":
            lines.append(f"{where}: required key is missing")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            given = err.get("input")
            shown = f" (got {given!r})" if isinstance(given, (str, int, float, bool)) else ""
            lines.append(f"{where}: {msg}{shown}")
    return list(dict.fromkeys(lines))


def validate_config(data: Any, *, where: str | Path) -> RunConfig:
    """A RunConfig from a YAML mapping, or one UserError naming the file and every bad key."""
    if not isinstance(data, dict):
        raise UserError("a config must be a YAML mapping (benchmark: ..., models: [...])", path=where)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise invalid(where, describe_errors(exc, RunConfig)) from None


def invalid(where: str | Path, problems: list[str]) -> UserError:
    return UserError(
        "invalid config:\n  " + "\n  ".join(problems),
        path=where,
        hint="correct the keys named above (`stepeval config schema` prints every key and type)",
    )


def read_config_file(path: Path) -> dict:
    """A config file, checked, with its relative paths made relative to its own folder; returned as
    the keys it sets, so command-line flags can still be laid over it before `validate_config`.
    A run's run.yaml is read as the config of that run."""
    import yaml

    if not path.is_file():
        raise UserError("config file not found", path=path, hint="pass an existing YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read the config ({exc})", path=path, hint="fix the YAML syntax") from exc
    if isinstance(data, dict) and "config" in data and ("schema_version" in data or "stepeval_run" in data):
        data = _config_of_record(data, path)
    cfg = validate_config(data, where=path)
    base = path.resolve().parent
    if cfg.benchmark.path is not None:
        cfg.benchmark.path = str(_under(base, cfg.benchmark.path))
    if cfg.subset.ids_file:
        cfg.subset.ids_file = str(_under(base, cfg.subset.ids_file))
    if cfg.report.published_paths:
        cfg.report.published_paths = [str(_under(base, p)) for p in cfg.report.published_paths]
    for model in cfg.models:
        if isinstance(model.params.get("model_dir"), str):
            model.params["model_dir"] = str(_under(base, model.params["model_dir"]))
    return cfg.model_dump(exclude_unset=True)


def _config_of_record(raw: dict, path: Path) -> dict:
    """A run's own run.yaml used as a config: the same run again (resume, or more ranks), on exactly
    the items it recorded."""
    body = upgrade(raw, path.parent)
    config = dict(body.get("config") or {})
    config.setdefault("run_dir", str(path.parent))
    if body.get("items"):
        config["subset"] = {"ids": list(body["items"])}
    return config


def _under(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


# -- older run.yaml files ----------------------------------------------------------------------------


def upgrade(raw: dict, run_root: Path) -> dict:
    """A run.yaml body of any earlier layout as a version-2 body (see the module docstring)."""
    if raw.get("schema_version") == SCHEMA_VERSION:
        return raw
    body = dict(raw)
    body.pop("stepeval_run", None)
    config = dict(body.get("config") or {})
    bench = config.get("benchmark")
    if isinstance(bench, str):
        bench = {"path": bench}
    bench = dict(bench or {})
    if "subset" in bench:
        config.setdefault("subset", bench.pop("subset"))
    if "kind" in config:
        bench.setdefault("kind", config.pop("kind"))
    if bench.get("path"):
        bench["path"] = _locate_v1_path(str(bench["path"]), run_root)
    config["benchmark"] = bench
    if "stepeval_run_config" in config:
        body.setdefault("config_file", config.pop("stepeval_run_config"))
    if "imports" in config:
        body["imports"] = {**config.pop("imports"), **(body.get("imports") or {})}
    config["models"] = [_v1_model(m) for m in config.get("models") or []]
    for key in ("run_dir", "out", "retry_failed", "shard", "launcher"):
        config.pop(key, None)
    body["config"] = config
    body.setdefault("updated_at", body.get("created_at", ""))
    body["schema_version"] = SCHEMA_VERSION
    return body


def _v1_model(entry: Any) -> Any:
    if isinstance(entry, dict) and "name" not in entry and entry.get("tag"):
        from stepeval.generation.tags import parse_tag

        return {**entry, "name": parse_tag(str(entry["tag"]))[0]}
    return entry


def _locate_v1_path(value: str, run_root: Path) -> str:
    """Version 1 kept paths as typed, relative to a working directory it did not record. Try that
    path from here, then the run directory and its tail (`runs/x/benchmark` of the run `x`)."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    if path.exists():
        return str(path.absolute())
    parts = path.parts
    for start in range(len(parts)):
        if parts[start] == "..":
            continue
        candidate = run_root / Path(*parts[start:])
        if candidate.exists():
            return str(candidate.resolve())
    return value


__all__ = [
    "SCHEMA_VERSION", "BenchmarkConfig", "ImportRecord", "Invocation", "LauncherConfig", "ModelConfig", "ReportConfig", "RunConfig",
    "RunRecord", "SubsetConfig", "SyntheticBenchmark", "describe_errors", "invalid", "key_path", "read_config_file", "upgrade",
    "validate_config",
]

"""Finding metrics by name, and the one shape every metric has.

Metrics plug in through the `stepeval.metrics` entry-point group, the way generators do (name = the
metric's name, value = a `Metric` subclass or instance), so a user's own package adds a metric with
three lines in its pyproject.toml and stepeval never imports it by name:

    [project.entry-points."stepeval.metrics"]
    sharpness = "my_package.metrics:Sharpness"

`register()` adds one in-process (notebooks, tests) and wins over an entry point of the same name.

A metric has ONE name, used by `stepeval score --metrics NAME`, by the run config's `metrics:`
section, as the prefix of the rows it writes to scores.parquet and in reports: `motion_score`,
`vbench_i2v`, `synthetic`. Older command lines spelled two of them differently; those spellings
(`DEPRECATED_ALIASES`) are still read, with a note, and never recorded.

    metric = registry.get("vbench_i2v")
    report = metric.score(run, settings={"dimensions": "ci"}, rescore=False)
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from stepeval.errors import UserError

GROUP = "stepeval.metrics"
DEPRECATED_ALIASES = {"motion": "motion_score", "vbench-i2v": "vbench_i2v"}
# Every metric reads these from a run config's `metrics:` entry as well as from its own settings:
# they are arguments of `score()`, not properties of what is computed.
COMMON_SETTINGS = {"rescore": "recompute scores that are already there (true/false)"}

Log = Callable[[str], None]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ScoreError:
    model_tag: str
    item_id: str
    sample: int
    column: str  # the scores.parquet metric the failure was recorded under
    error: str


@dataclass
class ScoreReport:
    """What one metric did to a run. Counts are of videos; a metric that decides per column (VBench
    runs each dimension on its own) also fills `columns` with the counts of each, and the totals
    are their sums."""

    metric: str
    scored: int = 0
    failed: int = 0
    skipped: int = 0  # already scored with the same settings, file unchanged
    excluded: int = 0  # the metric does not apply (e.g. a prompt without a camera instruction)
    errors: list[ScoreError] = field(default_factory=list)
    columns: dict[str, dict[str, int]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {"scored": self.scored, "failed": self.failed, "skipped": self.skipped, "excluded": self.excluded}

    def to_dict(self) -> dict:
        return {"metric": self.metric, **self.counts(), "errors": len(self.errors),
                **({"columns": self.columns} if self.columns else {})}

    @classmethod
    def from_columns(cls, metric: str, columns: dict[str, dict[str, int]], errors: Iterable[ScoreError] = ()) -> ScoreReport:
        totals = {k: sum(c.get(k, 0) for c in columns.values()) for k in ("scored", "failed", "skipped", "excluded")}
        return cls(metric, **totals, errors=list(errors), columns=columns)


class Metric:
    """A scorer: reads a run's videos, appends rows to its scores.parquet, returns a ScoreReport.

    Subclass it and set the class attributes; `score` must be resumable (skip what is already
    scored with the same settings unless `rescore`) and isolate failures per video (a failed row
    with the error, then carry on). Raise UserError only when the metric cannot run at all.
    """

    name: str = ""
    description: str = ""
    # The `metric` values it writes to scores.parquet, each starting with `name`.
    columns: tuple[str, ...] = ()
    # True: larger is better; False: smaller is better; None: a measurement, not a quality
    # (the motion score is an amount of motion to be compared with what was asked).
    higher_is_better: bool | None = True
    # What it needs to run, shown by `stepeval score --list-metrics`.
    device: str = "cpu"  # "cpu", "gpu", "cpu or gpu"
    environment: str | None = None  # a separate environment it runs in
    weights: str | None = None  # model weights it reads
    benchmark: str | None = None  # what it needs from the run's benchmark
    # Its settings: key -> help. Anything else is refused with the list of these.
    settings: Mapping[str, str] = {}
    # The setting `NAME:VALUE` on the command line fills (`vbench_i2v:ci` -> dimensions=ci).
    selector: str | None = None

    def score(self, run, *, settings: Mapping[str, Any] | None = None, model_tags: Sequence[str] | None = None,
              item_ids: Iterable[str] | None = None, rescore: bool = False, log: Log | None = None,
              progress: Progress | None = None) -> ScoreReport:
        raise NotImplementedError

    def needs(self) -> str:
        parts = [self.device]
        for label, value in (("environment", self.environment), ("weights", self.weights), ("benchmark", self.benchmark)):
            if value:
                parts.append(f"{label}: {value}")
        return "; ".join(parts)


_registered: dict[str, Metric] = {}


def _instance(obj: Any) -> Metric:
    metric = obj() if isinstance(obj, type) else obj
    if not getattr(metric, "name", "") or not callable(getattr(metric, "score", None)):
        raise TypeError(f"{obj!r} is not a metric: it needs a `name` and a `score(run, *, settings, ...)` method")
    return metric


def register(metric: Metric | type[Metric]) -> Metric:
    """Add a metric in-process under its own `name` (wins over an installed one of that name)."""
    inst = _instance(metric)
    _registered[inst.name] = inst
    return inst


def unregister(name: str) -> None:
    _registered.pop(name, None)


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    # Scanning every installed distribution's metadata takes tens of milliseconds; the installed set
    # does not change while a process runs (`refresh()` is for the code that changes it).
    return {ep.name: ep for ep in entry_points(group=GROUP)}


@functools.cache
def _load(name: str) -> Metric:
    ep = _entry_points()[name]
    try:
        obj = ep.load()
    except ImportError as exc:
        raise UserError(f"metric {name!r} is installed but cannot be imported ({exc})",
                        hint=f"install the dependencies of the package that provides it ({ep.value})") from exc
    try:
        metric = _instance(obj)
    except TypeError as exc:
        raise UserError(f"the {GROUP!r} entry point {name!r} ({ep.value}) is not a metric: {exc}",
                        hint="point it at a stepeval.metrics.registry.Metric subclass") from exc
    if metric.name != name:
        raise UserError(f"the {GROUP!r} entry point {name!r} ({ep.value}) loads a metric named {metric.name!r}",
                        hint="a metric has one name: make the entry-point name and the metric's `name` the same")
    return metric


def refresh() -> None:
    """Forget what was found, so distributions added to sys.path since are seen."""
    importlib.invalidate_caches()
    _entry_points.cache_clear()
    _load.cache_clear()


def available() -> list[str]:
    """Every known metric name, sorted."""
    return sorted(set(_entry_points()) | set(_registered))


def canonical_name(name: str) -> str:
    return DEPRECATED_ALIASES.get(name, name)


def get(name: str) -> Metric:
    """The metric called `name` (a deprecated alias is read as its canonical name)."""
    name = canonical_name(name)
    if name in _registered:
        return _registered[name]
    if name not in _entry_points():
        known = available()
        raise UserError(
            f"unknown metric {name!r}; known metrics: {', '.join(known) if known else '(none installed)'}",
            hint=f"pick one of those (`stepeval score --list-metrics` describes them), or install the package that "
            f"provides {name!r} (it must declare it in the {GROUP!r} entry-point group)"
            + ("" if known else "; a source checkout needs `pip install -e .` to declare stepeval's own"),
        )
    return _load(name)


@dataclass(frozen=True)
class MetricSpec:
    """One metric chosen on the command line: `NAME` or `NAME:SELECTOR`."""

    name: str  # canonical
    settings: dict[str, Any]
    alias: str | None = None  # the deprecated spelling used, if any

    @property
    def note(self) -> str | None:
        if self.alias is None:
            return None
        return f"metric name {self.alias!r} is deprecated; it is {self.name!r} (the name scores.parquet and configs use)"


def parse_spec(text: str) -> MetricSpec:
    """`vbench_i2v:dynamic_degree,i2v_subject` -> vbench_i2v with dimensions=dynamic_degree,i2v_subject."""
    raw, sep, arg = text.strip().partition(":")
    metric = get(raw)
    settings: dict[str, Any] = {}
    if sep:
        if not metric.selector:
            raise UserError(f"metric {metric.name!r} takes no `:{arg}` selector",
                            hint=f"write it as {metric.name!r}; its settings go in --set {metric.name}.KEY=VALUE")
        if not arg:
            raise UserError(f"empty selector in {text!r}", hint=f"write {metric.name}:VALUE ({metric.selector}) or just {metric.name}")
        settings[metric.selector] = arg
    return MetricSpec(metric.name, settings, raw if raw != metric.name else None)


def check_settings(metric: Metric, settings: Mapping[str, Any] | None, *, allow: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of `settings`; a key the metric does not take is a UserError naming the allowed ones."""
    settings = dict(settings or {})
    allowed = [*metric.settings, *allow]
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise UserError(
            f"metric {metric.name!r} has no setting(s) {', '.join(map(repr, unknown))}",
            hint=f"its settings are: {', '.join(allowed) if allowed else '(none)'}",
        )
    return settings


def score(name: str, run, *, settings: Mapping[str, Any] | None = None, model_tags: Sequence[str] | None = None,
          item_ids: Iterable[str] | None = None, rescore: bool = False, log: Log | None = None,
          progress: Progress | None = None) -> ScoreReport:
    """Check the settings against the metric's, then score; the report always carries the canonical name."""
    metric = get(name)
    checked = check_settings(metric, settings)
    report = metric.score(run, settings=checked, model_tags=model_tags, item_ids=item_ids, rescore=rescore,
                          log=log, progress=progress)
    report.metric = metric.name
    return report

"""Everything a report reads, gathered once: the run directory, its annotation store or export,
the benchmark's prompts and an optional taxonomy label file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reports.items import item_meta
from reports.judgments import empty_judgments, load_judgments, split_sources
from reports.pairwise import excluded_videos, ok_videos
from reports.taxonomy import load_labels
from stepeval.benchmark.items import TI2V, resolve_task
from stepeval.errors import UserError
from stepeval.metrics import judge
from stepeval.runs import Run
from stepeval.runs.schema import RunConfig

DEFAULT_STORE = "annotations.sqlite"


@dataclass
class ReportInputs:
    run_name: str
    models: list[str]  # display order: run.yaml's models first, then any other tag seen
    generations: pd.DataFrame
    scores: pd.DataFrame
    judgments: pd.DataFrame  # human, prepared (may be empty)
    stored_auto: pd.DataFrame  # judgments with source "auto" found in the store/export, prepared
    items: pd.DataFrame  # item_id, domain, aspect
    prompts: dict[str, str] = field(default_factory=dict)
    labels: pd.DataFrame | None = None
    config: RunConfig | None = None
    annotations_source: str = ""
    warnings: list[str] = field(default_factory=list)
    run_dir: Path | None = None  # where the videos are (the gallery shows them)
    images: dict[str, Path] = field(default_factory=dict)  # item id -> input image, where present
    task: str = TI2V  # what the run asked its models for (stepeval.benchmark.items.TASKS)

    def __post_init__(self) -> None:
        # Facts every pairwise table needs, computed once.
        self.excluded = excluded_videos(self.generations)
        self.have = ok_videos(self.generations)


def _read_table(table) -> pd.DataFrame:
    frame = table.read()  # a damaged file is a UserError naming it
    # Plain Python strings: the report walks these columns value by value, which is slow on
    # pandas' Arrow-backed strings.
    for column in frame.columns:
        if pd.api.types.is_string_dtype(frame[column]) and not pd.api.types.is_object_dtype(frame[column]):
            frame[column] = frame[column].astype(object)
    return frame


def _prompts(run: Run, warnings: list[str]) -> tuple[dict[str, str], pd.DataFrame, dict[str, Path], str]:
    """Prompts, domain/aspect and input images of the run's items (not the whole benchmark's), and
    the run's task."""
    try:
        loaded = run.load_items()
    except UserError as exc:
        warnings.append(f"Prompts are not shown: the benchmark named in run.yaml could not be read ({str(exc).splitlines()[0]}).")
        return {}, pd.DataFrame(columns=["item_id", "domain", "aspect"]), {}, resolve_task(run.config.task, TI2V)
    items = pd.DataFrame([{"item_id": it.id, "domain": it.domain, "aspect": it.aspect} for it in loaded.items],
                         columns=["item_id", "domain", "aspect"])
    task = resolve_task(run.config.task, loaded.task)
    images = {it.id: Path(it.image_path) for it in loaded.items if it.image_path is not None and task == TI2V}
    return {it.id: it.prompt for it in loaded.items}, items, images, task


def load_inputs(run_dir: str | Path, *, annotations: str | Path | None = None, labels: str | Path | None = None) -> ReportInputs:
    """Read a run directory (and its judgments) for `assemble_report`.

    Judgments come from `annotations` (an exported JSONL/CSV file, a ``.sqlite`` store or a
    SQLAlchemy URL), else from the run's own ``annotations.sqlite`` when present; automatic ones
    that none of those holds from the file `stepeval run` derives them into (RUN/auto-judgments.jsonl).
    Judgments of another run are refused.
    """
    run = Run.open(run_dir)
    warnings: list[str] = []
    if run.writer_active():
        warnings.append("Videos were still being generated into this run when the report was built: it shows what existed "
                        "then; build it again when generation has finished.")
    generations = _read_table(run.generations)
    scores = _read_table(run.scores)
    source = annotations
    if source is None and (run.root / DEFAULT_STORE).is_file():
        source = run.root / DEFAULT_STORE
    raw = load_judgments(source, run_name=run.name) if source is not None else pd.DataFrame()
    if len(raw):
        human, stored_auto = split_sources(raw, where=str(source))
    else:
        human, stored_auto = empty_judgments(), empty_judgments()
    derived = run.root / judge.AUTO_JUDGMENTS_FILE
    if stored_auto.empty and derived.is_file():  # what `stepeval run` derived, beside the run's store
        stored_auto = split_sources(load_judgments(derived, run_name=run.name), where=str(derived))[1]
    prompts, bench_items, images, task = _prompts(run, warnings)
    items = item_meta(human, bench_items, generations, scores)
    label_frame = None
    if labels is not None:
        label_frame = load_labels(labels, dict(zip(items["item_id"], items["domain"])))
    seen: list[str] = []
    for frame, cols in ((generations, ("model_tag",)), (scores, ("model_tag",)), (human, ("model_a", "model_b"))):
        for c in cols:
            if len(frame) and c in frame.columns:
                seen += [str(v) for v in frame[c].dropna().unique()]
    configured = run.configured_tags()
    models = list(dict.fromkeys(configured + sorted(set(seen) - set(configured))))
    return ReportInputs(
        run_name=run.name, models=models, generations=generations, scores=scores, judgments=human,
        stored_auto=stored_auto, items=items, prompts=prompts, labels=label_frame, config=run.config,
        annotations_source=str(source) if source is not None else "", warnings=warnings, run_dir=run.root,
        images=images, task=task,
    )

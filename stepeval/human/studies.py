"""Creating a study from a run directory: items from the run's benchmark, videos from the run.

The study's template (`stepeval.human.dimensions.PROTOCOLS`) follows the run's task unless asked
for: a text-to-video run is judged on the prompt and the two videos, a text-image-to-video run also
against its input image, which every item then needs."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from stepeval.benchmark import Subset
from stepeval.errors import UserError
from stepeval.benchmark.items import T2V, resolve_task
from stepeval.human.dimensions import PROTOCOLS, get_protocol
from stepeval.human.store import AnnotationStore, ItemInfo
from stepeval.runs import Run, check_model_tag

_LIST_LIMIT = 40
_T2V_FIX = f"judge a text-to-video run with --protocol {T2V}, its default (the prompt and the videos, no image)"


def _listing(ids: list[str]) -> str:
    shown = ", ".join(ids[:_LIST_LIMIT])
    return shown + (f" ... and {len(ids) - _LIST_LIMIT} more" if len(ids) > _LIST_LIMIT else "")


def run_items(run: Run, subset: Subset | None = None):
    """The run's items (prompts and images from its benchmark), narrowed by `subset`, posed as the
    run's task (a run that gave TI2V items to its models as prompts alone has no images)."""
    loaded = run.load_items(subset)
    task = resolve_task(run.config.task, loaded.task)
    items = [it.as_task(task) for it in loaded.items]
    bench = {"path": str(run.benchmark_path.resolve()), "kind": run.config.benchmark.kind, "name": loaded.name, "task": task}
    return items, bench


def create_study_from_run(
    store: AnnotationStore,
    run: Run,
    model_a: str,
    model_b: str,
    *,
    subset: Subset | None = None,
    study_id: str | None = None,
    overlap: int = 1,
    gold_per_annotator: int = 0,
    seed: int = 0,
    exclude_missing: bool = False,
    protocol: str | None = None,
) -> tuple[str, str]:
    """Create a study comparing two model tags of `run`; returns (study id, admin token).

    `protocol` names the study's template (default: the one of the run's task). Every item needs a
    video for both tags, and an input image when the template shows one. Without `exclude_missing`,
    a gap is refused with the list of what is missing; with it, those items are left out and
    recorded in the study.
    """
    chosen = get_protocol(protocol) if protocol is not None else None  # a bad name fails before any reading
    for tag in (model_a, model_b):
        check_model_tag(tag)
    items, bench = run_items(run, subset)
    chosen = chosen or PROTOCOLS[bench["task"]]
    if not items:
        raise UserError("the subset selects no item of the run's benchmark", path=run.root, hint="loosen --domain/--aspect/--ids")
    known = run.model_tags()
    missing: dict[str, list[str]] = {}
    for tag in (model_a, model_b):
        gone = [it.id for it in items if not run.video_path(tag, it.id).is_file()]
        if gone:
            missing[tag] = gone
    no_image = [it.id for it in items if chosen.shows_image and not it.has_image]
    excluded = sorted(set(no_image).union(*missing.values()) if missing else set(no_image))
    if excluded and not exclude_missing:
        lines = []
        for tag, gone in missing.items():
            extra = "" if tag in known else f" (no videos/{tag}/ folder; the run has: {', '.join(known) or 'no videos'})"
            lines.append(f"model tag {tag!r} is missing {len(gone)} of {len(items)} videos{extra}: {_listing(gone)}")
        if no_image:
            lines.append(f"{len(no_image)} item(s) have no input image, which the {chosen.name} protocol shows: {_listing(no_image)}")
        fixes = [_T2V_FIX] if no_image and bench["task"] == T2V else []
        if missing:
            fixes.append("generate the missing videos first")
        fixes.append("restrict the study (--ids, --domain, --aspect), or pass --exclude-missing to leave those items out")
        raise UserError("cannot create the study:\n  " + "\n  ".join(lines), path=run.root / "videos", hint=", ".join(fixes))
    keep = [it for it in items if it.id not in set(excluded)]
    if not keep:
        what = "both videos and an image" if chosen.shows_image else "both videos"
        hint = _T2V_FIX if no_image and bench["task"] == T2V else "generate videos for both model tags first"
        raise UserError(f"no item has {what}", path=run.root / "videos", hint=hint)
    study_id = study_id or f"study-{time.strftime('%Y%m%d')}-{secrets.token_hex(2)}"
    bench["excluded_items"] = excluded
    token = store.create_study(
        study_id,
        run_name=run.name,
        run_root=str(run.root.resolve()),
        model_a=model_a,
        model_b=model_b,
        # A template without an image panel stores none: the study holds what annotators are shown.
        items=[ItemInfo(it.id, it.domain, it.aspect, it.prompt,
                        str(Path(it.image_path).resolve()) if chosen.shows_image and it.has_image else None) for it in keep],
        overlap=overlap,
        gold_per_annotator=gold_per_annotator,
        seed=seed,
        benchmark=bench,
        protocol=chosen.name,
    )
    return study_id, token

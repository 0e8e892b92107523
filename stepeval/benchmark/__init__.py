"""Benchmarks: items, loaders (Step-Video-TI2V-Eval, Step-Video-T2V-Eval, VBench-I2V suite, VBench's T2V prompt suite,
any folder), subsets."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from stepeval.benchmark.folder import load_folder
from stepeval.benchmark.items import T2V, TASKS, TI2V, BenchmarkItem, LoadedBenchmark, Problem
from stepeval.benchmark.step_eval import load_step_eval, looks_like_step_eval
from stepeval.benchmark.subsets import Subset
from stepeval.benchmark.t2v_eval import load_t2v_eval, looks_like_t2v_eval
from stepeval.benchmark.vbench_suite import load_vbench_suite, looks_like_vbench_suite
from stepeval.benchmark.vbench_t2v_suite import load_vbench_t2v_suite, looks_like_vbench_t2v
from stepeval.errors import UserError

KINDS = ("auto", "step-video-ti2v-eval", "step-video-t2v-eval", "vbench-i2v", "vbench-t2v", "folder")


def detect_kind(path: Path) -> str:
    if looks_like_step_eval(path):
        return "step-video-ti2v-eval"
    if looks_like_t2v_eval(path):
        return "step-video-t2v-eval"
    if looks_like_vbench_suite(path):
        return "vbench-i2v"
    if looks_like_vbench_t2v(path):
        return "vbench-t2v"
    return "folder"


def load_benchmark(
    path: str | Path, kind: str = "auto", *, subset: Subset | None = None, verify: bool = True, labels: str | Path | None = None
) -> LoadedBenchmark:
    """Load any supported benchmark folder and apply a subset.

    labels: a label file of the items' categories, for a benchmark whose categories are one
    (Step-Video-T2V-Eval); refused for the others, whose strata are in their layout.
    Problems of items outside the subset are dropped, so a partial copy that holds the whole
    subset is reported as complete for that subset.
    """
    path = Path(path)
    if kind not in KINDS:
        raise UserError(f"unknown benchmark kind {kind!r}", hint=f"choose one of {', '.join(KINDS)}")
    if kind == "auto":
        # VBench's T2V suite is one JSON file, which may be named by itself
        if path.is_file() and looks_like_vbench_t2v(path):
            kind = "vbench-t2v"
        elif path.exists() and not path.is_dir():
            raise UserError("is a file, not a benchmark folder", path=path, hint="pass the folder that holds the benchmark's images and prompts")
        elif not path.is_dir():
            raise UserError("benchmark folder not found", path=path, hint="pass an existing folder")
        else:
            kind = detect_kind(path)
    if labels is not None and kind != "step-video-t2v-eval":
        raise UserError(f"a label file applies to step-video-t2v-eval, not to {kind}", path=labels, hint="leave --labels out for this benchmark")
    ids = set(subset.ids) if subset and subset.ids else None
    if kind == "step-video-t2v-eval":
        loaded = load_t2v_eval(path, ids=ids, verify=verify, labels=labels)
    elif kind == "step-video-ti2v-eval":
        loaded = load_step_eval(path, ids=ids, verify=verify)
    elif kind == "vbench-i2v":
        loaded = load_vbench_suite(path, ids=ids)
    elif kind == "vbench-t2v":
        loaded = load_vbench_t2v_suite(path, ids=ids, verify=verify)
    else:
        loaded = load_folder(path, ids=ids)
    if subset and not subset.is_all:
        left_out = {p.item_id for p in loaded.skipped}
        if left_out & set(subset.ids):  # asked for by name but bad: reported as skipped, not as unknown
            good_ids = tuple(i for i in subset.ids if i not in left_out)
            loaded.items = dataclasses.replace(subset, ids=good_ids).apply(loaded.items) if good_ids else []
        else:
            loaded.items = subset.apply(loaded.items)
        keep = set(loaded.ids)
        # an id asked for by name but left out as bad stays reported
        reported = keep | set(subset.ids or ())
        loaded.problems = [p for p in loaded.problems if p.item_id is None or p.item_id in reported]
        if loaded.expected_ids is not None:
            loaded.expected_ids = _expected_in_subset(loaded, subset, keep)
    return loaded


def _expected_in_subset(loaded: LoadedBenchmark, subset: Subset, selected: set[str]) -> list[str]:
    """Which expected ids the subset covers. A sample or a present-only subset expects exactly what
    it selected; a domain/aspect filter also expects the pairs it would select that are missing, so
    a copy that lacks them is still reported as partial."""
    if subset.sample or subset.present_only:
        return sorted(selected)
    meta = {it.id: (it.domain, it.aspect) for it in loaded.items}
    out = []
    for item_id in loaded.expected_ids or []:
        domain, aspect = meta.get(item_id) or _strata_from_id(item_id)
        if (not subset.domains or domain in subset.domains) and (not subset.aspects or aspect in subset.aspects):
            out.append(item_id)
    return out


def _strata_from_id(item_id: str) -> tuple[str, str]:
    parts = item_id.split("/")
    return (parts[0], parts[1]) if len(parts) == 3 else ("", "")


__all__ = [
    "T2V",
    "TASKS",
    "TI2V",
    "BenchmarkItem",
    "LoadedBenchmark",
    "Problem",
    "Subset",
    "load_benchmark",
    "load_folder",
    "load_step_eval",
    "load_t2v_eval",
    "load_vbench_suite",
    "load_vbench_t2v_suite",
]

"""A run against a publication: per VBench-I2V dimension (and Quality, I2V, Total), the value
measured on this run's videos beside the printed one, with a cluster-bootstrap interval over items
for the measured value, and a verdict per dimension:

- ``within noise``: the printed value, widened by its own display rounding (half a unit of its last
  digit), overlaps the measured value's bootstrap interval;
- ``differs``: it does not; the difference (measured - printed) is stated.

The interval covers only the sampling of items: a printed value made with another vbench version,
resolution, GPU or prompt suite may differ for those reasons too, and "differs" says that the gap is
larger than item sampling explains, not why.

Which of the run's models is compared: the one given (`NAME:COLUMN=MODEL_TAG`), else the run's model
tag whose generator and parameters match the column's `generator` and `params` (exactly one must).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports.published import MARK, PublishedView, vbench_dimension_name
from reports.render.page import Section
from reports.tables import ReportTable
from reports.vbench_table import MODEL_ITEM, PREFIX, latest_scores
from stepeval.errors import UserError
from stepeval.generation.tags import parse_tag
from stepeval.metrics.aggregate import DIMENSION_KEYS, aggregate
from stepeval.published import VBenchColumn, VBenchTable
from stepeval.published.schema import AGGREGATE_KEYS
from stepeval.published.store import Selector
from stepeval.stats import cluster_bootstrap

COLUMNS = ["key", "printed", "printed_value", "measured", "low", "high", "difference", "videos", "verdict"]


@dataclass
class Comparison:
    selector: Selector
    reference: str
    table: VBenchTable
    column: VBenchColumn
    model_tag: str
    rows: pd.DataFrame  # COLUMNS, values in printed units (raw x the table's scale)
    notes: list[str]

    def to_dict(self) -> dict:
        return {"reference": self.reference, "table": self.table.id, "column": self.column.id, "model_tag": self.model_tag,
                "verdicts": dict(zip(self.rows["key"], self.rows["verdict"]))}


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(float(a), float(b))
    return str(a) == str(b)


def match_model(column: VBenchColumn, models: list[str], given: str | None, where: str) -> str:
    """The run's model tag compared with `column` (module docstring)."""
    if given is not None:
        if given not in models:
            raise UserError(f"{where}: the run has no model tag {given!r}", hint=f"choose one of: {', '.join(models)}")
        return given
    if column.generator is None:
        raise UserError(f"{where}: the published column names no stepeval generator, so no model of this run matches it",
                        hint=f"say which: {where}=MODEL_TAG (one of: {', '.join(models)})")
    hits = []
    for tag in models:
        name, params = parse_tag(tag)
        if name == column.generator and all(k in params and _same(params[k], v) for k, v in column.params.items()):
            hits.append(tag)
    if len(hits) != 1:
        what = "no model tag" if not hits else f"{len(hits)} model tags ({', '.join(hits)})"
        settings = ", ".join(f"{k}={v}" for k, v in column.params.items()) or "no parameters"
        raise UserError(f"{where}: {what} of this run match(es) {column.generator} with {settings}",
                        hint=f"say which: {where}=MODEL_TAG (one of: {', '.join(models)})")
    return hits[0]


def _per_video(scores: pd.DataFrame, tag: str) -> pd.DataFrame:
    """item_id, dimension, value: the latest ok per-video VBench-I2V values of one model tag."""
    latest = latest_scores(scores)
    rows = latest[(latest["model_tag"] == tag) & (latest["item_id"] != MODEL_ITEM) & (latest["status"] == "ok")
                  & latest["metric"].astype(str).str.startswith(PREFIX)]
    rows = rows.assign(dimension=rows["metric"].str[len(PREFIX):], value=pd.to_numeric(rows["value"], errors="coerce"))
    rows = rows[rows["dimension"].isin(DIMENSION_KEYS) & np.isfinite(rows["value"])]
    return rows[["item_id", "dimension", "value"]].reset_index(drop=True)


def _aggregates(means: np.ndarray) -> np.ndarray:
    """Quality, I2V, Total (AGGREGATE_KEYS order) for each row of per-dimension means; NaN where a
    dimension is missing (never counted as 0)."""
    out = np.full((means.shape[0], len(AGGREGATE_KEYS)), np.nan)
    for r, row in enumerate(means):
        if np.all(np.isfinite(row)):
            agg = aggregate(dict(zip(DIMENSION_KEYS, row))).as_dict()
            out[r] = [agg[k] for k in AGGREGATE_KEYS]
    return out


def measure(per_video: pd.DataFrame, *, n_resamples: int, confidence: float, seed) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(estimate, low, high, videos) per key of DIMENSION_KEYS + AGGREGATE_KEYS, raw units: means of
    the per-video values, aggregates of those means; percentile intervals from resampling items
    (all of an item's videos and dimensions together)."""
    k = len(DIMENSION_KEYS)
    dim_index = {d: i for i, d in enumerate(DIMENSION_KEYS)}
    member = np.zeros((len(per_video), k))
    member[np.arange(len(per_video)), per_video["dimension"].map(dim_index).to_numpy(dtype=int)] = 1.0
    values = per_video["value"].to_numpy(dtype=float)[:, None] * member
    videos = np.concatenate([member.sum(axis=0), np.full(len(AGGREGATE_KEYS), np.nan)])

    def statistic(w: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            means = (w @ values) / (w @ member)
        return np.concatenate([means, _aggregates(means)], axis=1)

    if len(per_video) == 0:
        nan = np.full(k + len(AGGREGATE_KEYS), np.nan)
        return nan, nan, nan, np.concatenate([np.zeros(k), np.full(len(AGGREGATE_KEYS), np.nan)])
    estimate = statistic(np.ones((1, len(per_video))))[0]
    if n_resamples <= 0:
        nan = np.full_like(estimate, np.nan)
        return estimate, nan, nan, videos
    res = cluster_bootstrap(statistic, per_video["item_id"].to_numpy(dtype=object), n_resamples=n_resamples,
                            confidence=confidence, seed=seed)
    # A resample that drew no item with some dimension has no mean for it (nor aggregates): the
    # percentile interval leaves such NaN replicates out rather than counting them as anything.
    low, high = np.asarray(res.low, dtype=float), np.asarray(res.high, dtype=float)
    return estimate, low, high, videos


def verdict(printed: float, half_unit: float, low: float, high: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no interval"
    return "within noise" if printed + half_unit >= low and printed - half_unit <= high else "differs"


def compare_one(scores: pd.DataFrame, models: list[str], view: PublishedView, sel: Selector, *, n_resamples: int,
                confidence: float, seed: int) -> list[Comparison]:
    ref, _entry = view.references[sel.name]
    out = []
    tables = [t for t in ref.tables if isinstance(t, VBenchTable) and any(c.id.lower() == sel.column.lower() for c in t.columns)]
    if not tables:
        kinds = [t.id for t in ref.tables if any(c.id.lower() == sel.column.lower() for c in t.columns)]
        raise UserError(f"--compare-published {sel}: the column is in no VBench-I2V table of {sel.name!r}"
                        + (f" (only in {', '.join(kinds)}, which this comparison does not cover)" if kinds else ""),
                        hint="compare a column of a vbench_i2v table (`stepeval published list`)")
    for k, table in enumerate(tables):
        column = next(c for c in table.columns if c.id.lower() == sel.column.lower())
        tag = match_model(column, models, sel.model_tag, f"{sel.name}:{column.id}")
        per_video = _per_video(scores, tag)
        est, low, high, videos = measure(per_video, n_resamples=n_resamples, confidence=confidence,
                                         seed=np.random.default_rng([seed, 7, k]))
        scale = table.definitions.scale
        printed = {**table.printed_values(column), **table.printed_aggregates(column)}
        rows = []
        for j, key in enumerate([*DIMENSION_KEYS, *AGGREGATE_KEYS]):
            p = printed.get(key)
            m, lo, hi = est[j] * scale, low[j] * scale, high[j] * scale
            if p is None:
                v = "not printed"
            elif not math.isfinite(m):
                v = "not measured"
            else:
                v = verdict(p.value, p.half_unit, lo, hi)
            rows.append({"key": key, "printed": p.text if p else "", "printed_value": p.value if p else np.nan,
                         "measured": m, "low": lo, "high": hi,
                         "difference": (m - p.value) if p is not None and math.isfinite(m) else np.nan,
                         "videos": videos[j], "verdict": v})
        notes = []
        if len(per_video) == 0:
            notes.append(f"{tag} has no per-video VBench-I2V scores: nothing to compare (run `stepeval score RUN --metrics vbench_i2v`).")
        out.append(Comparison(sel, ref.name, table, column, tag, pd.DataFrame(rows, columns=COLUMNS), notes))
    return out


def _display(c: Comparison, confidence: float) -> pd.DataFrame:
    r = c.rows
    pct = f"{confidence:.0%}"

    def num(v: float, d: int = 2) -> str:
        return "n/a" if not math.isfinite(v) else f"{v:.{d}f}"

    return pd.DataFrame({
        "Dimension": r["key"].map(vbench_dimension_name),
        f"Printed [{MARK}]": r["printed"].replace("", "n/a"),
        f"Measured [{pct} bootstrap]": [num(m) if not (math.isfinite(lo) and math.isfinite(hi)) else f"{m:.2f} [{lo:.2f}, {hi:.2f}]"
                                        for m, lo, hi in zip(r["measured"], r["low"], r["high"])],
        "Measured - printed": [("n/a" if not math.isfinite(d) else f"{d:+.2f}") for d in r["difference"]],
        "Videos": [("" if not math.isfinite(v) else str(int(v))) for v in r["videos"]],
        "Verdict": r["verdict"],
    })


def section(inputs, view: PublishedView, *, n_resamples: int, confidence: float, seed: int) -> tuple[Section | None, list[dict]]:
    """The comparison section (None when nothing is compared) and its summary for report.json."""
    if not view.compare:
        return None, []
    sec = Section("published-compare", "This run against published results", badge=MARK, intro=(
        "Each VBench-I2V dimension measured on this run's videos (mean of the per-video values; Quality, I2V and Total "
        "from those means) beside the value a publication printed. The interval resamples items; 'within noise' means "
        "the printed value (give or take its display rounding) lies inside it, 'differs' that it does not. The interval "
        "covers item sampling only: another vbench version, resolution, GPU or prompt suite moves numbers too."))
    meta = []
    for k, sel in enumerate(view.compare):
        for c in compare_one(inputs.scores, inputs.models, view, sel, n_resamples=n_resamples, confidence=confidence, seed=seed + k):
            data = c.rows.assign(reference=c.reference, table=c.table.id, column=c.column.id, model_tag=c.model_tag)
            n_diff = int((c.rows["verdict"] == "differs").sum())
            n_within = int((c.rows["verdict"] == "within noise").sum())
            t = ReportTable(f"compare-{_slug(c.reference)}-{_slug(c.column.id)}",
                            f"{c.model_tag} against {c.column.label} [{MARK}: {c.reference}, {c.table.source.table}]",
                            data, _display(c, confidence), footer_rows=len(AGGREGATE_KEYS), caption=(
                                f"Values x{c.table.definitions.scale:g} as printed. {n_within} within noise, {n_diff} differ"
                                + (f"; {n_resamples} bootstrap resamples of items, seed {seed + k}." if n_resamples > 0 else
                                   "; no bootstrap (--bootstrap 0), so no verdict.")))
            t.column_marks[1] = MARK
            t.footnotes += c.notes
            sec.table(t)
            meta.append(c.to_dict())
    return sec, meta


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)

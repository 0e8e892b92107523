"""A design ablation over one run: each variant against a reference, per metric, with cluster-bootstrap
intervals over items, and a plain-language verdict per question.

A run config's `ablation` block names the reference and the variants as model families (a config
tag without its `motion_score` sweep, `tag_family`) and asks its questions:

    ablation:
      reference: concat-text
      variants: [frame-replace-text, frame-replace-joint]
      questions:
        - {question: "frame replacement keeps the first frame better", variant: frame-replace-text,
           metric: synthetic/first_frame_psnr}

Every comparison is paired by item: a family's value on an item is its mean over the sweep's videos
of that item, the difference is variant minus reference over the items both have, and a bootstrap
resample draws items (all of an item's videos together). Motion control (Spearman of requested vs
measured motion score over a family's videos) is a family-level statistic; its difference is
re-computed on every resample of items. A verdict is "yes" when the interval lies wholly on the
better side of zero, "no" when wholly on the worse side (the reverse holds), "no difference" when
the two agree on every item (the interval is the single point 0), and "cannot tell at n = N"
otherwise.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stepeval.generation.tags import requested_value, tag_family
from stepeval.metrics import motion, synthetic
from stepeval.metrics.calibration import MOTION_CONTROL
from stepeval.metrics.common import MODEL_ITEM, latest_scores
from stepeval.runs import Run, atomic_write_text
from stepeval.stats import spearman
from stepeval.stats.bootstrap import resample_counts
from stepeval.stats.intervals import percentile_interval

SWEPT = "motion_score"

#: What the table compares, in this order (each metric's owner names it).
METRICS: tuple[str, ...] = (
    synthetic.METRIC_PSNR, synthetic.METRIC_COLOUR_KEPT, synthetic.METRIC_IOU, synthetic.METRIC_CLEAN,
    synthetic.METRIC_DIRECTION, MOTION_CONTROL, motion.METRIC, synthetic.METRIC_SMOOTHNESS,
    synthetic.METRIC_CONSISTENCY,
)


@dataclass(frozen=True)
class Comparison:
    variant: str
    reference: str
    metric: str
    variant_value: float
    reference_value: float
    difference: float
    low: float
    high: float
    items: int

    def verdict(self, higher_is_better: bool = True) -> str:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return f"cannot tell (n = {self.items})"
        if self.low == self.high == 0:  # every resample the same: the two agree on every item
            return f"no difference on any of the {self.items} items"
        better = self.low > 0 if higher_is_better else self.high < 0
        worse = self.high < 0 if higher_is_better else self.low > 0
        return "yes" if better else "no" if worse else f"cannot tell at n = {self.items}"


def family_frame(run: Run) -> pd.DataFrame:
    """Per (family, item, tag, sample, metric): value and the requested motion score."""
    scores = latest_scores(run)
    if scores.empty:
        return pd.DataFrame(columns=["family", "item_id", "model_tag", "sample", "metric", "value", "requested"])
    ok = scores[(scores["status"] == "ok") & (scores["item_id"] != MODEL_ITEM)].copy()
    ok["value"] = pd.to_numeric(ok["value"], errors="coerce")
    ok = ok[np.isfinite(ok["value"])]
    ok["family"] = [tag_family(t, SWEPT) for t in ok["model_tag"]]
    ok["requested"] = [requested_value(t, SWEPT) for t in ok["model_tag"]]
    return ok[["family", "item_id", "model_tag", "sample", "metric", "value", "requested"]]


def _per_item(frame: pd.DataFrame, family: str, metric: str) -> pd.Series:
    rows = frame[(frame["family"] == family) & (frame["metric"] == metric)]
    return rows.groupby("item_id")["value"].mean()


def _motion_rows(frame: pd.DataFrame, family: str) -> pd.DataFrame:
    rows = frame[(frame["family"] == family) & (frame["metric"] == motion.METRIC)]
    return rows.dropna(subset=["requested"])


def _rho(rows: pd.DataFrame) -> float:
    return float(spearman(rows["requested"], rows["value"]).rho) if len(rows) > 2 else math.nan


def compare(frame: pd.DataFrame, variant: str, reference: str, metric: str, *, n_resamples: int = 2000,
            confidence: float = 0.95, seed: int = 0) -> Comparison:
    """Variant minus reference on one metric, over the items both families have."""
    rng = np.random.default_rng(seed)
    if metric == MOTION_CONTROL:
        a, b = _motion_rows(frame, variant), _motion_rows(frame, reference)
        items = sorted(set(a["item_id"]) & set(b["item_id"]))
        a, b = a[a["item_id"].isin(items)], b[b["item_id"].isin(items)]
        if not items:
            return Comparison(variant, reference, metric, math.nan, math.nan, math.nan, math.nan, math.nan, 0)
        groups_a = {i: g for i, g in a.groupby("item_id")}
        groups_b = {i: g for i, g in b.groupby("item_id")}
        reps = []
        for counts in resample_counts(len(items), n_resamples, rng):
            pick = [i for i, c in zip(items, counts) for _ in range(c)]
            reps.append(_rho(pd.concat([groups_a[i] for i in pick])) - _rho(pd.concat([groups_b[i] for i in pick])))
        va, vb = _rho(a), _rho(b)
    else:
        sa, sb = _per_item(frame, variant, metric), _per_item(frame, reference, metric)
        items = sorted(set(sa.index) & set(sb.index))
        if not items:
            return Comparison(variant, reference, metric, math.nan, math.nan, math.nan, math.nan, math.nan, 0)
        diff = sa[items].to_numpy() - sb[items].to_numpy()
        counts = resample_counts(len(items), n_resamples, rng)
        reps = counts @ diff / len(items)
        va, vb = float(sa[items].mean()), float(sb[items].mean())
    reps = np.asarray(reps, dtype=float)
    reps = reps[np.isfinite(reps)]
    low, high = percentile_interval(reps, confidence) if len(reps) else (math.nan, math.nan)
    return Comparison(variant, reference, metric, va, vb, va - vb, float(low), float(high), len(items))


@dataclass(frozen=True)
class Answer:
    question: str
    comparison: Comparison
    higher_is_better: bool

    @property
    def verdict(self) -> str:
        return self.comparison.verdict(self.higher_is_better)


def run_ablation(run: Run, spec, *, n_resamples: int = 2000, seed: int = 0) -> dict:
    """The table (every variant x metric against the reference) and the answers, as plain data."""
    frame = family_frame(run)
    present = set(frame["metric"]) | ({MOTION_CONTROL} if motion.METRIC in set(frame["metric"]) else set())
    metrics = [m for m in METRICS if m in present]
    table = [compare(frame, v, spec.reference, m, n_resamples=n_resamples, seed=seed)
             for v in spec.variants for m in metrics]
    answers = []
    for q in spec.questions:
        c = compare(frame, q.variant, q.reference or spec.reference, q.metric, n_resamples=n_resamples, seed=seed)
        answers.append(Answer(q.question, c, q.higher_is_better))
    families = sorted(frame["family"].unique())
    asked = {spec.reference, *spec.variants, *(q.variant for q in spec.questions),
             *(q.reference for q in spec.questions if q.reference)}
    missing = sorted(asked - set(families)) + sorted({q.metric for q in spec.questions} - present)
    return {"reference": spec.reference, "families": families, "missing": missing,
            "confidence": 0.95, "n_resamples": n_resamples,
            "table": [asdict(c) for c in table],
            "answers": [{"question": a.question, "verdict": a.verdict, "higher_is_better": a.higher_is_better,
                         **asdict(a.comparison)} for a in answers]}


def _fmt(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def to_markdown(result: dict) -> str:
    lines = [f"# Ablation against `{result['reference']}`", "",
             f"Paired by item; {int(result['confidence'] * 100)} % percentile intervals from "
             f"{result['n_resamples']} cluster-bootstrap resamples of items.", ""]
    if result["missing"]:
        lines += [f"Families or metrics not in the run: {', '.join(result['missing'])}.", ""]
    lines += ["## Answers", "", "| question | verdict | metric | variant | reference | difference [interval] | items |",
              "|---|---|---|---|---|---|---|"]
    for a in result["answers"]:
        lines.append(f"| {a['question']} | **{a['verdict']}** | {a['metric']} | {a['variant']}: {_fmt(a['variant_value'])} | "
                     f"{a['reference']}: {_fmt(a['reference_value'])} | {_fmt(a['difference'])} "
                     f"[{_fmt(a['low'])}, {_fmt(a['high'])}] | {a['items']} |")
    lines += ["", "## Every variant, every metric", "", "| variant | metric | variant | reference | difference [interval] | items |",
              "|---|---|---|---|---|---|"]
    for c in result["table"]:
        lines.append(f"| {c['variant']} | {c['metric']} | {_fmt(c['variant_value'])} | {_fmt(c['reference_value'])} | "
                     f"{_fmt(c['difference'])} [{_fmt(c['low'])}, {_fmt(c['high'])}] | {c['items']} |")
    return "\n".join(lines) + "\n"


def write_ablation(run: Run, spec, out_dir: Path | None = None, *, n_resamples: int = 2000, seed: int = 0
                   ) -> tuple[Path, dict]:
    """RUN/ablation/ablation.json and ablation.md; returns the markdown's path and the result."""
    result = run_ablation(run, spec, n_resamples=n_resamples, seed=seed)
    out = Path(out_dir) if out_dir else run.root / "ablation"
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "ablation.json", json.dumps(result, indent=1, default=float))
    atomic_write_text(out / "ablation.md", to_markdown(result))
    return out / "ablation.md", result

"""Pairwise judgments derived from metrics, labelled ``source = "auto"``.

They let CI, or a first look at a run, produce a Table 2 without annotators. They are a proxy, not
a human study: the report shows them in their own section, and `reports.judgments` refuses any
frame that mixes them with human judgments.

The judge is stepeval's (`stepeval.metrics.judge`, the same one `stepeval run` uses on the synthetic
world); here it reads VBench-I2V metrics (``AUTO_METRICS``, a heuristic stated in the report): for
an item both models scored, a model wins a dimension when its mean over the dimension's metrics
both videos have exceeds the other's by more than `margin` (raw units, values in [0, 1]), else it
is a tie. One judgment per (pair, item, dimension), annotator ``auto``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from reports.items import item_meta
from reports.vbench_table import latest_scores
from stepeval.metrics import judge
from stepeval.metrics.vbench_i2v import JUDGE_METRICS as AUTO_METRICS

DEFAULT_MARGIN = judge.DEFAULT_MARGIN
ANNOTATOR = judge.ANNOTATOR


def auto_judgments(
    scores: pd.DataFrame | None,
    *,
    models: Sequence[str],
    run_name: str,
    margin: float = DEFAULT_MARGIN,
    metrics: dict[str, tuple[str, ...]] | None = None,
    items: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A judgments frame (docs/data-contracts.md columns) comparing every pair of `models` (in that
    order: the earlier model is A) on every item both have per-video scores for."""
    latest = latest_scores(scores)
    meta = item_meta(items if items is not None else pd.DataFrame(), latest[["item_id"]])
    where = {row.item_id: (row.domain, row.aspect) for row in meta.itertuples(index=False)}
    return judge.pairwise_judgments(latest, metrics or AUTO_METRICS, models=models, run_name=run_name, margin=margin,
                                    study_id="auto", item_info=lambda item: where.get(item, ("", "")))


def describe_mapping(metrics: dict[str, tuple[str, ...]] | None = None, margin: float = DEFAULT_MARGIN) -> str:
    return judge.describe(metrics or AUTO_METRICS, margin)


def mapping_of(stored: pd.DataFrame | None) -> dict[str, tuple[str, ...]]:
    """The metrics behind automatic judgments: stored ones made by the synthetic world's judge (its
    study id; its text-only mapping for a text-only run's dimensions), else the VBench-I2V heuristic
    this module derives them with."""
    from stepeval.metrics import synthetic

    if stored is None or stored.empty or "study_id" not in stored.columns:
        return AUTO_METRICS
    if not (stored["study_id"] == synthetic.JUDGE_STUDY_ID).any():
        return AUTO_METRICS
    text = synthetic.TEXT_JUDGE_METRICS  # its dimensions are the T2V protocol's, none shared with TI2V's
    return text if set(stored["dimension"]) <= set(text) else synthetic.JUDGE_METRICS

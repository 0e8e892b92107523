"""The report's VBench text-to-video table: VBench's 16 standard dimensions per model tag and the
leaderboard's Quality, Semantic and Total scores.

A model's dimension value is the scorer's per-model mean (the ``item_id = "*"`` row of
``vbench_t2v/<dimension>``) when the run has one, else the mean of its per-video ``ok`` rows (the
same rule as Table 3, `reports.vbench_table.model_dimension_values`). Names, groups and the formula
come from `stepeval.metrics.vbench_t2v`: a group's score is printed when all of its dimensions are
there, Total only when all 16 are; otherwise the cell says ``n/a`` and a footnote names the missing
dimensions (never an aggregate that counted one as 0). On one's own prompts only VBench's six
custom-input dimensions exist, so such a run shows them and says which ten are missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reports import vbench_table
from reports.vbench_table import best_positions, latest_scores, model_dimension_values
from stepeval.errors import UserError
from stepeval.metrics.vbench_t2v import (
    AGGREGATE_NAMES,
    AGGREGATES,
    BY_KEY,
    DIMENSION_KEYS,
    GROUP_NAMES,
    GROUPS,
    PREFIX,
    aggregate,
    group_score,
    metric_name,
)


@dataclass
class VBenchT2VTable:
    values: pd.DataFrame  # models x (16 dimensions, quality, semantic, total, videos), raw [0, 1]
    missing: dict[str, list[str]] = field(default_factory=dict)  # model -> dimensions without a value
    notes: list[str] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        return list(self.values.index)


def has_scores(scores: pd.DataFrame | None) -> bool:
    latest = latest_scores(scores)
    return bool(len(latest)) and latest["metric"].astype(str).str.startswith(PREFIX).any()


def build_vbench_t2v(scores: pd.DataFrame | None, models: list[str]) -> VBenchT2VTable:
    """The 16 raw values and the three aggregates of each model tag that has any (module doc)."""
    values = model_dimension_values(scores, models, prefix=PREFIX, keys=DIMENSION_KEYS)
    have = values[list(DIMENSION_KEYS)].notna().any(axis=1)
    values = values[have].copy()
    for name in AGGREGATES:
        values[name] = np.nan
    missing: dict[str, list[str]] = {}
    for model in values.index:
        raw = {k: float(values.at[model, k]) for k in DIMENSION_KEYS if pd.notna(values.at[model, k])}
        try:
            agg = aggregate(raw).as_dict()
        except UserError:
            # a group with all its own dimensions still gets its score; Total needs both groups
            missing[model] = [k for k in DIMENSION_KEYS if k not in raw]
            agg = vbench_table.complete_groups(raw, GROUPS, group_score)
        for name, value in agg.items():
            values.at[model, name] = value
    return VBenchT2VTable(values=values, missing=missing, notes=protocol_notes(scores, list(values.index)))


def protocol_notes(scores: pd.DataFrame | None, models: list[str]) -> list[str]:
    """The departures from VBench's protocol that scoring recorded with each model's Total row."""
    return vbench_table.protocol_notes(scores, models, total_metric=metric_name("total"), protocol="VBench")


def missing_footnote(model: str, missing: list[str], have_groups: list[str]) -> str:
    """Why a model's aggregates are n/a, naming every missing dimension."""
    not_computed = [AGGREGATE_NAMES[a] for a in AGGREGATES if a not in have_groups]
    return (f"{model}: {', '.join(not_computed)} not computed: missing {', '.join(missing)}; "
            "a missing dimension is never counted as 0.")


def t2v_table(result: VBenchT2VTable) -> tuple[pd.DataFrame, pd.DataFrame, set[tuple[int, int]], list[str]]:
    """(display, data, bold positions, footnotes): rows = the 16 dimensions then Quality, Semantic,
    Total; one column per model tag; values x100 with two decimals; the best of each row in bold."""
    keys = [*DIMENSION_KEYS, *AGGREGATES]
    data = result.values[keys].T
    names = [BY_KEY[k].name for k in DIMENSION_KEYS] + [AGGREGATE_NAMES[a] for a in AGGREGATES]
    groups = [GROUP_NAMES[BY_KEY[k].group] for k in DIMENSION_KEYS] + [""] * len(AGGREGATES)
    display = pd.DataFrame({"Dimension": names, "Group": groups})
    for m in result.models:
        display[m] = [("n/a" if pd.isna(v) else f"{v * 100:.2f}") for v in data[m]]
    bold = best_positions(data, keys, first_col=2)
    footnotes = []
    for model, missing in result.missing.items():
        have = [a for a in AGGREGATES if pd.notna(result.values.at[model, a])]
        footnotes.append(missing_footnote(model, missing, have))
    footnotes += result.notes
    long = data.copy()
    long.insert(0, "dimension", keys)
    return display, long.reset_index(drop=True), bold, footnotes

"""Does the motion condition do what it claims? Requested motion score vs measured motion score and
vs VBench's Dynamic Degree, per item and summarised with Spearman's rho.

A model family is swept over a parameter in its tag (`stepvideo-ti2v@motion_score=2`,
`...@motion_score=5`, ...); the family is the tag without that parameter (`tag_family`), so a
motion_score x cfg sweep gives one family, and one rho, per cfg value. For every (item, sample) of
every setting the table holds the requested value, the measured `motion_score` and, when scored,
`vbench_i2v/dynamic_degree`. The summary has, per family: how many videos, Spearman rho (and p-value) of requested vs measured and of requested vs
Dynamic Degree, and the mean measured score at each requested level.
"""

from __future__ import annotations

import math

import pandas as pd

from stepeval.generation.tags import requested_value, tag_family
from stepeval.metrics.common import MODEL_ITEM, latest_scores
from stepeval.runs import Run
from stepeval.stats import spearman

MEASURED = "motion_score"
# Spearman(requested, measured motion score) over a family's videos: the name run summaries and ablations give it
MOTION_CONTROL = "motion_spearman"
DYNAMIC = "vbench_i2v/dynamic_degree"


def calibration_frame(scores: pd.DataFrame, param: str = "motion_score") -> pd.DataFrame:
    """Per (family, item, sample, requested): measured motion score and Dynamic Degree (NaN when absent)."""
    cols = ["family", "model_tag", "item_id", "sample", "requested", "measured", "dynamic_degree"]
    if scores.empty:
        return pd.DataFrame(columns=cols)
    ok = scores[(scores["status"] == "ok") & (scores["item_id"] != MODEL_ITEM) & scores["metric"].isin([MEASURED, DYNAMIC])].copy()
    ok["requested"] = [requested_value(t, param) for t in ok["model_tag"]]
    ok = ok.dropna(subset=["requested"])
    if ok.empty:
        return pd.DataFrame(columns=cols)
    wide = ok.pivot_table(index=["model_tag", "item_id", "sample", "requested"], columns="metric", values="value", aggfunc="last").reset_index()
    wide["family"] = [tag_family(t, param) for t in wide["model_tag"]]
    wide = wide.rename(columns={MEASURED: "measured", DYNAMIC: "dynamic_degree"})
    for c in ("measured", "dynamic_degree"):
        if c not in wide:
            wide[c] = math.nan
    return wide[cols].sort_values(["family", "requested", "item_id", "sample"]).reset_index(drop=True)


def calibration_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per family: rho(requested, measured), rho(requested, dynamic degree), means per level."""
    rows = []
    for family, grp in frame.groupby("family"):
        rho_m, p_m, n_m = spearman(grp["requested"], grp["measured"])
        rho_d, p_d, n_d = spearman(grp["requested"], grp["dynamic_degree"])
        levels = grp.groupby("requested")["measured"].mean()
        rows.append({"family": family, "levels": len(levels), "videos": len(grp),
                     "rho_measured": rho_m, "p_measured": p_m, "n_measured": n_m,
                     "rho_dynamic_degree": rho_d, "p_dynamic_degree": p_d, "n_dynamic_degree": n_d,
                     "measured_by_level": {float(k): float(v) for k, v in levels.items()},
                     "dynamic_degree_by_level": {float(k): float(v) for k, v in grp.groupby("requested")["dynamic_degree"].mean().items()}})
    return pd.DataFrame(rows)


def run_calibration(run: Run, param: str = "motion_score") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-item frame, per-family summary) for a run's latest scores."""
    frame = calibration_frame(latest_scores(run), param)
    return frame, calibration_summary(frame)

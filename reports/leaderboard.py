"""Multi-model leaderboard: Bradley-Terry strengths (ties = half a win) with bootstrap intervals,
their Elo-scaled view, and the win-fraction and battle-count matrices, per dimension and overall.

Every usable human judgment is one battle (gold items and "cannot judge" flags are left out, as are
pairs with a refused or failed video). The bootstrap resamples items with all their battles, across
every model pair and annotator, since judgments of one item are not independent. "Overall" pools
the three dimensions: each item then contributes three battles per annotator, and the item
bootstrap accounts for that dependence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reports.judgments import ordered_dimensions
from stepeval.errors import UserError
from stepeval.stats import (
    ModelMatrix,
    battle_count_matrix,
    bootstrap_bradley_terry,
    win_fraction_matrix,
)

OVERALL = "overall"
COLUMNS = ["scope", "rank", "model", "elo", "elo_low", "elo_high", "log_strength", "log_strength_low",
           "log_strength_high", "battles", "score"]


@dataclass
class Leaderboard:
    ratings: pd.DataFrame  # COLUMNS, one row per (scope, model)
    win_fraction: dict[str, ModelMatrix] = field(default_factory=dict)  # scope -> matrix
    battles: dict[str, ModelMatrix] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # scope -> why it has no ratings
    seed: int = 0
    n_resamples: int = 0

    @property
    def scopes(self) -> list[str]:
        return list(dict.fromkeys([*self.ratings["scope"], *self.notes]))


def _scope_ratings(
    frame: pd.DataFrame, scope: str, models: Sequence[str], *, n_resamples: int, confidence: float, seed
) -> pd.DataFrame:
    fit = bootstrap_bradley_terry(
        frame["model_a"], frame["model_b"], frame["code"].astype(int), items=frame["item_id"], models=list(models),
        n_resamples=max(1, n_resamples), confidence=confidence, seed=seed,
    )
    records = fit.as_records()
    played = pd.concat([frame["model_a"], frame["model_b"]]).value_counts()
    # Observed score (ties half) of each model over all its battles, a plain check of the ranking.
    a_score = (frame["code"].to_numpy() + 1.0) / 2.0
    score = pd.concat([pd.Series(a_score, index=frame["model_a"].to_numpy()),
                       pd.Series(1.0 - a_score, index=frame["model_b"].to_numpy())]).groupby(level=0).mean()
    out = pd.DataFrame(records)
    out["scope"] = scope
    out["battles"] = out["model"].map(played).fillna(0).astype(int)
    out["score"] = out["model"].map(score)
    if n_resamples <= 0:
        for col in ("elo_low", "elo_high", "log_strength_low", "log_strength_high"):
            out[col] = np.nan
    return out[COLUMNS]


def build_leaderboard(
    judgments: pd.DataFrame,
    *,
    models: Sequence[str] | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Leaderboard:
    """Ratings per dimension and overall from usable, prepared judgments (`pairwise.usable`).

    `models` fixes the order of the matrices (models without battles are dropped from the fit and
    named in a note). A scope whose models were never linked by comparisons gets a note instead of
    ratings; nothing is silently ranked on separate scales.
    """
    lb = Leaderboard(ratings=pd.DataFrame(columns=COLUMNS), seed=seed, n_resamples=n_resamples)
    if judgments.empty:
        return lb
    present = set(judgments["model_a"]) | set(judgments["model_b"])
    order = [m for m in (models or []) if m in present] + sorted(present - set(models or []))
    absent = [m for m in (models or []) if m not in present]
    scopes = [(OVERALL, judgments)] + [(d, judgments[judgments["dimension"] == d]) for d in ordered_dimensions(judgments["dimension"])]
    frames = []
    for k, (scope, frame) in enumerate(scopes):
        if frame.empty:
            continue
        seen = set(frame["model_a"]) | set(frame["model_b"])
        in_scope = [m for m in order if m in seen]
        lb.win_fraction[scope] = win_fraction_matrix(frame["model_a"], frame["model_b"], frame["code"].astype(int), models=in_scope)
        lb.battles[scope] = battle_count_matrix(frame["model_a"], frame["model_b"], models=in_scope)
        try:
            frames.append(_scope_ratings(frame, scope, in_scope, n_resamples=n_resamples, confidence=confidence,
                                         seed=np.random.default_rng([seed, k])))
        except UserError as exc:
            lb.notes[scope] = str(exc).split("\n")[0]
    if frames:
        lb.ratings = pd.concat(frames, ignore_index=True)
    if absent:
        lb.notes["models without judgments"] = ", ".join(absent)
    return lb


def matrix_frame(matrix: ModelMatrix, digits: int | None = 3) -> pd.DataFrame:
    """A ModelMatrix as a DataFrame whose first column names the row model."""
    values = matrix.values if digits is None else np.round(matrix.values.astype(float), digits)
    frame = pd.DataFrame(values, columns=list(matrix.models))
    frame.insert(0, "model", list(matrix.models))
    return frame

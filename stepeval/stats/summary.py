"""One W-T-L cell of a report, with everything it is usually shown with."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from stepeval.errors import UserError
from stepeval.stats._common import Seed
from stepeval.stats.bootstrap import BootstrapResult, cluster_bootstrap
from stepeval.stats.hypothesis_tests import sign_test
from stepeval.stats.intervals import Proportion, win_rate, win_rate_ties_half
from stepeval.stats.outcomes import WinTieLoss, count_outcomes, encode_outcomes


@dataclass(frozen=True)
class PairwiseSummary:
    """W-T-L counts from A's side, both win rates with Wilson intervals, and the sign test."""

    counts: WinTieLoss
    win_rate: Proportion | None  # W / (W + L); None when every judgment was a tie
    win_rate_ties_half: Proportion  # (W + T/2) / N
    sign_test_p: float


def summarize_counts(wins: int, ties: int, losses: int, *, confidence: float = 0.95) -> PairwiseSummary:
    """`summarize_pairwise` from the three counts of a W-T-L cell."""
    if wins + ties + losses == 0:
        raise UserError("no judgments in this cell", hint="check the filter")
    return PairwiseSummary(
        counts=WinTieLoss(int(wins), int(ties), int(losses)),
        win_rate=win_rate(wins, losses, confidence) if wins + losses else None,
        win_rate_ties_half=win_rate_ties_half(wins, ties, losses, confidence),
        sign_test_p=sign_test(wins, losses),
    )


def summarize_pairwise(outcomes: Iterable[Any], *, confidence: float = 0.95) -> PairwiseSummary:
    """Summarise study-view judgments (A/Tie/B from A's side) as a report cell.

    The intervals and the test treat judgments as independent; with several annotators per item,
    also show a `cluster_bootstrap` interval.
    """
    c = count_outcomes(outcomes)
    return summarize_counts(c.wins, c.ties, c.losses, confidence=confidence)


def bootstrap_win_rate(
    outcomes: Iterable[Any],
    items: Iterable[Any] | None = None,
    *,
    ties: str = "half",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: Seed = 0,
) -> BootstrapResult:
    """Win rate of A with a (cluster) bootstrap percentile interval.

    ``ties="half"`` gives ``(W + T/2) / N``; ``ties="drop"`` gives ``W / (W + L)`` (resamples with
    no decisive judgment are NaN and ignored). With `items`, items are resampled with all their
    judgments, which accounts for several annotators judging the same item; without, judgments
    are resampled independently.
    """
    codes = encode_outcomes(outcomes)
    if codes.size == 0:
        raise UserError("no judgments to compute a win rate from", hint="check the filter")
    clusters = np.arange(codes.size) if items is None else items
    if ties == "half":
        score = (codes + 1.0) / 2.0

        def statistic(w: np.ndarray) -> np.ndarray:
            return (w @ score) / w.sum(axis=1)

    elif ties == "drop":
        win = (codes == 1).astype(float)
        decisive = (codes != 0).astype(float)
        if not decisive.any():
            raise UserError(
                "no decisive judgments (all ties), so a win rate over wins and losses is undefined",
                hint="use ties='half'",
            )

        def statistic(w: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return (w @ win) / (w @ decisive)

    else:
        raise ValueError(f"ties must be 'half' or 'drop', got {ties!r}")
    return cluster_bootstrap(
        statistic, clusters, n_resamples=n_resamples, confidence=confidence, seed=seed
    )

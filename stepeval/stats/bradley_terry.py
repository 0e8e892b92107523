"""Bradley-Terry strengths from pairwise judgments, with an Elo-scaled view and bootstrap intervals.

Model (Bradley & Terry 1952): ``P(i beats j) = sigmoid(theta_i - theta_j)``. Unlike online Elo
updates, the fit does not depend on the order in which judgments arrived, which is why arena
leaderboards (Chiang et al. 2024, "Chatbot Arena"; GenAI-Arena) moved to it.

Ties count as half a win for each side, i.e. a tie adds 1/2 to both ``S_ij`` and ``S_ji`` in the
score matrix ``S_ij`` = (weighted) score of model i against model j. The log-likelihood is
``sum_ij S_ij log sigmoid(theta_i - theta_j)`` (Hunter 2004, "MM algorithms for generalized
Bradley-Terry models"). We add a tiny Gaussian prior ``-(l2 / 2) |theta|^2``: it keeps the
estimate finite when a model won (or lost) every battle, makes the optimum unique, and centres it
(the gradient of the likelihood sums to zero over models, so at the optimum ``sum theta = 0``).
The maximiser is found by Newton's method with step halving, batched over bootstrap resamples.

The Elo view is an affine relabelling, ``elo = base + scale * theta`` with ``scale = 400 / ln 10``,
so that a 400-point gap means 10:1 odds, as in chess ratings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse
from scipy.special import expit

from stepeval.errors import UserError
from stepeval.stats._common import Seed, as_generator, check_confidence, factorize
from stepeval.stats.bootstrap import MAX_BLOCK_ELEMENTS, cluster_codes, iter_resample_counts
from stepeval.stats.intervals import percentile_interval
from stepeval.stats.outcomes import encode_outcomes

ELO_SCALE = 400.0 / math.log(10.0)
ELO_BASE = 1000.0
DEFAULT_L2 = 1e-3  # prior sd ~ 32 in log-strength units: negligible next to any real data


class ModelMatrix(NamedTuple):
    """A models x models matrix with its row/column labels."""

    models: tuple[str, ...]
    values: np.ndarray


@dataclass(frozen=True)
class Battles:
    """Judgments coded for fitting: model indices and A's score (1, 1/2 or 0) per battle."""

    models: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    score: np.ndarray

    @property
    def n_models(self) -> int:
        return len(self.models)

    def __len__(self) -> int:
        return len(self.a)


def prepare_battles(
    model_a: Iterable[Any],
    model_b: Iterable[Any],
    outcome: Iterable[Any],
    *,
    models: Sequence[str] | None = None,
) -> Battles:
    """Validate and code a battles table (`outcome` labels as in `encode_outcomes`: A/Tie/B)."""
    a_list, b_list = list(model_a), list(model_b)
    codes = encode_outcomes(outcome)
    if not (len(a_list) == len(b_list) == len(codes)):
        raise UserError(
            "model_a, model_b and outcome differ in length",
            hint="pass three columns of the same judgments table",
        )
    if len(codes) == 0:
        raise UserError("no battles (pairwise judgments) to analyse", hint="check the filter")
    names, idx = factorize(a_list + b_list, "model", order=models)
    a, b = idx[: len(a_list)], idx[len(a_list) :]
    same = np.flatnonzero(a == b)
    if same.size:
        raise UserError(
            f"{same.size} judgment(s) compare a model with itself (first: {names[a[same[0]]]!r})",
            hint="drop gold items (same video on both sides) before ranking models",
        )
    return Battles(models=names, a=a, b=b, score=(codes.astype(float) + 1.0) / 2.0)


def _score_design(battles: Battles) -> sparse.csr_array:
    """Sparse (battles, K*K) map from battle weights to the flattened score matrix S."""
    k = battles.n_models
    n = len(battles)
    rows = np.concatenate([np.arange(n), np.arange(n)])
    cols = np.concatenate([battles.a * k + battles.b, battles.b * k + battles.a])
    vals = np.concatenate([battles.score, 1.0 - battles.score])
    return sparse.csr_array((vals, (rows, cols)), shape=(n, k * k))


def battle_count_matrix(
    model_a: Iterable[Any], model_b: Iterable[Any], *, models: Sequence[str] | None = None
) -> ModelMatrix:
    """Symmetric matrix of how many battles each pair of models had (in either position)."""
    a_list, b_list = list(model_a), list(model_b)
    if len(a_list) != len(b_list):
        raise UserError("model_a and model_b differ in length", hint="pass columns of one table")
    names, idx = factorize(a_list + b_list, "model", order=models)
    a, b = idx[: len(a_list)], idx[len(a_list) :]
    counts = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(counts, (a, b), 1)
    np.add.at(counts, (b, a), 1)
    np.fill_diagonal(counts, 0)
    return ModelMatrix(names, counts)


def win_fraction_matrix(
    model_a: Iterable[Any],
    model_b: Iterable[Any],
    outcome: Iterable[Any],
    *,
    models: Sequence[str] | None = None,
) -> ModelMatrix:
    """``values[i, j]``: row model i's score against column model j (ties half), NaN if never met.

    Position-independent: a battle counts for the pair whichever side each model was on.
    ``values[i, j] + values[j, i] == 1`` wherever defined.
    """
    battles = prepare_battles(model_a, model_b, outcome, models=models)
    s = _score_matrix(battles)
    n = s + s.T
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(n > 0, s / n, np.nan)
    return ModelMatrix(battles.models, frac)


def _score_matrix(battles: Battles, weights: ArrayLike | None = None) -> np.ndarray:
    w = np.ones(len(battles)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(battles),):
        raise ValueError("one weight per battle")
    k = battles.n_models
    return (_score_design(battles).T @ w).reshape(k, k)


def predicted_win_matrix(log_strength: ArrayLike) -> np.ndarray:
    """``P(i beats j) = sigmoid(theta_i - theta_j)`` for every pair (0.5 on the diagonal)."""
    theta = np.asarray(log_strength, dtype=float)
    return expit(theta[:, None] - theta[None, :])


def to_elo(log_strength: ArrayLike, *, scale: float = ELO_SCALE, base: float = ELO_BASE) -> np.ndarray:
    """Elo-scaled ratings ``base + scale * theta`` (400 points = 10:1 odds with the default scale)."""
    return base + scale * np.asarray(log_strength, dtype=float)


# --------------------------------------------------------------------------- the fit


def _log_likelihood(s: np.ndarray, theta: np.ndarray, l2: float) -> np.ndarray:
    d = theta[:, :, None] - theta[:, None, :]
    # log sigmoid(d) = -log(1 + e^-d), computed without overflow.
    return -(s * np.logaddexp(0.0, -d)).sum(axis=(1, 2)) - 0.5 * l2 * (theta * theta).sum(axis=1)


def fit_scores(
    scores: np.ndarray, *, l2: float = DEFAULT_L2, tol: float = 1e-10, max_iter: int = 100
) -> np.ndarray:
    """Maximise the penalised Bradley-Terry log-likelihood for one or many score matrices.

    `scores` has shape (K, K) or (R, K, K); returns theta of shape (K,) or (R, K), centred.
    Newton's method: the penalised log-likelihood is strictly concave, so with step halving
    (accept a step only if it does not lower the objective) it converges from theta = 0.
    """
    if l2 <= 0:
        raise ValueError("l2 must be positive: it is what keeps undefeated models finite")
    s = np.asarray(scores, dtype=float)
    single = s.ndim == 2
    if single:
        s = s[None]
    r, k, _ = s.shape
    n = s + np.swapaxes(s, 1, 2)
    theta = np.zeros((r, k))
    eye = np.eye(k)
    diag = np.arange(k)
    objective = _log_likelihood(s, theta, l2)
    active = np.ones(r, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        th, sa, na = theta[idx], s[idx], n[idx]
        p = expit(th[:, :, None] - th[:, None, :])
        grad = (sa - na * p).sum(axis=2) - l2 * th
        w = na * p * (1.0 - p)
        # Negative Hessian: graph Laplacian of the information weights plus the prior.
        neg_hess = -w
        neg_hess[:, diag, diag] = w.sum(axis=2) - w[:, diag, diag]
        neg_hess += l2 * eye
        step = np.linalg.solve(neg_hess, grad[:, :, None])[:, :, 0]
        t = np.ones(idx.size)
        f0 = objective[idx]
        for _ in range(40):
            cand = th + t[:, None] * step
            f = _log_likelihood(sa, cand, l2)
            ok = f >= f0 - 1e-12 * np.abs(f0)
            if ok.all():
                break
            t = np.where(ok, t, t / 2.0)
        theta[idx] = cand
        objective[idx] = f
        done = np.abs(t[:, None] * step).max(axis=1) < tol
        active[idx[done]] = False
    theta -= theta.mean(axis=1, keepdims=True)
    return theta[0] if single else theta


def _connected(adjacency: np.ndarray) -> np.ndarray:
    """For (R, K, K) boolean adjacency, whether each graph's non-isolated nodes form one component."""
    r, k, _ = adjacency.shape
    present = adjacency.any(axis=2)
    reach = (adjacency | np.eye(k, dtype=bool)).astype(float)
    for _ in range(max(1, math.ceil(math.log2(max(k, 2))))):
        reach = ((reach @ reach) > 0).astype(float)
    reached = reach > 0
    # Every present pair must be mutually reachable.
    pair_needed = present[:, :, None] & present[:, None, :]
    return ~np.any(pair_needed & ~reached, axis=(1, 2))


@dataclass(frozen=True)
class BradleyTerryFit:
    """Fitted log-strengths (centred at 0), in the order of `models`."""

    models: tuple[str, ...]
    log_strength: np.ndarray
    n_battles: int
    l2: float = DEFAULT_L2

    def elo(self, *, scale: float = ELO_SCALE, base: float = ELO_BASE) -> np.ndarray:
        return to_elo(self.log_strength, scale=scale, base=base)

    def ranking(self) -> list[str]:
        """Models from strongest to weakest."""
        return [self.models[i] for i in np.argsort(-self.log_strength, kind="stable")]

    def win_probability(self, model_i: str, model_j: str) -> float:
        """Fitted probability that `model_i` beats `model_j` (a tie counting half)."""
        i, j = self.models.index(model_i), self.models.index(model_j)
        return float(expit(self.log_strength[i] - self.log_strength[j]))


def fit_bradley_terry(
    model_a: Iterable[Any],
    model_b: Iterable[Any],
    outcome: Iterable[Any],
    *,
    models: Sequence[str] | None = None,
    weights: ArrayLike | None = None,
    l2: float = DEFAULT_L2,
) -> BradleyTerryFit:
    """Fit Bradley-Terry log-strengths from a battles table (ties = half a win each).

    `outcome` is A/Tie/B from model_a's side. `models` fixes the output order (and rejects models
    not in it). `weights` optionally weights battles (e.g. one over the number of annotators per
    item). The comparison graph must be connected: two groups of models that never met, directly
    or through others, have no common scale, and that is a `UserError`.
    """
    battles = prepare_battles(model_a, model_b, outcome, models=models)
    s = _score_matrix(battles, weights)
    met = (s + s.T) > 0
    played = met.any(axis=1)
    if not played.all():
        missing = [battles.models[i] for i in np.flatnonzero(~played)]
        raise UserError(
            f"model(s) without any battle: {', '.join(missing)}",
            hint="drop them from models=[...] or collect judgments for them",
        )
    if not _connected(met[None])[0]:
        raise UserError(
            "the models fall into groups that were never compared with each other",
            hint="add battles linking the groups, or rank each group separately",
        )
    theta = fit_scores(s, l2=l2)
    return BradleyTerryFit(models=battles.models, log_strength=theta, n_battles=len(battles), l2=l2)


def _multinomial_blocks(
    n: int, probs: np.ndarray, n_resamples: int, rng: np.random.Generator, row_width: int
) -> Iterator[np.ndarray]:
    block = max(1, MAX_BLOCK_ELEMENTS // max(len(probs), row_width, 1))
    done = 0
    while done < n_resamples:
        size = min(block, n_resamples - done)
        yield rng.multinomial(n, probs, size=size)
        done += size


@dataclass(frozen=True)
class BradleyTerryBootstrap:
    """Point fit plus percentile bootstrap intervals for each model's log-strength."""

    models: tuple[str, ...]
    log_strength: np.ndarray
    low: np.ndarray
    high: np.ndarray
    replicates: np.ndarray = field(repr=False)
    confidence: float
    n_resamples: int
    resampled: str  # "battles" or "items"
    n_clusters: int
    seed: int | None

    def elo(
        self, *, scale: float = ELO_SCALE, base: float = ELO_BASE
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rating, low, high) on the Elo scale; percentile intervals map through exactly."""
        return (
            to_elo(self.log_strength, scale=scale, base=base),
            to_elo(self.low, scale=scale, base=base),
            to_elo(self.high, scale=scale, base=base),
        )

    def as_records(self, *, scale: float = ELO_SCALE, base: float = ELO_BASE) -> list[dict[str, Any]]:
        """One dict per model, strongest first (ready for ``pandas.DataFrame``)."""
        elo, elo_low, elo_high = self.elo(scale=scale, base=base)
        order = np.argsort(-self.log_strength, kind="stable")
        return [
            {
                "rank": rank,
                "model": self.models[i],
                "log_strength": float(self.log_strength[i]),
                "log_strength_low": float(self.low[i]),
                "log_strength_high": float(self.high[i]),
                "elo": float(elo[i]),
                "elo_low": float(elo_low[i]),
                "elo_high": float(elo_high[i]),
            }
            for rank, i in enumerate(order, start=1)
        ]


def bootstrap_bradley_terry(
    model_a: Iterable[Any],
    model_b: Iterable[Any],
    outcome: Iterable[Any],
    *,
    items: Iterable[Any] | None = None,
    models: Sequence[str] | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: Seed = 0,
    l2: float = DEFAULT_L2,
) -> BradleyTerryBootstrap:
    """Bradley-Terry fit with percentile bootstrap intervals.

    Without `items`, battles are resampled independently. With `items` (one id per battle), items
    are resampled with all their battles (every annotator, every model pair), which is the right
    unit when several judgments share an item. A resample in which a model has no battle, or the
    models split into never-compared groups, leaves that model (resp. the whole resample) NaN; the
    interval ignores NaN replicates. Each resample is refitted by the batched Newton solver.
    """
    confidence = check_confidence(confidence)
    fit = fit_bradley_terry(model_a, model_b, outcome, models=models, l2=l2)
    battles = prepare_battles(model_a, model_b, outcome, models=fit.models)
    rng, recorded_seed = as_generator(seed)
    k = battles.n_models
    if items is None:
        # Resampling n battles is a multinomial over the distinct battle kinds (pair, side,
        # outcome), so draw kind counts directly: same distribution, far fewer random numbers.
        kinds = (battles.a * k + battles.b) * 3 + np.rint(battles.score * 2).astype(np.intp)
        _, codes, sizes = np.unique(kinds, return_inverse=True, return_counts=True)
        n_clusters = len(battles)
        count_blocks = _multinomial_blocks(n_clusters, sizes / n_clusters, n_resamples, rng, k * k)
        share = 1.0 / sizes[codes]  # a drawn kind contributes one battle of that kind
    else:
        codes, n_clusters = cluster_codes(items, n_rows=len(battles))
        count_blocks = iter_resample_counts(n_clusters, n_resamples, rng, row_width=k * k)
        share = np.ones(len(battles))  # a drawn item contributes all its battles
    membership = sparse.csr_array(
        (share, (codes, np.arange(len(battles)))), shape=(int(codes.max()) + 1, len(battles))
    )
    per_unit = (membership @ _score_design(battles)).tocsr()  # (units, K*K) score contributions
    blocks = []
    for counts in count_blocks:
        s = (per_unit.T @ counts.T.astype(float)).T.reshape(len(counts), k, k)
        met = (s + np.swapaxes(s, 1, 2)) > 0
        theta = fit_scores(s, l2=l2)
        played = met.any(axis=2)
        # Recentre on the models that played; an absent model's strength is not estimated.
        theta = np.where(played, theta, np.nan)
        theta -= np.nanmean(theta, axis=1, keepdims=True)
        theta[~_connected(met)] = np.nan
        blocks.append(theta)
    replicates = np.concatenate(blocks)
    low, high = percentile_interval(replicates, confidence, axis=0)
    return BradleyTerryBootstrap(
        models=fit.models,
        log_strength=fit.log_strength,
        low=np.asarray(low),
        high=np.asarray(high),
        replicates=replicates,
        confidence=confidence,
        n_resamples=n_resamples,
        resampled="battles" if items is None else "items",
        n_clusters=n_clusters,
        seed=recorded_seed,
    )

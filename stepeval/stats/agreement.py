"""Inter-annotator agreement: Krippendorff's alpha and Cohen's kappa.

Why both: Cohen's kappa (Cohen 1960; weighted, Cohen 1968) is the familiar number for two
annotators who labelled the same items. Krippendorff's alpha (Krippendorff 2011, "Computing
Krippendorff's Alpha-Reliability", Annenberg School for Communication, U. Pennsylvania) is the one
that fits a crowd study: any number of annotators, each unit judged by a varying subset of them
(missing values), and a distance that respects the order B-win < Tie < A-win (ordinal metric)
instead of treating "A vs Tie" as badly as "A vs B" (nominal metric).

Alpha is ``1 - D_o / D_e``: observed disagreement within units over the disagreement expected by
chance, both computed from the coincidence matrix of pairable values. 1 is perfect agreement, 0
is chance, below 0 systematic disagreement. Krippendorff suggests relying on alpha >= 0.8 and
drawing tentative conclusions only above 0.667.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from stepeval.errors import UserError
from stepeval.stats._common import Seed, as_generator, as_list, check_confidence, factorize
from stepeval.stats.bootstrap import BootstrapResult, iter_resample_counts
from stepeval.stats.intervals import percentile_interval
from stepeval.stats.outcomes import is_missing

Level = Literal["nominal", "ordinal", "interval", "ratio"]
Weights = Literal["linear", "quadratic"] | None


# --------------------------------------------------------------------------- value coding


def _is_number(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (int, float, np.integer, np.floating))


def _value_index(
    observed: list[Any], values: Sequence[Any] | None, needs_order: bool, needs_numbers: bool
) -> tuple[list[Any], dict[Any, int]]:
    """The ordered list of categories and a lookup from value to its index."""
    if values is None:
        distinct = list(dict.fromkeys(observed))
        if not all(_is_number(v) for v in distinct):
            if needs_order:
                raise UserError(
                    "ordered or numeric agreement needs the order of non-numeric labels "
                    f"(got {', '.join(map(repr, distinct[:5]))})",
                    hint="pass values=[...] from lowest to highest, e.g. values=['B', 'Tie', 'A']",
                )
            values = distinct
        else:
            values = sorted(distinct)
    values = list(values)
    if needs_numbers and not all(_is_number(v) for v in values):
        raise UserError(
            "interval and ratio agreement need numeric labels",
            hint="map the labels to numbers first, e.g. B=-1, Tie=0, A=1",
        )
    lookup: dict[Any, int] = {}
    for i, v in enumerate(values):
        if v in lookup:
            raise ValueError(f"duplicate value {v!r} in values")
        lookup[v] = i
    unknown = [v for v in dict.fromkeys(observed) if v not in lookup]
    if unknown:
        raise UserError(
            f"label(s) not among the given values: {', '.join(map(repr, unknown[:5]))}",
            hint="add them to values=[...] or fix the labels",
        )
    return values, lookup


def _normalise_value(v: Any) -> Any:
    # 1 and 1.0 are the same label; numpy scalars become Python ones so dict lookups agree.
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


# --------------------------------------------------------------------------- Krippendorff's alpha


def _unit_value_counts(
    data: ArrayLike, values: Sequence[Any] | None, level: Level
) -> tuple[np.ndarray, list[Any]]:
    """Counts n_uc of value c in unit u, shape (units, categories), from a coders x units matrix."""
    matrix = np.asarray(data, dtype=object if not isinstance(data, np.ndarray) else None)
    if matrix.ndim != 2:
        raise UserError(
            f"reliability data must be a 2-D coders x units matrix, got {matrix.ndim} dimension(s)",
            hint="use reliability_matrix(units, coders, labels) to build one from a long table",
        )
    n_coders, n_units = matrix.shape
    unit_of: list[int] = []
    observed: list[Any] = []
    flat = matrix.T.ravel().tolist()  # unit-major
    for position, v in enumerate(flat):
        if not is_missing(v):
            unit_of.append(position // n_coders if n_coders else 0)
            observed.append(_normalise_value(v))
    if not observed:
        raise UserError("the reliability data holds no judgments", hint="check the filter")
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise ValueError(f"unknown level of measurement {level!r}")
    categories, lookup = _value_index(
        observed,
        None if values is None else [_normalise_value(v) for v in values],
        needs_order=level != "nominal",
        needs_numbers=level in ("interval", "ratio"),
    )
    counts = np.zeros((n_units, len(categories)))
    np.add.at(counts, (np.asarray(unit_of), np.fromiter((lookup[v] for v in observed), dtype=np.intp)), 1.0)
    return counts, categories


def _distance(level: Level, categories: list[Any], marginals: np.ndarray) -> np.ndarray:
    """Squared difference delta^2(c, k) between categories for the given metric.

    `marginals` (n_c, the pairable-value totals) is used by the ordinal metric only; it may be
    batched, shape (..., V), giving (..., V, V).
    """
    v = len(categories)
    if level == "nominal":
        return 1.0 - np.eye(v)
    if level == "ordinal":
        # delta(c, k) = sum_{g=c..k} n_g - (n_c + n_k)/2 for c <= k, symmetric.
        cum = np.cumsum(marginals, axis=-1)
        upper = cum[..., None, :] - cum[..., :, None] + marginals[..., :, None]  # c <= k
        d = upper - (marginals[..., :, None] + marginals[..., None, :]) / 2.0
        d = np.where(np.triu(np.ones((v, v), dtype=bool)), d, np.swapaxes(d, -1, -2))
        return d * d
    x = np.asarray(categories, dtype=float)
    if level == "interval":
        return (x[:, None] - x[None, :]) ** 2
    if level == "ratio":
        if np.any(x < 0):
            raise UserError("ratio agreement needs non-negative values", hint="use level='interval'")
        s = x[:, None] + x[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(s > 0, (x[:, None] - x[None, :]) / s, 0.0)
        return r * r
    raise ValueError(f"unknown level of measurement {level!r}")


def _pairable(counts: np.ndarray) -> np.ndarray:
    """Units with at least two values: only they carry information about agreement."""
    keep = counts.sum(axis=1) >= 2
    if not np.any(keep):
        raise UserError(
            "no unit was judged by two or more annotators, so agreement is undefined",
            hint="assign some items to several annotators (overlap) before measuring agreement",
        )
    return counts[keep]


def _unit_coincidences(counts: np.ndarray) -> np.ndarray:
    """Per-unit coincidence matrices o_u[c, k] = (n_uc n_uk - [c = k] n_uc) / (m_u - 1)."""
    m = counts.sum(axis=1)
    outer = counts[:, :, None] * counts[:, None, :]
    idx = np.arange(counts.shape[1])
    outer[:, idx, idx] -= counts
    return outer / (m - 1.0)[:, None, None]


def _alpha_from_coincidences(o: np.ndarray, level: Level, categories: list[Any]) -> np.ndarray:
    """Alpha from coincidence matrices of shape (..., V, V); NaN where there is no variation."""
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    delta = _distance(level, categories, n_c)
    observed = (o * delta).sum(axis=(-2, -1))
    expected = (n_c[..., :, None] * n_c[..., None, :] * delta).sum(axis=(-2, -1)) / (n - 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = 1.0 - observed / expected
    # No variation at all (every pairable value the same): alpha is undefined, not 1.
    return np.where(expected > 0, alpha, np.nan)


def krippendorff_alpha(
    data: ArrayLike, level: Level = "ordinal", *, values: Sequence[Any] | None = None
) -> float:
    """Krippendorff's alpha for a coders x units reliability matrix with missing values.

    `data[i][u]` is coder i's label for unit u, or None / NaN where coder i did not judge u.
    Units with fewer than two labels are dropped (they have no pairable values). `level` picks the
    metric: ``nominal`` (any difference counts 1), ``ordinal`` (distance grows with the number of
    values ranked between two labels), ``interval`` (squared numeric difference) or ``ratio``.
    `values` lists the possible labels from lowest to highest; it is required to order non-numeric
    labels (``['B', 'Tie', 'A']``). Returns NaN when all pairable values are identical (alpha is
    undefined without variation). Method: Krippendorff (2011), sections C-E.
    """
    counts, categories = _unit_value_counts(data, values, level)
    o = _unit_coincidences(_pairable(counts)).sum(axis=0)
    return float(_alpha_from_coincidences(o, level, categories))


def krippendorff_alpha_bootstrap(
    data: ArrayLike,
    level: Level = "ordinal",
    *,
    values: Sequence[Any] | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: Seed = 0,
) -> BootstrapResult:
    """Alpha with a percentile interval from resampling units (items) with replacement.

    Units are the independent draws of a study, so they are what is resampled; each resample's
    coincidence matrix is the count-weighted sum of the units' matrices, which vectorises. (This
    differs from Krippendorff's own bootstrap, which resamples pairs of values.) Resamples without
    variation give NaN and are ignored by the interval.
    """
    confidence = check_confidence(confidence)
    rng, recorded_seed = as_generator(seed)
    counts, categories = _unit_value_counts(data, values, level)
    per_unit = _unit_coincidences(_pairable(counts))
    n_units, v, _ = per_unit.shape
    flat = per_unit.reshape(n_units, v * v)
    estimate = float(_alpha_from_coincidences(flat.sum(axis=0).reshape(v, v), level, categories))
    blocks = []
    for draw in iter_resample_counts(n_units, n_resamples, rng, row_width=v * v):
        o = (draw.astype(float) @ flat).reshape(len(draw), v, v)
        blocks.append(_alpha_from_coincidences(o, level, categories))
    replicates = np.concatenate(blocks)
    low, high = percentile_interval(replicates, confidence)
    return BootstrapResult(
        estimate=estimate,
        low=low,
        high=high,
        replicates=replicates,
        confidence=confidence,
        n_resamples=n_resamples,
        n_clusters=n_units,
        seed=recorded_seed,
    )


@dataclass(frozen=True)
class ReliabilityData:
    """A coders x units matrix built from a long judgments table (None = not judged)."""

    units: tuple[str, ...]
    coders: tuple[str, ...]
    matrix: np.ndarray  # object array, shape (coders, units)


def reliability_matrix(
    units: Iterable[Any], coders: Iterable[Any], labels: Iterable[Any]
) -> ReliabilityData:
    """Pivot a long table (one row per judgment) into the matrix `krippendorff_alpha` takes.

    A coder may judge a unit once: superseded answers must be dropped first, so a duplicate
    (unit, coder) pair is a `UserError` rather than a silent choice of one of them.
    """
    unit_names, unit_codes = factorize(units, "unit")
    coder_names, coder_codes = factorize(coders, "annotator")
    label_list = as_list(labels)
    if not (len(unit_codes) == len(coder_codes) == len(label_list)):
        raise UserError(
            "units, annotators and labels differ in length",
            hint="pass three columns of the same judgments table",
        )
    matrix = np.full((len(coder_names), len(unit_names)), None, dtype=object)
    seen = np.zeros(matrix.shape, dtype=bool)
    for u, c, label in zip(unit_codes, coder_codes, label_list):
        if seen[c, u]:
            raise UserError(
                f"annotator {coder_names[c]!r} judged unit {unit_names[u]!r} more than once",
                hint="keep only each annotator's latest judgment per unit",
            )
        seen[c, u] = True
        matrix[c, u] = None if is_missing(label) else label
    return ReliabilityData(units=unit_names, coders=coder_names, matrix=matrix)


# --------------------------------------------------------------------------- Cohen's kappa


def confusion_matrix(
    labels_1: Iterable[Any],
    labels_2: Iterable[Any],
    *,
    values: Sequence[Any] | None = None,
    ordered: bool = False,
) -> tuple[list[Any], np.ndarray]:
    """Counts of (annotator 1 label, annotator 2 label) pairs; pairs with a missing label dropped."""
    first, second = as_list(labels_1), as_list(labels_2)
    if len(first) != len(second):
        raise UserError(
            f"the two annotators have {len(first)} and {len(second)} labels",
            hint="align both annotators on the same items, one label each",
        )
    pairs = [
        (_normalise_value(a), _normalise_value(b))
        for a, b in zip(first, second)
        if not (is_missing(a) or is_missing(b))
    ]
    if not pairs:
        raise UserError("the two annotators share no judged item", hint="check the item alignment")
    observed = [a for a, _ in pairs] + [b for _, b in pairs]
    categories, lookup = _value_index(
        observed,
        None if values is None else [_normalise_value(v) for v in values],
        needs_order=ordered,
        needs_numbers=False,
    )
    table = np.zeros((len(categories), len(categories)))
    np.add.at(table, ([lookup[a] for a, _ in pairs], [lookup[b] for _, b in pairs]), 1.0)
    return categories, table


def cohen_kappa(
    labels_1: Iterable[Any],
    labels_2: Iterable[Any],
    *,
    weights: Weights = None,
    values: Sequence[Any] | None = None,
) -> float:
    """Cohen's kappa between two annotators, unweighted or linear/quadratic weighted.

    ``kappa = 1 - sum(w * O) / sum(w * E)`` with O the observed and E the chance (product of
    marginals) joint proportions and w the disagreement weight: ``[i != j]`` (Cohen 1960),
    ``|i - j|`` (linear) or ``(i - j)^2`` (quadratic, Cohen 1968), i and j being positions in the
    ordered `values` (required for weighted kappa on non-numeric labels). Items a annotator left
    blank are dropped. Returns NaN when chance disagreement is zero (both always gave one label).
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    categories, table = confusion_matrix(labels_1, labels_2, values=values, ordered=weights is not None)
    k = len(categories)
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(float)
    elif weights == "linear":
        w = np.abs(i - j).astype(float)
    else:
        w = ((i - j) ** 2).astype(float)
    observed = table / table.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    chance = float((w * expected).sum())
    if chance == 0.0:
        return float("nan")
    return 1.0 - float((w * observed).sum()) / chance

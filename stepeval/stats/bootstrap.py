"""Cluster (item-level) bootstrap for statistics over a judgments table.

Why clusters: in the human study several annotators judge the same item, and their judgments are
correlated (a clearly broken video loses for everyone). Resampling judgments as if independent
understates the variance; resampling *items* with all their judgments kept together respects the
dependence (Davison & Hinkley 1997, "Bootstrap Methods and their Application", sec. 3.8; Field &
Welsh 2007, "Bootstrapping clustered data"). With one judgment per cluster it is the ordinary
bootstrap.

How: a resample draws C of the C clusters with replacement. Instead of materialising the resampled
table, each row gets a weight equal to the number of times its cluster was drawn; a statistic
written as a function of row weights (a weighted count, mean, or a weighted Bradley-Terry fit) then
evaluates all resamples at once as one matrix product. This is what makes thousands of resamples
cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from stepeval.errors import UserError
from stepeval.stats._common import Seed, as_generator, check_confidence, factorize
from stepeval.stats.intervals import percentile_interval

#: Upper bound on the elements of one block of resampling weights (keeps memory near 128 MiB).
MAX_BLOCK_ELEMENTS = 1 << 24


@dataclass(frozen=True)
class BootstrapResult:
    """A statistic, its bootstrap replicates, and the percentile interval."""

    estimate: np.ndarray | float
    low: np.ndarray | float
    high: np.ndarray | float
    replicates: np.ndarray
    confidence: float
    n_resamples: int
    n_clusters: int
    seed: int | None


def resample_counts(n_clusters: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each cluster is drawn in each resample: an int array of shape (resamples, clusters).

    Each row sums to `n_clusters` (a multinomial with equal probabilities), drawn as uniform
    indices and binned, which is much faster than numpy's multinomial for many clusters.
    """
    if n_clusters <= 0:
        raise UserError("nothing to resample: no clusters (items)", hint="check the filter")
    draws = rng.integers(0, n_clusters, size=(n_resamples, n_clusters))
    draws += np.arange(n_resamples)[:, None] * n_clusters
    return np.bincount(draws.ravel(), minlength=n_resamples * n_clusters).reshape(n_resamples, n_clusters)


def iter_resample_counts(
    n_clusters: int, n_resamples: int, rng: np.random.Generator, row_width: int | None = None
) -> Iterator[np.ndarray]:
    """`resample_counts` in blocks of resamples, so memory stays bounded for large tables.

    `row_width` is the width of the largest per-resample array the caller will build (e.g. the
    number of table rows); blocks hold at most `MAX_BLOCK_ELEMENTS` such elements.
    """
    width = max(n_clusters, row_width or 0, 1)
    block = max(1, MAX_BLOCK_ELEMENTS // width)
    done = 0
    while done < n_resamples:
        size = min(block, n_resamples - done)
        yield resample_counts(n_clusters, size, rng)
        done += size


def cluster_codes(clusters: Iterable[Any] | None, n_rows: int | None = None) -> tuple[np.ndarray, int]:
    """Integer cluster code per row and the number of clusters; `None` = every row its own cluster."""
    if clusters is None:
        if n_rows is None:
            raise ValueError("n_rows is needed when clusters is None")
        return np.arange(n_rows), n_rows
    names, codes = factorize(clusters, "item")
    if n_rows is not None and len(codes) != n_rows:
        raise UserError(f"{len(codes)} item ids for {n_rows} judgments", hint="give one item id per row")
    return codes, len(names)


def cluster_bootstrap_weights(
    clusters: Iterable[Any], n_resamples: int = 2000, seed: Seed = 0
) -> np.ndarray:
    """Row weights of `n_resamples` cluster-bootstrap resamples, shape (resamples, rows).

    Row r of resample b is weighted by how many times its cluster was drawn in b. For a statistic
    that cannot take weights, `weights_to_indices` turns one row of weights into row indices.
    """
    rng, _ = as_generator(seed)
    codes, n_clusters = cluster_codes(clusters)
    return resample_counts(n_clusters, n_resamples, rng)[:, codes].astype(float)


def weights_to_indices(weights: ArrayLike) -> np.ndarray:
    """Row indices of the resampled table described by one vector of integer row weights."""
    w = np.asarray(weights)
    return np.repeat(np.arange(w.shape[-1]), w.astype(np.intp))


def cluster_bootstrap(
    statistic: Callable[[np.ndarray], ArrayLike],
    clusters: Iterable[Any],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: Seed = 0,
    vectorized: bool = True,
) -> BootstrapResult:
    """Percentile cluster-bootstrap interval for any statistic of a judgments table.

    `statistic` receives row weights (one per table row, in table order):

    - ``vectorized=True``: a float array of shape (r, rows) holding r resamples at once, and must
      return shape (r,) or (r, ...). The point estimate is the statistic at weights all ones.
      Example, the tie-half win rate with ``score = (codes + 1) / 2``:
      ``lambda w: (w @ score) / w.sum(axis=1)``.
    - ``vectorized=False``: one weight vector of shape (rows,) per call, returning a scalar or an
      array (use `weights_to_indices` to materialise the rows).

    `clusters` holds one cluster (item) id per row; rows sharing an id are resampled together.
    """
    confidence = check_confidence(confidence)
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    rng, recorded_seed = as_generator(seed)
    codes, n_clusters = cluster_codes(clusters)
    n_rows = len(codes)
    if n_rows == 0:
        raise UserError("no judgments to bootstrap", hint="check the filter")

    if vectorized:
        estimate = np.asarray(statistic(np.ones((1, n_rows))), dtype=float)[0]
        blocks = []
        for counts in iter_resample_counts(n_clusters, n_resamples, rng, row_width=n_rows):
            weights = counts.astype(float)[:, codes]
            out = np.asarray(statistic(weights), dtype=float)
            if out.shape[:1] != (len(counts),):
                raise ValueError(
                    f"a vectorized statistic must return one value per resample (leading axis "
                    f"{len(counts)}), got shape {out.shape}"
                )
            blocks.append(out)
        replicates = np.concatenate(blocks, axis=0)
    else:
        estimate = np.asarray(statistic(np.ones(n_rows)), dtype=float)
        replicates = np.empty((n_resamples,) + estimate.shape)
        b = 0
        for counts in iter_resample_counts(n_clusters, n_resamples, rng, row_width=n_rows):
            for row in counts:
                replicates[b] = np.asarray(statistic(row[codes].astype(float)), dtype=float)
                b += 1

    low, high = percentile_interval(replicates, confidence, axis=0)
    if np.ndim(estimate) == 0:
        estimate = float(estimate)
    return BootstrapResult(
        estimate=estimate,
        low=low,
        high=high,
        replicates=replicates,
        confidence=confidence,
        n_resamples=n_resamples,
        n_clusters=n_clusters,
        seed=recorded_seed,
    )

"""Small helpers shared by the statistics modules (not public API)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from stepeval.errors import UserError
from stepeval.stats.outcomes import is_missing

Seed = int | np.random.Generator | None


def as_generator(seed: Seed) -> tuple[np.random.Generator, int | None]:
    """A numpy Generator and the integer seed to record (None when a Generator was passed in)."""
    if isinstance(seed, np.random.Generator):
        return seed, None
    if seed is None:
        # Determinism is a project rule: draw a seed, and hand it back so a report can record it.
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    return np.random.default_rng(seed), int(seed)


def as_list(values: Iterable[Any]) -> list[Any]:
    if isinstance(values, np.ndarray):
        return values.ravel().tolist()
    if hasattr(values, "tolist"):  # pandas Series / Index
        return list(values.tolist())
    return list(values)


def factorize(
    values: Iterable[Any], what: str, order: Sequence[Any] | None = None
) -> tuple[tuple[str, ...], np.ndarray]:
    """Integer codes for string-like ids (models, items, annotators).

    Ids are compared as strings, so `3` and `"3"` are the same item. With `order`, codes follow it
    and an id outside it is a `UserError`; without, ids are sorted.
    """
    items = as_list(values)
    if set(map(type, items)) <= {str}:
        # The common case (ids and tags read from a table): a str is never missing and is its own
        # key, so skip the per-value checks, which dominate the cost on large judgment tables.
        keys = items
    else:
        for i, value in enumerate(items):
            if is_missing(value):
                raise UserError(f"{what} number {i} (0-based) is missing", hint=f"give every row a {what}")
        keys = [str(v) for v in items]
    if order is None:
        names = tuple(sorted(set(keys)))
    else:
        names = tuple(str(v) for v in order)
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate names in the given {what} order")
        unknown = sorted(set(keys) - set(names))
        if unknown:
            raise UserError(
                f"{what}(s) not in the given list: {', '.join(unknown[:5])}",
                hint=f"add them to the {what} list or drop those rows",
            )
    index = {name: i for i, name in enumerate(names)}
    codes = np.fromiter((index[k] for k in keys), dtype=np.intp, count=len(keys))
    return names, codes


def check_confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    return confidence

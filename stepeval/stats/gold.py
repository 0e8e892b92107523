"""Annotator quality on gold items.

A gold item pairs a video with itself (or, more generally, a pair whose right answer is known), so
on every dimension the correct judgment is Tie. Annotators who often pick a side on gold items are
guessing or not watching; their per-annotator accuracy, with a Wilson interval because an annotator
sees only a handful of gold items, is the evidence a study admin needs before dropping anyone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stepeval.errors import UserError
from stepeval.stats._common import as_list, factorize
from stepeval.stats.intervals import Proportion, proportion
from stepeval.stats.outcomes import canonical_labels


def gold_accuracy(
    annotators: Iterable[Any],
    responses: Iterable[Any],
    *,
    expected: Any | Iterable[Any] = "Tie",
    confidence: float = 0.95,
) -> dict[str, Proportion]:
    """Fraction of gold judgments each annotator got right, with Wilson intervals.

    One row per judgment (one per dimension of a gold item). `responses` may use the study view
    (A/Tie/B) or the screen view (Left/Tie/Right). `expected` is the right answer: one label for
    all rows (default Tie, the answer when a video faces itself) or one per row. Returns
    ``{annotator: Proportion}`` in sorted annotator order.
    """
    names, codes = factorize(annotators, "annotator")
    got = canonical_labels(responses)
    if len(got) != len(codes):
        raise UserError(
            f"{len(codes)} annotators for {len(got)} responses",
            hint="pass two columns of the same judgments table",
        )
    if len(got) == 0:
        raise UserError("no gold judgments", hint="check that the study includes gold items")
    if isinstance(expected, str) or not isinstance(expected, Iterable):
        want = canonical_labels([expected]) * len(got)
    else:
        want = canonical_labels(as_list(expected))
        if len(want) != len(got):
            raise UserError(
                f"{len(want)} expected answers for {len(got)} responses",
                hint="give one expected answer per row, or a single label for all",
            )
    correct = [0] * len(names)
    total = [0] * len(names)
    for code, answer, right in zip(codes, got, want):
        total[code] += 1
        correct[code] += answer == right
    return {name: proportion(correct[i], total[i], confidence) for i, name in enumerate(names)}

"""Left/right position bias of annotators.

The study shows model A on the left or the right at random (the swap is recorded), so whatever the
models' quality, a judgment should favour the left video half of the time among decisive ones. A
fraction clearly above or below 1/2 means annotators (or the app's layout) favour a side; the
randomised swap keeps that bias out of the A-vs-B results, but it adds noise, and a strong bias can
flag an annotator who is not really looking. The test is the exact sign test of Left vs Right
(`sign_test`), the interval Wilson's (`wilson_interval`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from stepeval.errors import UserError
from stepeval.stats.hypothesis_tests import sign_test
from stepeval.stats.intervals import Proportion, proportion
from stepeval.stats.outcomes import encode_sides


@dataclass(frozen=True)
class PositionBias:
    """Screen-side counts, the fraction Left among decisive judgments, and the sign-test p-value."""

    left: int
    ties: int
    right: int
    fraction_left: Proportion | None  # None when every judgment was a tie
    p_value: float


def position_bias_counts(left: int, ties: int, right: int, *, confidence: float = 0.95) -> PositionBias:
    """`position_bias` from counts of Left, Tie and Right judgments."""
    if left + ties + right == 0:
        raise UserError("no judgments to measure position bias from", hint="check the filter")
    decisive = left + right
    return PositionBias(
        left=int(left),
        ties=int(ties),
        right=int(right),
        fraction_left=proportion(left, decisive, confidence) if decisive else None,
        p_value=sign_test(left, right),
    )


def position_bias(sides: Iterable[Any], *, confidence: float = 0.95) -> PositionBias:
    """Position bias from screen-view judgments (Left / Tie / Right), ties dropped from the fraction.

    Returns the fraction of Left among non-tie judgments with its Wilson interval, and the
    two-sided exact sign-test p-value against 1/2. Assumes independent judgments; per annotator,
    call it on that annotator's judgments.
    """
    codes = encode_sides(sides)
    return position_bias_counts(
        int(np.count_nonzero(codes == 1)),
        int(np.count_nonzero(codes == 0)),
        int(np.count_nonzero(codes == -1)),
        confidence=confidence,
    )

"""Judgment labels and their numeric codes.

Every statistic in this package works on one numeric coding of a pairwise judgment, seen from one
side of the pair: ``+1`` the first side won, ``0`` tie, ``-1`` the second side won. Two vocabularies
map onto it:

- study view (model A vs model B): ``A`` / ``Tie`` / ``B``; ``Win`` / ``Loss`` are read from A's
  side, as in the report's W-T-L cells (single letters W/L are refused: ``L`` reads as Left too);
- screen view (what the annotator saw): ``Left`` / ``Tie`` / ``Right``.

Keeping the parsing in one place means every function rejects an unknown label the same way, with a
message that names the label, instead of silently counting it as a tie.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from stepeval.errors import UserError

A_WINS = 1
TIE = 0
B_WINS = -1

#: Study-view labels (case- and whitespace-insensitive) and integer codes.
OUTCOME_LABELS: Mapping[str, int] = {
    "a": A_WINS,
    "model_a": A_WINS,
    "win": A_WINS,
    "1": A_WINS,
    "+1": A_WINS,
    "tie": TIE,
    "t": TIE,
    "0": TIE,
    "b": B_WINS,
    "model_b": B_WINS,
    "loss": B_WINS,
    "-1": B_WINS,
}

#: Screen-view labels: +1 = left chosen, -1 = right chosen.
SIDE_LABELS: Mapping[str, int] = {
    "left": 1,
    "l": 1,
    "1": 1,
    "+1": 1,
    "tie": 0,
    "t": 0,
    "0": 0,
    "right": -1,
    "r": -1,
    "-1": -1,
}


def is_missing(value: Any) -> bool:
    """True for the values a table uses for "no judgment": None, NaN, pandas NA/NaT."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, np.floating) and np.isnan(value):
        return True
    # pandas.NA and NaT are not floats; both compare unequal to themselves or raise on bool().
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return True


def _normalise(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        # True/False are not judgments; refuse them rather than read them as 1/0.
        return f"<bool {value}>"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip().lower()


def _encode_distinct(values: list[Any], vocabulary: Mapping[str, int]) -> np.ndarray | None:
    """Fast path: code each distinct label once and map. None when a label is missing, unknown,
    boolean or unhashable, so that the slow path reports it with its position."""
    kinds = set(map(type, values))
    if bool in kinds or np.bool_ in kinds:
        return None  # True == 1 in a dict: never let a boolean borrow the code of 1
    try:
        distinct = set(values)
    except TypeError:
        return None
    lookup: dict[Any, int] = {}
    for value in distinct:
        if is_missing(value):
            return None
        code = vocabulary.get(_normalise(value))
        if code is None:
            return None
        lookup[value] = code
    return np.fromiter(map(lookup.__getitem__, values), dtype=np.int8, count=len(values))


def _encode(values: Iterable[Any], vocabulary: Mapping[str, int], what: str, accepted: str) -> np.ndarray:
    values = list(values) if not isinstance(values, np.ndarray) else values.ravel().tolist()
    fast = _encode_distinct(values, vocabulary)
    if fast is not None:
        return fast
    codes = np.empty(len(values), dtype=np.int8)
    cache: dict[Any, int] = {}
    unknown: list[str] = []
    for i, value in enumerate(values):
        if is_missing(value):
            raise UserError(
                f"{what} number {i} (0-based) has no label",
                hint="drop unanswered judgments before computing statistics",
            )
        # Keyed by type too: True == 1 as a dict key, and a boolean must not borrow the code of 1.
        key = (type(value), value)
        try:
            code = cache.get(key)
        except TypeError:  # unhashable
            code = None
        if code is None:
            code = vocabulary.get(_normalise(value))
            if code is None:
                if len(unknown) < 5 and repr(value) not in unknown:
                    unknown.append(repr(value))
                continue
            try:
                cache[key] = code
            except TypeError:
                pass
        codes[i] = code
    if unknown:
        raise UserError(
            f"unknown {what} label(s): {', '.join(unknown)}",
            hint=f"use one of {accepted}",
        )
    return codes


def encode_outcomes(outcomes: Iterable[Any]) -> np.ndarray:
    """Map study-view labels (A/Tie/B, Win/Tie/Loss, 1/0/-1) to int8 codes +1/0/-1.

    Raises `UserError` for a missing or unknown label.
    """
    return _encode(outcomes, OUTCOME_LABELS, "outcome", "A, Tie, B (or Win, Tie, Loss; or 1, 0, -1)")


def encode_sides(sides: Iterable[Any]) -> np.ndarray:
    """Map screen-view labels (Left/Tie/Right) to int8 codes +1 (left) / 0 / -1 (right)."""
    return _encode(sides, SIDE_LABELS, "side", "Left, Tie, Right")


@dataclass(frozen=True)
class WinTieLoss:
    """Counts of a W-T-L cell, from the first side's point of view."""

    wins: int
    ties: int
    losses: int

    @property
    def total(self) -> int:
        return self.wins + self.ties + self.losses

    def __str__(self) -> str:  # the report's cell format
        return f"{self.wins}-{self.ties}-{self.losses}"


def count_outcomes(outcomes: Iterable[Any]) -> WinTieLoss:
    """Count wins, ties and losses from A's side (labels as in `encode_outcomes`)."""
    codes = encode_outcomes(outcomes)
    return WinTieLoss(
        wins=int(np.count_nonzero(codes == A_WINS)),
        ties=int(np.count_nonzero(codes == TIE)),
        losses=int(np.count_nonzero(codes == B_WINS)),
    )


def canonical_labels(labels: Iterable[Any]) -> list[str]:
    """Map labels of either vocabulary to canonical names: ``A``, ``B``, ``Left``, ``Right``, ``Tie``.

    Used where both views may appear, e.g. gold items, whose expected answer (Tie) is the same in
    both. Numeric codes read as the study view (1 = A).
    """
    names: list[str] = []
    cache: dict[str, str] = {}
    unknown: list[str] = []
    for i, value in enumerate(labels):
        if is_missing(value):
            raise UserError(
                f"label number {i} (0-based) is missing",
                hint="drop unanswered judgments before computing statistics",
            )
        key = _normalise(value)
        name = cache.get(key)
        if name is None:
            if key in OUTCOME_LABELS:
                name = {A_WINS: "A", TIE: "Tie", B_WINS: "B"}[OUTCOME_LABELS[key]]
            elif key in SIDE_LABELS:
                name = {1: "Left", 0: "Tie", -1: "Right"}[SIDE_LABELS[key]]
            else:
                if len(unknown) < 5 and repr(value) not in unknown:
                    unknown.append(repr(value))
                name = "?"
            cache[key] = name
        names.append(name)
    if unknown:
        raise UserError(
            f"unknown judgment label(s): {', '.join(unknown)}",
            hint="use A, Tie, B (study view) or Left, Tie, Right (screen view)",
        )
    return names

"""VBench-I2V's Quality / I2V / Total scores from the nine raw dimension values (the leaderboard's formula).

For each dimension, n = (raw - min) / (max - min) * weight; a group's score is the sum of its n over
the sum of its weights; Total is the plain mean of the Quality and I2V scores. The official script
fills a missing dimension with 0, which silently publishes a wrong total; here a missing (or
non-finite) dimension is an error that names it.

The formula's shape (normalise, weigh, group, combine the groups) is `Scheme`; VBench's
text-to-video leaderboard is another scheme of the same shape (stepeval.metrics.vbench_t2v).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from stepeval.errors import UserError


@dataclass(frozen=True)
class Dimension:
    key: str  # vbench's dimension key
    name: str  # leaderboard name
    group: str  # "i2v" or "quality" (VBench-I2V); "quality" or "semantic" (VBench T2V)
    weight: float
    norm_min: float
    norm_max: float

    def normalised(self, raw: float) -> float:
        return (raw - self.norm_min) / (self.norm_max - self.norm_min) * self.weight


@dataclass(frozen=True)
class Scheme:
    """A leaderboard's aggregation: each group's score is the sum of its dimensions' normalised,
    weighted values over the sum of their weights; Total is the group scores' weighted mean
    (`group_weights`, in the order the groups are reported)."""

    label: str  # as messages name it: "VBench-I2V"
    dimensions: tuple[Dimension, ...]
    group_weights: tuple[tuple[str, float], ...]
    fix: str  # how to get a missing dimension scored

    def __post_init__(self) -> None:
        groups = {g for g, _ in self.group_weights}
        stray = sorted({d.group for d in self.dimensions} - groups)
        if stray or len(groups) != len(self.group_weights):
            raise ValueError(f"{self.label}: dimension groups {stray} have no weight in Total, or a group is listed twice")
        keys = [d.key for d in self.dimensions]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.label}: a dimension is listed twice")

    @property
    def by_key(self) -> dict[str, Dimension]:
        return {d.key: d for d in self.dimensions}

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(d.key for d in self.dimensions)

    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        return {g: tuple(d.key for d in self.dimensions if d.group == g) for g, _ in self.group_weights}

    def check(self, raw: Mapping[str, float], keys) -> None:
        """Refuse, naming each, a dimension that is missing, None or not finite."""
        missing = [k for k in keys if k not in raw or raw[k] is None]
        bad = [k for k in keys if k not in missing and not math.isfinite(float(raw[k]))]
        if missing or bad:
            parts = []
            if missing:
                parts.append(f"missing dimension(s): {', '.join(missing)}")
            if bad:
                parts.append(f"non-finite value(s) for: {', '.join(bad)}")
            raise UserError(
                f"cannot aggregate {self.label} scores: " + "; ".join(parts),
                hint=f"{self.fix} or report the raw values only; a missing dimension is never counted as 0",
            )

    def group_score(self, raw: Mapping[str, float], group: str) -> float:
        """Σ normalised values over the group's dimensions / Σ the group's weights."""
        groups = self.groups
        if group not in groups:
            raise ValueError(f"unknown group {group!r}; choose one of {', '.join(groups)}")
        keys = groups[group]
        self.check(raw, keys)
        by_key = self.by_key
        return sum(by_key[k].normalised(float(raw[k])) for k in keys) / sum(by_key[k].weight for k in keys)

    def total(self, group_scores: Mapping[str, float]) -> float:
        """Total from the group scores: their weighted mean."""
        return sum(group_scores[g] * w for g, w in self.group_weights) / sum(w for _, w in self.group_weights)

    def aggregate(self, raw: Mapping[str, float]) -> dict[str, float]:
        """{group: score, ..., "total": score} from dimension key -> raw value in [0, 1].

        Raises UserError naming every missing or non-finite dimension; extra keys are ignored."""
        self.check(raw, self.keys)
        scores = {g: self.group_score(raw, g) for g, _ in self.group_weights}
        return {**scores, "total": self.total(scores)}


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("camera_motion", "Video-Text Camera Motion", "i2v", 0.1, 0.0, 1.0),
    Dimension("i2v_subject", "Video-Image Subject Consistency", "i2v", 1.0, 0.1462, 1.0),
    Dimension("i2v_background", "Video-Image Background Consistency", "i2v", 1.0, 0.2615, 1.0),
    Dimension("subject_consistency", "Subject Consistency", "quality", 1.0, 0.1462, 1.0),
    Dimension("background_consistency", "Background Consistency", "quality", 1.0, 0.2615, 1.0),
    Dimension("motion_smoothness", "Motion Smoothness", "quality", 1.0, 0.7060, 0.9975),
    Dimension("dynamic_degree", "Dynamic Degree", "quality", 0.5, 0.0, 1.0),
    Dimension("aesthetic_quality", "Aesthetic Quality", "quality", 1.0, 0.0, 1.0),
    Dimension("imaging_quality", "Imaging Quality", "quality", 1.0, 0.0, 1.0),
)
VBENCH_I2V = Scheme(
    label="VBench-I2V",
    dimensions=DIMENSIONS,
    group_weights=(("quality", 1.0), ("i2v", 1.0)),  # the leaderboard weighs the two groups equally
    fix="score those dimensions (stepeval score RUN --metrics vbench-i2v:DIM)",
)
BY_KEY: dict[str, Dimension] = VBENCH_I2V.by_key
DIMENSION_KEYS: tuple[str, ...] = VBENCH_I2V.keys
GROUPS: dict[str, tuple[str, ...]] = VBENCH_I2V.groups


@dataclass(frozen=True)
class Aggregates:
    quality: float
    i2v: float
    total: float

    def as_dict(self) -> dict[str, float]:
        return {"quality": self.quality, "i2v": self.i2v, "total": self.total}


def group_score(raw: Mapping[str, float], group: str) -> float:
    """Σ normalised values over the group's dimensions / Σ the group's weights."""
    return VBENCH_I2V.group_score(raw, group)


def total_score(quality: float, i2v: float) -> float:
    """Total from the two group scores (the leaderboard weighs them equally)."""
    return VBENCH_I2V.total({"quality": quality, "i2v": i2v})


def aggregate(raw: Mapping[str, float]) -> Aggregates:
    """Quality, I2V and Total from a mapping dimension key -> raw value in [0, 1].

    Raises UserError naming every missing or non-finite dimension; extra keys are ignored.
    """
    return Aggregates(**VBENCH_I2V.aggregate(raw))

"""VBench-I2V's Quality / I2V / Total scores from the nine raw dimension values (the leaderboard's formula).

For each dimension, n = (raw - min) / (max - min) * weight; a group's score is the sum of its n over
the sum of its weights; Total is the plain mean of the Quality and I2V scores. The official script
fills a missing dimension with 0, which silently publishes a wrong total; here a missing (or
non-finite) dimension is an error that names it.
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
    group: str  # "i2v" or "quality"
    weight: float
    norm_min: float
    norm_max: float

    def normalised(self, raw: float) -> float:
        return (raw - self.norm_min) / (self.norm_max - self.norm_min) * self.weight


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
BY_KEY: dict[str, Dimension] = {d.key: d for d in DIMENSIONS}
DIMENSION_KEYS: tuple[str, ...] = tuple(d.key for d in DIMENSIONS)
GROUPS: dict[str, tuple[str, ...]] = {
    g: tuple(d.key for d in DIMENSIONS if d.group == g) for g in ("quality", "i2v")
}


@dataclass(frozen=True)
class Aggregates:
    quality: float
    i2v: float
    total: float

    def as_dict(self) -> dict[str, float]:
        return {"quality": self.quality, "i2v": self.i2v, "total": self.total}


def _check(raw: Mapping[str, float], keys) -> None:
    missing = [k for k in keys if k not in raw or raw[k] is None]
    bad = [k for k in keys if k not in missing and not math.isfinite(float(raw[k]))]
    if missing or bad:
        parts = []
        if missing:
            parts.append(f"missing dimension(s): {', '.join(missing)}")
        if bad:
            parts.append(f"non-finite value(s) for: {', '.join(bad)}")
        raise UserError(
            "cannot aggregate VBench-I2V scores: " + "; ".join(parts),
            hint="score those dimensions (stepeval score RUN --metrics vbench-i2v:DIM) or report the raw values only; "
            "a missing dimension is never counted as 0",
        )


def group_score(raw: Mapping[str, float], group: str) -> float:
    """Σ normalised values over the group's dimensions / Σ the group's weights."""
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}; choose one of {', '.join(GROUPS)}")
    keys = GROUPS[group]
    _check(raw, keys)
    return sum(BY_KEY[k].normalised(float(raw[k])) for k in keys) / sum(BY_KEY[k].weight for k in keys)


def total_score(quality: float, i2v: float) -> float:
    """Total from the two group scores (the leaderboard weighs them equally)."""
    return (quality * 1.0 + i2v * 1.0) / 2


def aggregate(raw: Mapping[str, float]) -> Aggregates:
    """Quality, I2V and Total from a mapping dimension key -> raw value in [0, 1].

    Raises UserError naming every missing or non-finite dimension; extra keys are ignored.
    """
    _check(raw, DIMENSION_KEYS)
    quality = group_score(raw, "quality")
    i2v = group_score(raw, "i2v")
    return Aggregates(quality=quality, i2v=i2v, total=total_score(quality, i2v))

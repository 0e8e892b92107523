"""VBench for text-to-video: its 16 standard dimensions and the leaderboard's Quality / Semantic /
Total scores (VBench's `scripts/constant.py` and `scripts/cal_final_score.py`).

For each dimension, n = (raw - min) / (max - min) * weight; Quality and Semantic are each the sum of
their n over the sum of their weights; Total = (4 x Quality + 1 x Semantic) / 5. The same shape as
VBench-I2V's formula, so both are one `Scheme` (stepeval.metrics.aggregate), and a missing or
non-finite dimension is refused by name rather than counted as 0.

Custom-input mode (own prompts, any file names) scores only `CUSTOM_INPUT_DIMENSIONS`; the semantic
dimensions need videos for VBench's standard prompt suite, so a Total over all 16 needs that suite.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stepeval.metrics.aggregate import Dimension, Scheme

QUALITY, SEMANTIC = "quality", "semantic"
# The metric's one name (registry, scores.parquet rows `vbench_t2v/<dimension>`, reports) and the
# headings of what it reports; the scorer is stepeval.metrics.vbench_t2v_metric.
METRIC = "vbench_t2v"
PREFIX = METRIC + "/"
AGGREGATES: tuple[str, ...] = (QUALITY, SEMANTIC, "total")
AGGREGATE_NAMES: dict[str, str] = {QUALITY: "Quality Score", SEMANTIC: "Semantic Score", "total": "Total Score"}
GROUP_NAMES: dict[str, str] = {QUALITY: "Quality", SEMANTIC: "Semantic"}

DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("subject_consistency", "Subject Consistency", QUALITY, 1.0, 0.1462, 1.0),
    Dimension("background_consistency", "Background Consistency", QUALITY, 1.0, 0.2615, 1.0),
    Dimension("temporal_flickering", "Temporal Flickering", QUALITY, 1.0, 0.6293, 1.0),
    Dimension("motion_smoothness", "Motion Smoothness", QUALITY, 1.0, 0.706, 0.9975),
    Dimension("dynamic_degree", "Dynamic Degree", QUALITY, 0.5, 0.0, 1.0),
    Dimension("aesthetic_quality", "Aesthetic Quality", QUALITY, 1.0, 0.0, 1.0),
    Dimension("imaging_quality", "Imaging Quality", QUALITY, 1.0, 0.0, 1.0),
    Dimension("object_class", "Object Class", SEMANTIC, 1.0, 0.0, 1.0),
    Dimension("multiple_objects", "Multiple Objects", SEMANTIC, 1.0, 0.0, 1.0),
    Dimension("human_action", "Human Action", SEMANTIC, 1.0, 0.0, 1.0),
    Dimension("color", "Color", SEMANTIC, 1.0, 0.0, 1.0),
    Dimension("spatial_relationship", "Spatial Relationship", SEMANTIC, 1.0, 0.0, 1.0),
    Dimension("scene", "Scene", SEMANTIC, 1.0, 0.0, 0.8222),
    Dimension("appearance_style", "Appearance Style", SEMANTIC, 1.0, 0.0009, 0.2855),
    Dimension("temporal_style", "Temporal Style", SEMANTIC, 1.0, 0.0, 0.364),
    Dimension("overall_consistency", "Overall Consistency", SEMANTIC, 1.0, 0.0, 0.364),
)
VBENCH_T2V = Scheme(
    label="VBench (text-to-video)",
    dimensions=DIMENSIONS,
    group_weights=((QUALITY, 4.0), (SEMANTIC, 1.0)),
    fix="score those dimensions with VBench (the semantic ones need videos for its standard prompt suite)",
)
DIMENSION_KEYS: tuple[str, ...] = VBENCH_T2V.keys
BY_KEY: dict[str, Dimension] = VBENCH_T2V.by_key
GROUPS: dict[str, tuple[str, ...]] = VBENCH_T2V.groups
# The dimensions VBench's README says custom-input mode scores on one's own prompts.
CUSTOM_INPUT_DIMENSIONS: tuple[str, ...] = (
    "subject_consistency", "background_consistency", "motion_smoothness", "dynamic_degree", "aesthetic_quality", "imaging_quality",
)  # fmt: skip


def metric_name(dimension: str) -> str:
    """The scores.parquet metric of a dimension or aggregate: `vbench_t2v/<key>`."""
    return PREFIX + dimension


@dataclass(frozen=True)
class T2VAggregates:
    quality: float
    semantic: float
    total: float

    def as_dict(self) -> dict[str, float]:
        return {"quality": self.quality, "semantic": self.semantic, "total": self.total}


def group_score(raw: Mapping[str, float], group: str) -> float:
    """Σ normalised values over the group's dimensions / Σ the group's weights."""
    return VBENCH_T2V.group_score(raw, group)


def total_score(quality: float, semantic: float) -> float:
    """Total = (4 x Quality + 1 x Semantic) / 5."""
    return VBENCH_T2V.total({QUALITY: quality, SEMANTIC: semantic})


def aggregate(raw: Mapping[str, float]) -> T2VAggregates:
    """Quality, Semantic and Total from a mapping dimension key -> raw value in [0, 1].

    Raises UserError naming every missing or non-finite dimension; extra keys are ignored."""
    return T2VAggregates(**VBENCH_T2V.aggregate(raw))

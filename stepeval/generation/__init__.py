"""Generation: the Generator protocol, the registry of models, model tags and sweeps, per-video
seeds, the resumable and shardable batch runner, external-video import and the VBench view."""

from stepeval.generation.protocol import Capabilities, GenerationRequest, GenerationResult, Generator, Refused
from stepeval.generation.registry import available, create, get_factory, register
from stepeval.generation.seeds import derive_seed
from stepeval.generation.tags import (
    MOTION_PARAMS,
    ModelSpec,
    expand_sweeps,
    model_tag,
    motion_request,
    parse_set,
    parse_tag,
    requested_value,
    tag_family,
)

__all__ = [
    "MOTION_PARAMS",
    "Capabilities",
    "GenerationRequest",
    "GenerationResult",
    "Generator",
    "ModelSpec",
    "Refused",
    "available",
    "create",
    "derive_seed",
    "expand_sweeps",
    "get_factory",
    "model_tag",
    "motion_request",
    "parse_set",
    "parse_tag",
    "register",
    "requested_value",
    "tag_family",
]

"""Context parallelism for the diffusers adapters, through diffusers' own `ContextParallelConfig`.

One video is made by the ranks of one sequence-parallel group of the harness (`--sp-degree N`
under torchrun, `stepeval.generation.distributed`): every rank runs the same pipeline with the same
seed, and diffusers splits the transformer's token sequence over the group (ring attention,
Ulysses all-to-all, or both), gathering it again before the VAE. The option is

    context_parallel: {ring_degree: R, ulysses_degree: U}     # config
    --set context_parallel=ulysses:8  /  ring:2+ulysses:4        # command line

and R x U must equal the group size. What diffusers supports is checked before anything is
applied, each with its own message:
- a transformer class with a `_cp_plan` (in diffusers 0.42: Wan, LTX-Video, Flux, QwenImage, ...;
  not CogVideoX or HunyuanVideo); every transformer of the pipeline (Wan 2.2 A14B has two);
- Ulysses splits attention heads: U must divide the head count;
- an accelerator: diffusers places each rank on `rank % torch.accelerator.device_count()`, which
  a CPU-only machine cannot answer (CUDA with NCCL is what it is built for).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stepeval.errors import UserError

_SPEC_HINT = "write context_parallel as {ring_degree: R, ulysses_degree: U} in the config, or ulysses:U / ring:R / ring:R+ulysses:U with --set"
_PART = re.compile(r"^\s*(ring|ulysses)(?:_degree)?\s*[:=]\s*(\d+)\s*$")


@dataclass(frozen=True)
class ContextParallel:
    ring_degree: int = 1
    ulysses_degree: int = 1

    @property
    def degree(self) -> int:
        return self.ring_degree * self.ulysses_degree

    def to_dict(self) -> dict[str, int]:
        return {"ring_degree": self.ring_degree, "ulysses_degree": self.ulysses_degree}

    @classmethod
    def parse(cls, value: Any) -> ContextParallel | None:
        """None (off), a mapping {ring_degree, ulysses_degree}, or text `ulysses:8` / `ring:2+ulysses:4`."""
        if value is None or value == {} or value == "":
            return None
        if isinstance(value, ContextParallel):
            return value
        degrees: dict[str, int] = {}
        if isinstance(value, dict):
            unknown = sorted(set(value) - {"ring_degree", "ulysses_degree"})
            if unknown:
                raise UserError(f"context_parallel has unknown key(s) {', '.join(map(str, unknown))}", hint=_SPEC_HINT)
            for key, v in value.items():
                if isinstance(v, bool) or not isinstance(v, int):
                    raise UserError(f"context_parallel.{key} must be a whole number, got {v!r}", hint=_SPEC_HINT)
                degrees[key.removesuffix("_degree")] = v
        elif isinstance(value, str):
            for part in value.split("+"):
                m = _PART.match(part)
                if not m or m.group(1) in degrees:
                    raise UserError(f"cannot read context_parallel {value!r}", hint=_SPEC_HINT)
                degrees[m.group(1)] = int(m.group(2))
        else:
            raise UserError(f"cannot read context_parallel {value!r}", hint=_SPEC_HINT)
        cp = cls(ring_degree=degrees.get("ring", 1), ulysses_degree=degrees.get("ulysses", 1))
        if cp.ring_degree < 1 or cp.ulysses_degree < 1:
            raise UserError(f"context_parallel degrees must be >= 1, got {cp.to_dict()}", hint=_SPEC_HINT)
        if cp.degree == 1:
            return None  # 1 x 1 is no parallelism; diffusers itself refuses such a config
        return cp


def transformers_of(pipe: Any) -> dict[str, Any]:
    """The pipeline's denoising transformers by component name (Wan 2.2 A14B: two)."""
    return {name: module for name in ("transformer", "transformer_2") if (module := getattr(pipe, name, None)) is not None}


def check_supported(pipe: Any, cp: ContextParallel, pipeline_class: str) -> None:
    """Refuse a pipeline whose transformers diffusers cannot split, before anything is changed."""
    found = transformers_of(pipe)
    if not found:
        raise UserError(f"{pipeline_class} has no `transformer` component, so diffusers has nothing to make context-parallel",
                        hint="drop context_parallel for this model")
    for name, module in found.items():
        cls = type(module).__name__
        if getattr(type(module), "_cp_plan", None) is None:
            raise UserError(
                f"{pipeline_class}.{name} ({cls}) does not support context parallelism in diffusers (the class has no _cp_plan)",
                hint="drop context_parallel and run one GPU per video (--sp-degree 1), or use a model whose transformer has one "
                "(Wan, LTX-Video, Flux, QwenImage in diffusers 0.42)",
            )
        heads = getattr(getattr(module, "config", None), "num_attention_heads", None)
        if isinstance(heads, int) and heads % cp.ulysses_degree:
            raise UserError(
                f"{pipeline_class}.{name} ({cls}) has {heads} attention heads, which Ulysses cannot split {cp.ulysses_degree} ways",
                hint=f"choose an ulysses_degree that divides {heads} and make up the rest of the group with ring_degree",
            )


def check_placement(cp: ContextParallel, device: str, sp_degree: int, world_size: int) -> None:
    """Refuse a group that does not match the option, or a device diffusers cannot place ranks on."""
    if sp_degree != cp.degree:
        raise UserError(
            f"context_parallel {cp.to_dict()} splits each video over {cp.degree} ranks, but the run's sequence-parallel groups "
            f"have {sp_degree} (world size {world_size})",
            hint=f"launch under torchrun with --sp-degree {cp.degree} (e.g. torchrun --nproc_per_node {cp.degree} -m stepeval.cli.main "
            f"generate ... --sp-degree {cp.degree}), or change context_parallel",
        )
    if not device.startswith("cuda"):
        raise UserError(
            f"diffusers' context parallelism needs an accelerator (CUDA with NCCL); this rank runs on {device!r}",
            hint="run on GPUs (--device auto: under torchrun each rank takes its own GPU), or drop context_parallel on a CPU",
        )


def apply(pipe: Any, cp: ContextParallel, *, device: str, sp_degree: int, world_size: int, pipeline_class: str,
          attention_backend: str | None = None) -> None:
    """Make every transformer of `pipe` context-parallel over this rank's group. Collective: every
    rank of the world calls it, in the same order (the device mesh spans the world)."""
    check_supported(pipe, cp, pipeline_class)
    check_placement(cp, device, sp_degree, world_size)
    import torch
    from diffusers import ContextParallelConfig
    from torch.distributed.device_mesh import init_device_mesh

    if torch.device(device).index is not None:  # NCCL binds a rank's communicators to the current device
        torch.cuda.set_device(torch.device(device))
    # One mesh over the whole world, (group, ring, ulysses), so that consecutive ranks form a
    # group exactly as the harness deals work (stepeval.generation.distributed); each rank then
    # hands diffusers its own group's (ring, ulysses) sub-mesh.
    mesh = init_device_mesh(
        torch.device(device).type, (world_size // cp.degree, cp.ring_degree, cp.ulysses_degree),
        mesh_dim_names=("group", "ring", "ulysses"),
    )  # fmt: skip
    for module in transformers_of(pipe).values():
        if attention_backend:
            module.set_attention_backend(attention_backend)
        # A config per transformer: diffusers records its rank and meshes on the config object.
        config = ContextParallelConfig(ring_degree=cp.ring_degree, ulysses_degree=cp.ulysses_degree, mesh=mesh["ring", "ulysses"])
        module.enable_parallelism(config=config)

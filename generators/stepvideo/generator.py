"""`StepVideoTI2V` and `StepVideoT2V`: the in-repo Step-Video models behind stepeval's Generator protocol.

Registry name `stepvideo-ti2v` (entry point `stepeval.generators`). Parameters are the settings of
`TI2VSettings` (per request: motion_score, cfg_scale, steps, time_shift, negative_prompt,
magic_prompts, official_crop, vae_tile, image_latent, guidance, numerics) plus how to load and run it (model_dir,
dtype, offload, text_on_cpu, sp_degree, cfg_degree). Weights are loaded once in `load(device)`
from a hub-layout model folder (transformer/, vae/, step_llm/, hunyuan_clip/, ...).

`stepvideo-t2v` (and `stepvideo-t2v-turbo`, the T2V-Turbo settings) is the same generator for a
Step-Video-T2V checkpoint: text-only requests, 204 frames by default, its own magic prompts; no
motion_score, image_latent or guidance. A checkpoint of the other model is refused at load.

Multi-process: under torchrun every rank of a video group (sp_degree x cfg_degree consecutive
ranks) calls `generate` with the same request; the first rank gets the frames, the others get a
result whose `frames` is empty and whose `info["writer"]` is False (they must not write).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch

from stepeval.benchmark.items import T2V, TI2V
from stepeval.errors import UserError
from stepeval.generation.memory import PeakMemory
from stepeval.generation.protocol import Capabilities, GenerationRequest, GenerationResult

from . import memory
from .checkpoint import checkpoint_task, load_model_dir, parse_dtype
from .conditioning import resolve_geometry
from .parallel import SINGLE, ParallelState, init_parallel
from .pipeline import StepVideoPipeline, TI2VSettings
from .sampler import uses_guidance

NATIVE_SIZES = ((544, 992), (992, 544))  # official landscape, and its portrait transpose
PER_REQUEST = frozenset({"motion_score", "cfg_scale", "steps", "time_shift", "negative_prompt",
                         "magic_prompts", "official_crop", "vae_tile", "image_latent", "guidance", "numerics"})


class StepVideoTI2V:
    name = "stepvideo-ti2v"
    unused_settings: frozenset[str] = frozenset()  # settings the model never reads (left out of records)
    # The official preset's geometry; `sizes`/`frame_counts`/`fps` (or a subclass for another
    # preset) refine it per instance. Sweeps over PER_REQUEST share one loaded model.
    capabilities = Capabilities(
        sizes=NATIVE_SIZES, frame_counts=(102, 51, 17), fps=25.0, request_params=PER_REQUEST,
        notes="official preset; sizes=/frame_counts=/fps= change it; frames multiples of 17, "
              "sizes floored to multiples of 16")

    def __init__(self, model_dir: str | Path | None = None, *, dtype: str = "auto",
                 offload: str = "auto", text_on_cpu: bool = False, sp_degree: int = 1,
                 cfg_degree: int = 1, sizes: tuple[tuple[int, int], ...] | None = None,
                 frame_counts: tuple[int, ...] | None = None, fps: float | None = None,
                 steps: int = 50, cfg_scale: float = 9.0, time_shift: float = 13.0,
                 motion_score: float = 5.0, negative_prompt: str | None = None, magic_prompts: bool = True,
                 official_crop: bool = False, vae_tile: int | None = None,
                 image_latent: str = "sample", guidance: str = "text", numerics: str = "stepeval",
                 verbose: bool = True):
        if model_dir is None:
            raise UserError("stepvideo-ti2v needs model_dir, the folder of the downloaded weights "
                            "(hub layout: transformer/, vae/, step_llm/, hunyuan_clip/)",
                            hint="pass --set model_dir=/path/to/stepvideo-ti2v")
        self.model_dir = Path(model_dir)
        self.dtype_name = dtype
        self.offload_request = offload
        self.text_on_cpu = bool(text_on_cpu)
        self.sp_degree, self.cfg_degree = int(sp_degree), int(cfg_degree)
        self.verbose = verbose
        self.capabilities = type(self).capabilities.refine(sizes=sizes or None, frame_counts=frame_counts, fps=fps)
        fps = self.capabilities.fps
        self.defaults = TI2VSettings(
            fps=fps, steps=steps, cfg_scale=cfg_scale, time_shift=time_shift,
            motion_score=motion_score, negative_prompt=negative_prompt,
            magic_prompts=magic_prompts, official_crop=official_crop, vae_tile=vae_tile,
            image_latent=image_latent, guidance=guidance, numerics=numerics)
        self.defaults.validated()  # fail on bad settings before any weights are read
        self.pipeline: StepVideoPipeline | None = None
        self.parallel: ParallelState = SINGLE
        self.config = None
        self.plans: list[memory.MemoryPlan] = []

    # -- protocol ------------------------------------------------------------------------------
    @property
    def is_writer(self) -> bool:
        return self.parallel.is_writer

    @property
    def group_size(self) -> int:
        """Ranks that make one video together (the batch runner's `sp_degree`)."""
        return self.sp_degree * self.cfg_degree

    def load(self, device: str = "auto") -> None:
        if self.pipeline is not None:
            return
        self.parallel = init_parallel(self.sp_degree, self.cfg_degree,
                                      None if device == "auto" else device)
        dev = self.parallel.device
        dtype = self._dtype(dev)
        parts = load_model_dir(self.model_dir, dtype=dtype)
        self._check_task(parts.config.dit.task)
        self.config = parts.config
        offload = self._plan_offload(dev, dtype)
        self.pipeline = StepVideoPipeline(
            parts.dit, parts.vae, parts.encode_text, text_module=parts.text_module, device=dev,
            parallel=self.parallel, offload=offload, text_on_cpu=self.text_on_cpu)

    def generate(self, request: GenerationRequest, decode: bool = True) -> GenerationResult:
        if self.pipeline is None:
            raise RuntimeError("call load(device) before generate()")
        height, width, frames, fps = self.capabilities.resolve(request)
        settings = self.settings_for(request, height=height, width=width, frames=frames, fps=fps)
        self._check_fits(settings)
        start = time.perf_counter()
        with PeakMemory(self.parallel.device) as peak:
            out = self.pipeline(request.prompt, request.image_path, settings, decode=decode)
        seconds = time.perf_counter() - start
        info: dict[str, Any] = {
            "timings": out.timings, "notes": out.notes, "writer": self.parallel.is_writer,
            "settings": {k: v for k, v in dataclasses.asdict(out.settings).items() if k not in self.unused_settings},
            "latent_shape": list(out.geometry.latent_shape),
            "sp_degree": self.sp_degree, "cfg_degree": self.cfg_degree,
            "offload": self.pipeline.offload, "dtype": str(self.pipeline.dtype).replace("torch.", ""),
        }
        frames_out = out.frames if out.frames is not None else iter(())
        return GenerationResult(frames_out, out.settings.fps, seconds, peak.bytes, info)

    # -- helpers -------------------------------------------------------------------------------
    def _check_task(self, found: str) -> None:
        (want,) = self.capabilities.tasks
        if found != want:
            other = {TI2V: "stepvideo-ti2v", T2V: "stepvideo-t2v"}[found]
            raise UserError(
                f"{self.name} needs a Step-Video-{want.upper()} checkpoint, but this folder holds a "
                f"Step-Video-{found.upper()} one (transformer/config.json: use_additional_conditions "
                f"{str(found == TI2V).lower()})", path=self.model_dir / "transformer",
                hint=f"use the model {other} for this folder, or point model_dir at a {want.upper()} download")

    def settings_for(self, request: GenerationRequest, **geometry) -> TI2VSettings:
        per_request = self.capabilities.request_params
        unknown = set(request.params) - per_request
        if unknown:
            raise UserError(f"{self.name} cannot change {sorted(unknown)} per request",
                            hint=f"per-request parameters are {sorted(per_request)}")
        return dataclasses.replace(self.defaults, seed=int(request.seed), **request.params,
                                   **geometry)

    def _dtype(self, device: torch.device) -> torch.dtype:
        if self.dtype_name == "auto":
            # bf16 is what the model was released and tuned in; CPUs run fp32 far faster.
            return torch.bfloat16 if device.type == "cuda" else torch.float32
        return parse_dtype(self.dtype_name)

    def plan(self, settings: TI2VSettings, device: torch.device | None = None,
             dtype: torch.dtype | None = None) -> memory.MemoryPlan:
        cfg = self.config
        dev = device or self.parallel.device
        dtype = dtype or (self.pipeline.dtype if self.pipeline else self._dtype(dev))
        unit = cfg.vae.spatial_compression * cfg.dit.patch_size
        geo = resolve_geometry(settings.frames, settings.height, settings.width,
                               spatial_unit=unit, spatial_compression=cfg.vae.spatial_compression)
        return memory.plan_memory(
            cfg, latent_shape=geo.latent_shape, steps=settings.steps,
            guidance=uses_guidance(settings.cfg_scale), dtype=dtype, sp_degree=self.sp_degree,
            cfg_degree=self.cfg_degree, free_bytes=memory.free_memory(dev), device=str(dev),
            vae_tile=settings.vae_tile, text_on_cpu=self.text_on_cpu)

    def _plan_offload(self, dev: torch.device, dtype: torch.dtype) -> str:
        """Plan for the default video before loading: pick the offload mode, or refuse clearly."""
        h, w = self.capabilities.sizes[0] if self.capabilities.sizes else (544, 992)
        settings = dataclasses.replace(self.defaults, height=h, width=w,
                                       frames=self.capabilities.frame_counts[0])
        plan = self.plan(settings, dev, dtype)
        mode = memory.choose_offload(plan, self.offload_request)
        self._show(plan)
        return mode

    def _check_fits(self, settings: TI2VSettings) -> None:
        plan = self.plan(settings)
        if not plan.fits(self.pipeline.offload):
            memory.choose_offload(plan, self.pipeline.offload)  # raises the clear error

    def _show(self, plan: memory.MemoryPlan) -> None:
        self.plans.append(plan)
        if self.verbose and self.parallel.global_rank == 0:
            from rich.console import Console  # noqa: PLC0415

            Console(stderr=True).print(plan.render(), markup=False, highlight=False)


T2V_UNUSED = frozenset({"motion_score", "image_latent", "guidance"})  # no image, no motion embedder


def generator_for(model_dir: str | Path) -> type["StepVideoTI2V"]:
    """The generator class for a hub-layout folder, by what its DiT was built for."""
    return StepVideoT2V if checkpoint_task(model_dir) == T2V else StepVideoTI2V


class StepVideoT2V(StepVideoTI2V):
    """Step-Video-T2V: a prompt alone -> video (its official settings are the defaults)."""

    name = "stepvideo-t2v"
    unused_settings = T2V_UNUSED
    capabilities = Capabilities(
        sizes=NATIVE_SIZES, frame_counts=(204, 102, 17), fps=25.0, request_params=PER_REQUEST - T2V_UNUSED,
        tasks=frozenset({T2V}),
        notes="official preset; sizes=/frame_counts=/fps= change it; frames multiples of 17, "
              "sizes floored to multiples of 16")

    def __init__(self, model_dir: str | Path | None = None, *, dtype: str = "auto",
                 offload: str = "auto", text_on_cpu: bool = False, sp_degree: int = 1,
                 cfg_degree: int = 1, sizes: tuple[tuple[int, int], ...] | None = None,
                 frame_counts: tuple[int, ...] | None = None, fps: float | None = None,
                 steps: int = 50, cfg_scale: float = 9.0, time_shift: float = 13.0,
                 negative_prompt: str | None = None, magic_prompts: bool = True,
                 official_crop: bool = False, vae_tile: int | None = None, numerics: str = "stepeval",
                 verbose: bool = True):
        if model_dir is None:
            raise UserError(f"{self.name} needs model_dir, the folder of the downloaded Step-Video-T2V "
                            "weights (hub layout: transformer/, vae/, step_llm/, hunyuan_clip/)",
                            hint=f"pass --set model_dir=/path/to/{self.name}")
        super().__init__(model_dir, dtype=dtype, offload=offload, text_on_cpu=text_on_cpu,
                         sp_degree=sp_degree, cfg_degree=cfg_degree, sizes=sizes,
                         frame_counts=frame_counts, fps=fps, steps=steps, cfg_scale=cfg_scale,
                         time_shift=time_shift, negative_prompt=negative_prompt,
                         magic_prompts=magic_prompts, official_crop=official_crop,
                         vae_tile=vae_tile, numerics=numerics, verbose=verbose)


class StepVideoT2VTurbo(StepVideoT2V):
    """Step-Video-T2V-Turbo: the step-distilled T2V weights with their recommended settings
    (10-15 steps, cfg 5, shift 17); the same network and checkpoint layout."""

    name = "stepvideo-t2v-turbo"
    capabilities = StepVideoT2V.capabilities

    def __init__(self, model_dir: str | Path | None = None, *, steps: int = 15, cfg_scale: float = 5.0,
                 time_shift: float = 17.0, **kwargs):
        super().__init__(model_dir, steps=steps, cfg_scale=cfg_scale, time_shift=time_shift, **kwargs)


__all__ = ["NATIVE_SIZES", "generator_for", "StepVideoT2V", "StepVideoT2VTurbo", "StepVideoTI2V"]

"""StepVideoPipeline: prompt (+ first image) -> video frames, on one process or an sp x cfg grid.

One pipeline serves both released models; the DiT's config says which it is (`DiTConfig.task`):
Step-Video-TI2V takes a prompt and a first image, Step-Video-T2V a prompt alone (no VAE encode,
no image latent, no motion score, its own magic prompts).

Stages (each timed): text encode -> VAE encode of the first image (TI2V) -> flow-matching denoise ->
VAE decode (optionally tiled) -> clamp, uint8, optional official 540x960 centre crop. Writing the
mp4 is left to the caller (the generation runner, or `parallel_run`), on global rank 0 only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from stepeval.benchmark.items import T2V, TI2V
from stepeval.errors import UserError

from . import conditioning, image_conditioning, memory, sampler
from .text_conditioner import MAGIC_PROMPTS, cfg_prompts
from .vae import official_norm_rounding as vae_numerics
from .parallel import SINGLE, ParallelState, cfg_gather, check_degrees, sequence_parallel_forward

log = logging.getLogger("stepeval.stepvideo")

OFFICIAL_CROP = (540, 960)  # landscape (height, width); portrait is the transpose


@dataclass
class TI2VSettings:
    """Everything one video depends on besides the prompt and the image. Defaults are official
    (Step-Video-TI2V's; a T2V generator sets its own). A T2V model ignores motion_score,
    image_latent and guidance: it has no image and no motion embedder."""

    frames: int = 102
    height: int = 544
    width: int = 992
    fps: float = 25.0
    steps: int = 50
    cfg_scale: float = 9.0
    time_shift: float = 13.0
    motion_score: float = 5.0
    seed: int = 1234
    negative_prompt: str | None = None  # None: the official negative magic prompt
    magic_prompts: bool = True
    official_crop: bool = False
    vae_tile: int | None = None  # decode (and encode) in spatial tiles of this many pixels
    image_latent: str = "sample"  # "sample" (official: posterior sample) or "mean"
    # What the unconditional branch drops (image_conditioning.GUIDANCE): "text" (official) or
    # "joint" (the text and the image together; the model must have been trained for it)
    guidance: str = "text"
    # "stepeval" or "official" (sampler.NUMERICS): "official" mirrors the upstream code's casts (fp32
    # sigma grid, guidance combined in the model dtype, noise, image latent and VAE GroupNorm outputs
    # rounded through bf16) to compare with an official run bit for bit
    numerics: str = "stepeval"

    def validated(self, spatial_unit: int = 16, spatial_compression: int = 16
                  ) -> tuple["TI2VSettings", conditioning.VideoGeometry]:
        sampler.check_steps(self.steps)
        sampler.check_shift(self.time_shift)
        sampler.check_cfg_scale(self.cfg_scale)
        conditioning.check_motion_score(self.motion_score)
        conditioning.check_fps(self.fps)
        image_conditioning.check_guidance(self.guidance)
        sampler.check_numerics(self.numerics)
        if self.image_latent not in ("sample", "mean"):
            raise UserError(f"image_latent must be 'sample' or 'mean', got {self.image_latent!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise UserError(f"seed must be an integer, got {self.seed!r}")
        geo = conditioning.resolve_geometry(self.frames, self.height, self.width,
                                            spatial_unit=spatial_unit,
                                            spatial_compression=spatial_compression)
        return TI2VSettings(**{**asdict(self), "height": geo.height, "width": geo.width}), geo

    def prompts(self, prompt: str, task: str = TI2V) -> tuple[str, str]:
        """(cond, uncond) exactly as upstream builds them when magic prompts are on, with the magic
        prompts of the `task`'s official pipeline."""
        pos, neg = MAGIC_PROMPTS[task]
        cond, uncond = cfg_prompts([prompt], self.negative_prompt, self.magic_prompts, pos, neg)
        return cond, uncond


@dataclass
class PipelineOutput:
    frames: np.ndarray | None  # uint8 T x H x W x 3 on the writer rank, None elsewhere
    latents: torch.Tensor  # fp32 [1, F, C, h, w] (every rank)
    timings: dict[str, float]
    geometry: conditioning.VideoGeometry
    settings: TI2VSettings
    notes: list[str] = field(default_factory=list)


TextEncodeFn = Callable[[list[str]], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


class StepVideoPipeline:
    """The networks plus where they run. Reused across videos: weights are loaded once.

    `encode_text(prompts) -> (y [B, L, d_llm], y_mask [B, 77 + L], clip [B, 77, d_clip])` is the
    text conditioner (Step-LLM + HunyuanCLIP, or a preset's own); `text_module` is the nn.Module
    behind it, moved for offload. The DiT's dtype is the model dtype of the denoiser.
    """

    def __init__(self, dit, vae, encode_text: TextEncodeFn, *, text_module=None,
                 device: str | torch.device = "cpu", parallel: ParallelState = SINGLE,
                 offload: str = "none", text_on_cpu: bool = False):
        self.dit, self.vae, self.encode_text = dit.eval(), vae.eval(), encode_text
        self.text_module = text_module
        self.device = torch.device(device)
        self.parallel = parallel
        if offload not in ("none", "model", "blocks"):
            raise UserError(f"offload must be none, model or blocks here, got {offload!r}",
                            hint="'auto' is resolved by the memory plan before the pipeline is built")
        self.offload = offload
        self.text_on_cpu = text_on_cpu
        self._streamer = None
        self.last_output: PipelineOutput | None = None
        self._place()

    # -- placement -----------------------------------------------------------------------------
    def _place(self) -> None:
        offloaded = self.offload != "none"
        home = torch.device("cpu") if offloaded else self.device
        self.vae.to(home)
        if self.text_module is not None:
            self.text_module.to("cpu" if (self.text_on_cpu or offloaded) else self.device)
        if self.offload == "blocks":
            self._streamer = memory.BlockStreamer(self.dit, self.device)
        else:
            self.dit.to(home)

    @property
    def dtype(self) -> torch.dtype:
        return self.dit.pos_embed.proj.weight.dtype

    @property
    def task(self) -> str:
        """"ti2v" or "t2v": what the DiT was built for."""
        return self.dit.config.task

    @property
    def spatial_unit(self) -> int:
        return self.vae.config.spatial_compression * self.dit.config.patch_size

    # -- stages --------------------------------------------------------------------------------
    def _text(self, prompts: list[str]):
        if self.text_module is None or self.text_on_cpu:
            y, mask, clip = self.encode_text(prompts)
        else:
            with memory.on_device(self.text_module, self.device, self.offload != "none"):
                y, mask, clip = self.encode_text(prompts)
        return y.to(self.device), mask.to(self.device), clip.to(self.device)

    def _velocity(self, text, image_latent, noise, settings: TI2VSettings) -> sampler.VelocityFn:
        """The guided velocity for this rank: batched CFG, CFG split over two ranks, or cond only.
        Text row 0 is the conditional prompt, row 1 the unconditional one; with joint guidance the
        unconditional row also goes without the image (image_conditioning)."""
        y, mask, clip = text
        state, scale = self.parallel, settings.cfg_scale
        mode = self.dit.config.image_conditioning
        joint = settings.guidance == "joint"

        def predict(x: torch.Tensor, t: torch.Tensor, rows: slice) -> torch.Tensor:
            if image_latent is None:  # text-to-video: the noisy latent is the whole input
                hidden, cond = x, None
            else:
                with_image = torch.tensor([not (joint and r == 1) for r in range(rows.start, rows.stop)])
                hidden, cond = image_conditioning.branch_inputs(x, image_latent, mode, with_image)
            return sequence_parallel_forward(
                self.dit, state, hidden_states=hidden, encoder_hidden_states=y[rows],
                encoder_hidden_states_2=clip[rows], timestep=t, encoder_attention_mask=mask[rows],
                motion_score=settings.motion_score, condition_hidden_states=cond)

        def guided(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            if not sampler.uses_guidance(scale):
                return predict(x, t, slice(0, 1)).float()  # text batch holds the cond prompt only
            if state.cfg_degree == 2:
                r = state.cfg_rank
                v_cond, v_uncond = cfg_gather(predict(x, t, slice(r, r + 1)), state)
            else:
                v_cond, v_uncond = predict(torch.cat([x, x]), t, slice(0, 2)).chunk(2)
            return sampler.guided(v_cond, v_uncond, scale, settings.numerics)

        if image_latent is None:
            return guided

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return image_conditioning.pin_first_frame(guided(x, t), image_latent, noise, mode)

        return velocity

    @torch.no_grad()
    def __call__(self, prompt: str, image_path: str | Path | None, settings: TI2VSettings,
                 progress: sampler.StepCallback | None = None, decode: bool = True
                 ) -> PipelineOutput:
        """One video. `decode=False` stops after denoising (latents only, e.g. for comparisons).
        `image_path` is the first frame of a TI2V model and must be None for a T2V one."""
        self._check_image(image_path)
        settings, geo = settings.validated(self.spatial_unit, self.vae.config.spatial_compression)
        check_degrees(self.parallel.sp_degree, self.parallel.cfg_degree, self.parallel.world_size,
                      self.dit.config.num_attention_heads, sampler.uses_guidance(settings.cfg_scale))
        notes = list(geo.notes)
        for n in notes:
            log.warning(n)
        crop = self._crop_size(geo) if settings.official_crop else None
        timings: dict[str, float] = {}
        guidance = sampler.uses_guidance(settings.cfg_scale)
        dev = self.device

        official = settings.numerics == sampler.OFFICIAL
        t0 = time.perf_counter()
        cond, uncond = settings.prompts(prompt, self.task)
        text = self._text([cond, uncond] if guidance else [cond])
        timings["text_encode"] = time.perf_counter() - t0

        image_latent = None
        if image_path is not None:
            t0 = time.perf_counter()
            first = conditioning.load_first_frame(image_path, geo.height, geo.width)
            # Separate seeded streams for the posterior sample and the initial noise, so either can
            # change (e.g. use_mean) without shifting the other.
            post_gen = torch.Generator("cpu").manual_seed(int(settings.seed) + 1)
            with memory.on_device(self.vae, dev, self.offload != "none"), vae_numerics(official):
                image_latent = conditioning.image_latent(
                    self.vae, first.to(dev), generator=post_gen,
                    use_mean=settings.image_latent == "mean", tile_size=settings.vae_tile).to(dev)
            if official:  # upstream hands the DiT the image latent in bf16 whatever the run's dtype
                image_latent = image_latent.to(torch.bfloat16).float()
            timings["vae_encode"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        shape = (1, geo.latent_frames, self.dit.config.in_channels, geo.latent_height,
                 geo.latent_width)
        noise = sampler.initial_noise(shape, settings.seed, self.dtype, dev, settings.numerics)
        sigmas = sampler.flow_sigmas(settings.steps, settings.time_shift,
                                     torch.float32 if official else torch.float64)
        velocity = self._velocity(text, image_latent, noise, settings)
        dit_offloaded = self.offload == "model"
        with memory.on_device(self.dit, dev, dit_offloaded):
            latents = sampler.euler_sample(velocity, noise, sigmas, self.dtype, progress)
        timings["denoise"] = time.perf_counter() - t0

        frames = None
        if decode and self.parallel.is_writer:
            t0 = time.perf_counter()
            with memory.on_device(self.vae, dev, self.offload != "none"), vae_numerics(official):
                video = self.vae.decode(latents.to(self.vae.dtype), tile_size=settings.vae_tile)
            frames = to_uint8(video[0])
            if crop is not None:
                frames = center_crop(frames, *crop)
            timings["decode"] = time.perf_counter() - t0
        self.last_output = PipelineOutput(frames, latents, timings, geo, settings, notes)
        return self.last_output

    def _check_image(self, image_path) -> None:
        if self.task == T2V and image_path is not None:
            raise UserError("this Step-Video model is text-to-video (its DiT has no image channels): "
                            "it takes no first image", path=image_path,
                            hint="drop the image, or use a Step-Video-TI2V checkpoint (stepvideo-ti2v)")
        if self.task == TI2V and image_path is None:
            raise UserError("this Step-Video model is text-image-to-video: it needs a first image",
                            hint="give the item an image, or use a Step-Video-T2V checkpoint (stepvideo-t2v)")

    @staticmethod
    def _crop_size(geo: conditioning.VideoGeometry) -> tuple[int, int] | None:
        """Upstream crops landscape to 540x960 and portrait to 960x540; square stays as is."""
        if geo.height == geo.width:
            return None
        ch, cw = OFFICIAL_CROP if geo.width > geo.height else OFFICIAL_CROP[::-1]
        if geo.height < ch or geo.width < cw:
            raise UserError(f"official_crop needs a video of at least {ch}x{cw}, got "
                            f"{geo.height}x{geo.width}",
                            hint="turn official_crop off, or ask for the official 544x992")
        return ch, cw


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """[T, 3, H, W] in about [-1, 1] -> uint8 [T, H, W, 3]: clamp, (x+1)*127.5, truncate (official)."""
    x = ((video.float().clamp(-1, 1) + 1.0) * 127.5).to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def center_crop(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    h, w = frames.shape[1:3]
    top, left = (h - height) // 2, (w - width) // 2
    return np.ascontiguousarray(frames[:, top:top + height, left:left + width])

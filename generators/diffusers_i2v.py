"""diffusers video pipelines behind the Generator protocol (optional extra: `pip install -e .[diffusers]`).

One implementation, `DiffusersVideo`, drives any diffusers image-to-video or text-to-video pipeline
class: the model `diffusers` names the class in its params, so a new model needs no code

    models:
      - name: diffusers
        params: {pipeline_class: WanImageToVideoPipeline, model: /models/Wan2.1-I2V-14B-480P-Diffusers,
                 height: 480, width: 832, num_frames: 81, fps: 16}
        tag: wan2.1-480p

and the presets below are the same class with a model's native settings filled in:

    wan2.1-i2v          WanImageToVideoPipeline          480x832 buckets, 81 frames, 16 fps
    wan2.2-i2v-a14b     WanImageToVideoPipeline          720x1280 buckets, 81 frames, 16 fps, 40 steps,
                                                         guidance 3.5 (two transformers, boundary_ratio)
    wan2.2-ti2v-5b      WanImageToVideoPipeline          704x1280 buckets, 121 frames, 24 fps, 50 steps,
                                                         guidance 5.0 (Wan 2.2 VAE, expand_timesteps)
    hunyuanvideo-i2v    HunyuanVideoImageToVideoPipeline 720x1280 buckets, 129 frames, 24 fps
    cogvideox-i2v       CogVideoXImageToVideoPipeline    480x720, 49 frames, 8 fps
    ltx-video-i2v       LTXImageToVideoPipeline          480x704 buckets, 161 frames, 24 fps

and their text-to-video halves (a prompt alone; the first native size, landscape, unless asked):

    wan2.1-t2v          WanPipeline                      720x1280 (also 480x832), 81 frames, 16 fps
    wan2.2-t2v-a14b     WanPipeline                      720x1280, 81 frames, 16 fps, 40 steps,
                                                         guidance 4.0 high noise / 3.0 low noise
    hunyuanvideo-t2v    HunyuanVideoPipeline             720x1280, 129 frames, 24 fps
    cogvideox-t2v       CogVideoXPipeline                480x720, 49 frames, 8 fps
    ltx-video-t2v       LTXPipeline                      480x704, 161 frames, 24 fps

The request is bound onto the class's `__call__` by reading its signature (generators.diffusers_call):
a pipeline that cannot take what the request needs (an image, a size, a seed) is refused with the
class, the argument and the fix. Each preset maps the request to its model's native size (the bucket
closest to the input image's aspect ratio: VBench-I2V's adaptive aspect ratio), frame count and fps;
the generic one uses the params, else the defaults its `__call__` states. The image is prepared by
stepeval.images (resize to cover + centre crop), so every model sees the same pixels for a size.
`model` is a local diffusers folder or a Hub id (weights are never fetched by stepeval itself:
diffusers' own from_pretrained does, where the network allows). `num_inference_steps` and
`guidance_scale` may be swept without reloading. `context_parallel` splits one video over the ranks
of a sequence-parallel group (generators.diffusers_parallel).
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from generators.diffusers_call import CallSignature
from generators.diffusers_parallel import ContextParallel
from stepeval.benchmark.items import T2V, TI2V
from stepeval.errors import UserError
from stepeval.generation.protocol import Capabilities, GenerationRequest, GenerationResult
from stepeval.images import prepare_image

_DTYPES = ("float32", "bfloat16", "float16")
# What a sweep may vary per request without reloading the pipeline (read in `call_values`).
SAMPLING_PARAMS = frozenset({"num_inference_steps", "guidance_scale"})
# What every request fixes, so a pipeline that cannot take one of them is refused at load.
NEEDED_ROLES = ("prompt", "height", "width", "num_frames", "num_inference_steps", "generator")
# The Wan team's default negative prompt (shared_config.sample_neg_prompt of Wan-Video/Wan2.2,
# wan/configs/shared_config.py), used by their generate.py for every Wan 2.2 task.
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，丑陋的，残缺的，"
    "多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)


def _diffusers():
    try:
        import diffusers
    except ImportError as exc:
        raise UserError("the diffusers adapters need diffusers", hint="pip install -e .[diffusers]") from exc
    return diffusers


def pipeline_class_named(name: str) -> type:
    """The diffusers pipeline class called `name`, or a UserError naming the closest ones."""
    diffusers = _diffusers()
    cls = getattr(diffusers, name, None) if name and name.isidentifier() else None
    if not isinstance(cls, type) or not issubclass(cls, diffusers.DiffusionPipeline):
        known = [n for n in dir(diffusers) if n.endswith("Pipeline")]
        close = difflib.get_close_matches(name or "", known, n=3, cutoff=0.6)
        raise UserError(
            f"diffusers {diffusers.__version__} has no pipeline class {name!r}",
            hint=f"did you mean {', '.join(close)}?" if close else "give pipeline_class as diffusers spells it, e.g. WanImageToVideoPipeline, "
            "CogVideoXImageToVideoPipeline, LTXImageToVideoPipeline, WanPipeline (the _class_name in the model folder's model_index.json)",
        )
    return cls


class DiffusersVideo:
    """A diffusers video pipeline; presets fill the class attributes, `diffusers` takes them as params."""

    name = "diffusers-video"
    pipeline_class = ""
    default_model = ""
    default_steps = 50
    default_guidance: float | None = 5.0
    default_negative_prompt: str | None = None
    # Further __call__ arguments a preset fixes (a user's call_kwargs override them)
    default_call_kwargs: dict[str, Any] = {}
    capabilities = Capabilities(request_params=SAMPLING_PARAMS)

    def __init__(
        self,
        model: str | None = None,
        dtype: str = "bfloat16",
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        negative_prompt: str | None = None,
        height: int | None = None,
        width: int | None = None,
        num_frames: int | None = None,
        fps: float | None = None,
        cpu_offload: bool = False,
        context_parallel: dict[str, int] | str | None = None,
        attention_backend: str | None = None,
        pipeline: Any = None,
        call_kwargs: dict | None = None,
    ):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
        if (height is None) != (width is None):
            raise ValueError("give both height and width, or neither")
        self.model = model or self.default_model
        self.dtype = dtype
        self.num_inference_steps = num_inference_steps or self.default_steps
        self.guidance_scale = self.default_guidance if guidance_scale is None else guidance_scale
        self.negative_prompt = self.default_negative_prompt if negative_prompt is None else negative_prompt
        self.height, self.width, self.num_frames = height, width, num_frames
        self.fps = fps
        self.cpu_offload = cpu_offload
        self.context_parallel = ContextParallel.parse(context_parallel)
        self.attention_backend = attention_backend
        self.pipe = pipeline  # a ready pipeline object (tests, notebooks); else loaded from `model`
        self.call_kwargs = {**self.default_call_kwargs, **(call_kwargs or {})}  # anything else the pipeline's __call__ takes
        self.device = "cpu"
        self._signature: CallSignature | None = None
        if fps is not None:
            self.capabilities = type(self).capabilities.refine(fps=fps)

    @property
    def parameters(self) -> dict:
        params = {
            "model": self.model, "dtype": self.dtype, "num_inference_steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale, "negative_prompt": self.negative_prompt,
            "height": self.height, "width": self.width, "num_frames": self.num_frames, "call_kwargs": self.call_kwargs,
        }  # fmt: skip
        if self.fps is not None:
            params["fps"] = self.fps
        if self.context_parallel is not None:
            params["context_parallel"] = self.context_parallel.to_dict()
        if type(self).pipeline_class != self.pipeline_class:  # the generic adapter: say which class ran
            params["pipeline_class"] = self.pipeline_class
        return params

    # -- the pipeline class and its __call__ ------------------------------------------------------

    def pipeline_type(self) -> type:
        if self.pipe is not None:
            return type(self.pipe)
        return pipeline_class_named(self.pipeline_class)

    @property
    def signature(self) -> CallSignature:
        if self._signature is None:
            self._signature = CallSignature.of(self.pipeline_type())
            self._signature.check_extra(self.call_kwargs)
        return self._signature

    # -- loading ---------------------------------------------------------------------------------

    def load(self, device: str) -> None:
        import torch

        _diffusers()
        self.device = device
        sig = self.signature  # an unknown class or call_kwargs argument is refused before any weights are read
        for role in NEEDED_ROLES:
            if not sig.takes(role) and not sig.takes_any:
                raise sig.refuse(role)
        if self.negative_prompt is not None and not sig.takes("negative_prompt"):
            raise sig.refuse("negative_prompt")
        if self.guidance_scale is not None and not sig.takes("guidance_scale"):
            raise sig.refuse("guidance_scale")
        if self.context_parallel is not None:  # before any weights are read: the group and the device
            from generators.diffusers_parallel import check_placement
            from stepeval.generation import distributed

            ctx = distributed.current()
            check_placement(self.context_parallel, device, ctx.sp_degree, ctx.world_size)
        if self.pipe is None:
            if not self.model:
                raise UserError(f"model {self.name!r} needs the diffusers folder of {self.pipeline_class}",
                                hint="pass model=PATH (a downloaded diffusers folder, the one with model_index.json) or a Hub id")
            cls = self.pipeline_type()
            try:
                self.pipe = cls.from_pretrained(self.model, torch_dtype=getattr(torch, self.dtype))
            except (OSError, ValueError) as exc:
                raise UserError(
                    f"cannot load {self.pipeline_class} from {self.model!r} ({exc})",
                    path=self.model if Path(self.model).exists() else None,
                    hint="pass model=PATH to a downloaded diffusers folder (e.g. --set model=/models/wan --tag wan2.1)",
                ) from exc
        self.check_layout(self.pipe)
        if self.cpu_offload and device.startswith("cuda") and self.context_parallel is None:
            self.pipe.enable_model_cpu_offload()
        else:
            self.pipe.to(device)
        if self.context_parallel is not None:  # on the rank's device first: diffusers' hooks split tensors where they live
            self._apply_context_parallel(device)
        self.pipe.set_progress_bar_config(disable=True)

    def check_layout(self, pipe: Any) -> None:
        """A preset whose model has a particular layout refuses a folder of another one."""

    def _apply_context_parallel(self, device: str) -> None:
        from generators import diffusers_parallel
        from stepeval.generation import distributed

        ctx = distributed.current()
        diffusers_parallel.apply(self.pipe, self.context_parallel, device=device, sp_degree=ctx.sp_degree, world_size=ctx.world_size,
                                 pipeline_class=self.pipeline_class, attention_backend=self.attention_backend)  # fmt: skip

    # -- one video -------------------------------------------------------------------------------

    def resolve(self, request: GenerationRequest) -> tuple[int, int, int, float]:
        filled = dataclasses.replace(
            request, height=request.height or self.height, width=request.width or self.width, num_frames=request.num_frames or self.num_frames
        )
        return self.capabilities.resolve(filled)

    def call_values(self, request: GenerationRequest, image: Image.Image | None, height: int, width: int, frames: int, fps: float) -> dict:
        """The request by role (generators.diffusers_call.ROLES); None leaves a role to the pipeline."""
        import torch

        sig = self.signature
        generator_device = "cpu" if not self.device.startswith("cuda") else self.device
        frame_rate: float | int = fps
        if isinstance(sig.default("fps"), int):  # LTX's frame_rate is an int
            frame_rate = int(round(fps))
        return {
            "prompt": request.prompt, "image": image, "negative_prompt": self.negative_prompt,
            "height": height, "width": width, "num_frames": frames,
            "num_inference_steps": None if (n := request.params.get("num_inference_steps", self.num_inference_steps)) is None else int(n),
            "guidance_scale": None if (g := request.params.get("guidance_scale", self.guidance_scale)) is None else float(g),
            "generator": torch.Generator(generator_device).manual_seed(request.seed),
            "fps": frame_rate, "output_type": "np",
        }  # fmt: skip

    def generate(self, request: GenerationRequest) -> GenerationResult:
        sig = self.signature
        height, width, frames, fps = self.resolve(request)
        image = None
        if request.image_path is not None:
            if not sig.takes("image"):
                raise sig.refuse("image")
            image = Image.fromarray(prepare_image(request.image_path, height, width))
        elif sig.requires("image"):
            raise UserError(
                f"{self.pipeline_class} needs an input image (its __call__ requires `image`), and item {request.item_id!r} has none",
                hint="choose a text-to-video pipeline class for a text-only benchmark, or give this one a stand-in first frame "
                "on purpose with --task ti2v --placeholder-images",
            )
        out = self.pipe(**sig.bind(self.call_values(request, image, height, width, frames, fps), self.call_kwargs))
        return GenerationResult(frames=_video_array(out), fps=fps, info={"height": height, "width": width})


def _video_array(out: Any) -> np.ndarray:
    """The first video of a pipeline output (np array in [0, 1], PIL frames or a tensor) as uint8 T x H x W x 3."""
    frames = out.frames if hasattr(out, "frames") else out[0]
    video = frames[0]
    if hasattr(video, "detach"):  # a torch tensor
        video = video.detach().float().cpu().numpy()
    if isinstance(video, list):
        video = np.stack([np.asarray(f.convert("RGB") if hasattr(f, "convert") else f) for f in video])
    video = np.asarray(video)
    if video.dtype != np.uint8:
        video = np.clip(np.rint(video.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    return video


DiffusersI2V = DiffusersVideo  # the name the presets had before the generic adapter


class DiffusersPipeline(DiffusersVideo):
    """Any diffusers image-to-video or text-to-video pipeline class, named in the params.

    Size and frame count come from the params, else from the defaults its `__call__` states (Wan:
    480x832, 81 frames); fps from the params (else 16). It serves both tasks: an item with an image
    needs a class that takes `image`, a text-only item one that does not require it."""

    name = "diffusers"
    capabilities = Capabilities(
        fps=16.0, request_params=SAMPLING_PARAMS, tasks=frozenset({TI2V, T2V}),
        notes="any diffusers I2V/T2V pipeline (params: pipeline_class, model); size and frames from params or the pipeline's defaults",
    )  # fmt: skip

    def __init__(self, pipeline_class: str, model: str | None = None, num_inference_steps: int | None = None,
                 guidance_scale: float | None = None, **kwargs: Any):
        self.pipeline_class = pipeline_class
        # None leaves steps and guidance to the pipeline's own defaults, as its authors tuned them.
        self.default_guidance = self.default_steps = None
        super().__init__(model=model, num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, **kwargs)

    def resolve(self, request: GenerationRequest) -> tuple[int, int, int, float]:
        sig = self.signature
        height = request.height or self.height or sig.default("height")
        width = request.width or self.width or sig.default("width")
        frames = request.num_frames or self.num_frames or sig.default("num_frames")
        for role, value in (("height", height), ("width", width), ("num_frames", frames)):
            if not isinstance(value, int):
                raise UserError(
                    f"{self.pipeline_class}.__call__ states no default {role} (it computes one from the loaded weights), "
                    f"so the harness cannot fix the video's {'frame count' if role == 'num_frames' else 'size'}",
                    hint="give the model height, width and num_frames in its params (e.g. --set height=480 --set width=720 --set num_frames=49)",
                )
        return int(height), int(width), int(frames), float(request.fps or self.capabilities.fps)


class WanI2V(DiffusersVideo):
    name = "wan2.1-i2v"
    pipeline_class = "WanImageToVideoPipeline"
    default_model = "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers"
    default_guidance = 5.0
    # 480p model: about 480x832 pixels in any aspect, sides multiples of 16 (VAE 8 x patch 2).
    capabilities = Capabilities(sizes=((480, 832), (832, 480), (624, 624)), frame_counts=(81,), fps=16.0,
                                request_params=SAMPLING_PARAMS, notes="diffusers; frames 4k+1")  # fmt: skip


# Wan 2.2 settings are the Wan team's own (Wan-Video/Wan2.2, wan/configs/: wan_i2v_A14B.py,
# wan_ti2v_5B.py, shared_config.py and SUPPORTED_SIZES in __init__.py; read in their copy at
# ml-explore/mlx-examples video/Wan2.2/wan/configs/). The square bucket keeps the area of the
# landscape one, rounded down to the model's size multiple, as their max_area sizing does.


class Wan22I2VA14B(DiffusersVideo):
    """Wan 2.2 I2V A14B: a high-noise and a low-noise 14B transformer (`transformer`, `transformer_2`),
    switched at `boundary_ratio` (0.900 in its model_index.json) of the 1000 training timesteps.
    40 steps, guidance (3.5, 3.5): diffusers' guidance_scale_2 defaults to guidance_scale, so one
    value sweeps both. 720p (also trained at 480p: --set height=480 --set width=832)."""

    name = "wan2.2-i2v-a14b"
    one_transformer = "wan2.1-i2v"  # what to use for a folder without the two experts
    pipeline_class = "WanImageToVideoPipeline"
    default_model = "Wan-AI/Wan2.2-I2V-A14B-Diffusers"
    default_steps = 40
    default_guidance = 3.5
    default_negative_prompt = WAN_NEGATIVE_PROMPT
    capabilities = Capabilities(sizes=((720, 1280), (1280, 720), (960, 960)), frame_counts=(81,), fps=16.0,
                                request_params=SAMPLING_PARAMS, notes="diffusers; two transformers (MoE), frames 4k+1")  # fmt: skip

    def check_layout(self, pipe: Any) -> None:
        if getattr(pipe, "transformer_2", None) is None or pipe.config.get("boundary_ratio") is None:
            raise UserError(
                f"{self.model!r} is not a Wan 2.2 A14B folder: it has no transformer_2 / boundary_ratio (high- and low-noise experts)",
                path=self.model if Path(str(self.model)).exists() else None,
                hint=f"point model= at {self.default_model}, or use {self.one_transformer} (or `diffusers`) for a one-transformer Wan",
            )


class Wan22TI2V5B(DiffusersVideo):
    """Wan 2.2 TI2V 5B: one 5B transformer over the Wan 2.2 VAE (16x16x4 compression, 48 latent
    channels), the image as the first latent frame (`expand_timesteps`). 704x1280, 121 frames at 24 fps,
    50 steps, guidance 5.0."""

    name = "wan2.2-ti2v-5b"
    pipeline_class = "WanImageToVideoPipeline"
    default_model = "Wan-AI/Wan2.2-TI2V-5B-Diffusers"
    default_steps = 50
    default_guidance = 5.0
    default_negative_prompt = WAN_NEGATIVE_PROMPT
    # Sides multiples of 32 (VAE 16 x patch 2).
    capabilities = Capabilities(sizes=((704, 1280), (1280, 704), (928, 928)), frame_counts=(121,), fps=24.0,
                                request_params=SAMPLING_PARAMS, notes="diffusers; Wan 2.2 VAE, frames 4k+1")  # fmt: skip

    def check_layout(self, pipe: Any) -> None:
        if not pipe.config.get("expand_timesteps"):
            raise UserError(
                f"{self.model!r} is not a Wan 2.2 TI2V-5B folder: its model_index.json does not set expand_timesteps",
                path=self.model if Path(str(self.model)).exists() else None,
                hint="point model= at Wan-AI/Wan2.2-TI2V-5B-Diffusers",
            )


class HunyuanVideoI2V(DiffusersVideo):
    name = "hunyuanvideo-i2v"
    pipeline_class = "HunyuanVideoImageToVideoPipeline"
    default_model = "hunyuanvideo-community/HunyuanVideo-I2V"
    default_guidance = 1.0  # embedded guidance model; true CFG off
    capabilities = Capabilities(sizes=((720, 1280), (1280, 720), (960, 960)), frame_counts=(129,), fps=24.0,
                                request_params=SAMPLING_PARAMS, notes="diffusers; frames 4k+1")  # fmt: skip


class CogVideoXI2V(DiffusersVideo):
    name = "cogvideox-i2v"
    pipeline_class = "CogVideoXImageToVideoPipeline"
    default_model = "THUDM/CogVideoX-5b-I2V"
    default_guidance = 6.0
    # CogVideoX-5b-I2V is trained at 720x480 only.
    capabilities = Capabilities(sizes=((480, 720),), frame_counts=(49,), fps=8.0,
                                request_params=SAMPLING_PARAMS, notes="diffusers; 720x480 only")  # fmt: skip


class LTXVideoI2V(DiffusersVideo):
    name = "ltx-video-i2v"
    pipeline_class = "LTXImageToVideoPipeline"
    default_model = "Lightricks/LTX-Video"
    default_guidance = 3.0
    # Sides multiples of 32, frames 8k+1; its __call__ takes the fps as `frame_rate`.
    capabilities = Capabilities(sizes=((480, 704), (704, 480), (576, 576)), frame_counts=(161,), fps=24.0,
                                request_params=SAMPLING_PARAMS, notes="diffusers; frames 8k+1")  # fmt: skip


# Text-to-video halves of the same families: the same adapter with a class that takes no image, the
# family's T2V weights and its native settings (Wan 2.2: wan/configs/wan_t2v_A14B.py, as above).

_T2V = frozenset({T2V})


class WanT2V(DiffusersVideo):
    name = "wan2.1-t2v"
    pipeline_class = "WanPipeline"
    default_model = "Wan-AI/Wan2.1-T2V-14B-Diffusers"
    default_guidance = 5.0
    default_negative_prompt = WAN_NEGATIVE_PROMPT
    capabilities = Capabilities(sizes=((720, 1280), (1280, 720), (480, 832), (832, 480)), frame_counts=(81,), fps=16.0,
                                request_params=SAMPLING_PARAMS, tasks=_T2V, notes="diffusers; frames 4k+1; 480p: --set height=480 --set width=832")  # fmt: skip


class Wan22T2VA14B(Wan22I2VA14B):
    """Wan 2.2 T2V A14B: high- and low-noise 14B experts switched at boundary_ratio 0.875; 40 steps,
    guidance 4.0 on the high-noise expert and 3.0 on the low-noise one (guidance_scale_2)."""

    name = "wan2.2-t2v-a14b"
    one_transformer = "wan2.1-t2v"
    pipeline_class = "WanPipeline"
    default_model = "Wan-AI/Wan2.2-T2V-A14B-Diffusers"
    default_guidance = 4.0
    default_call_kwargs = {"guidance_scale_2": 3.0}
    capabilities = Capabilities(sizes=((720, 1280), (1280, 720), (480, 832), (832, 480)), frame_counts=(81,), fps=16.0,
                                request_params=SAMPLING_PARAMS, tasks=_T2V, notes="diffusers; two transformers (MoE), frames 4k+1")  # fmt: skip


class HunyuanVideoT2V(DiffusersVideo):
    name = "hunyuanvideo-t2v"
    pipeline_class = "HunyuanVideoPipeline"
    default_model = "hunyuanvideo-community/HunyuanVideo"
    default_guidance = 6.0  # embedded (distilled) guidance, as diffusers' default; true CFG off
    capabilities = Capabilities(sizes=((720, 1280), (1280, 720)), frame_counts=(129,), fps=24.0,
                                request_params=SAMPLING_PARAMS, tasks=_T2V, notes="diffusers; frames 4k+1")  # fmt: skip


class CogVideoXT2V(DiffusersVideo):
    name = "cogvideox-t2v"
    pipeline_class = "CogVideoXPipeline"
    default_model = "THUDM/CogVideoX-5b"
    default_guidance = 6.0
    capabilities = Capabilities(sizes=((480, 720),), frame_counts=(49,), fps=8.0,
                                request_params=SAMPLING_PARAMS, tasks=_T2V, notes="diffusers; 720x480 only")  # fmt: skip


class LTXVideoT2V(DiffusersVideo):
    name = "ltx-video-t2v"
    pipeline_class = "LTXPipeline"
    default_model = "Lightricks/LTX-Video"
    default_guidance = 3.0
    capabilities = Capabilities(sizes=((480, 704), (704, 480)), frame_counts=(161,), fps=24.0,
                                request_params=SAMPLING_PARAMS, tasks=_T2V, notes="diffusers; frames 8k+1")  # fmt: skip

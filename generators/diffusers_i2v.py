"""Adapters for diffusers' image-to-video pipelines (optional extra: `pip install -e .[diffusers]`).

    wan2.1-i2v         WanImageToVideoPipeline          480x832 buckets, 81 frames, 16 fps
    hunyuanvideo-i2v   HunyuanVideoImageToVideoPipeline 720x1280 buckets, 129 frames, 24 fps
    cogvideox-i2v      CogVideoXImageToVideoPipeline    480x720, 49 frames, 8 fps
    ltx-video-i2v      LTXImageToVideoPipeline          480x704 buckets, 161 frames, 24 fps

Each maps our request to its model's native size (the bucket closest to the input image's aspect
ratio: VBench-I2V's adaptive aspect ratio), frame count and fps; the image is prepared by
stepeval.images (resize to cover + centre crop), so every model sees the same pixels for a bucket.
`model` is a local diffusers folder or a Hub id (weights are never fetched by stepeval itself:
diffusers' own from_pretrained does, where the network allows). `height`/`width`/`num_frames` override
the native values; `num_inference_steps` and `guidance_scale` may be swept without reloading.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from stepeval.errors import UserError
from stepeval.generation.protocol import Capabilities, GenerationRequest, GenerationResult
from stepeval.images import prepare_image

_DTYPES = ("float32", "bfloat16", "float16")
# What a sweep may vary per request without reloading the pipeline (read in `call_args`).
SAMPLING_PARAMS = frozenset({"num_inference_steps", "guidance_scale"})


class DiffusersI2V:
    """Common adapter; subclasses name the pipeline class and its native settings."""

    name = "diffusers-i2v"
    pipeline_class = ""
    default_model = ""
    default_steps = 50
    default_guidance = 5.0
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
        cpu_offload: bool = False,
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
        self.negative_prompt = negative_prompt
        self.height, self.width, self.num_frames = height, width, num_frames
        self.cpu_offload = cpu_offload
        self.pipe = pipeline  # a ready pipeline object (tests, notebooks); else loaded from `model`
        self.call_kwargs = dict(call_kwargs or {})  # anything else the pipeline's __call__ takes
        self.device = "cpu"

    @property
    def parameters(self) -> dict:
        return {
            "model": self.model, "dtype": self.dtype, "num_inference_steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale, "negative_prompt": self.negative_prompt,
            "height": self.height, "width": self.width, "num_frames": self.num_frames, "call_kwargs": self.call_kwargs,
        }  # fmt: skip

    def load(self, device: str) -> None:
        import torch

        try:
            import diffusers
        except ImportError as exc:
            raise UserError("the diffusers adapters need diffusers", hint="pip install -e .[diffusers]") from exc
        self.device = device
        if self.pipe is None:
            cls = getattr(diffusers, self.pipeline_class)
            try:
                self.pipe = cls.from_pretrained(self.model, torch_dtype=getattr(torch, self.dtype))
            except (OSError, ValueError) as exc:
                raise UserError(
                    f"cannot load {self.pipeline_class} from {self.model!r} ({exc})",
                    path=self.model if Path(self.model).exists() else None,
                    hint="pass model=PATH to a downloaded diffusers folder (e.g. --set model=/models/wan --tag wan2.1)",
                ) from exc
        if self.cpu_offload and device.startswith("cuda"):
            self.pipe.enable_model_cpu_offload()
        else:
            self.pipe.to(device)
        self.pipe.set_progress_bar_config(disable=True)

    def resolve(self, request: GenerationRequest) -> tuple[int, int, int, float]:
        import dataclasses

        filled = dataclasses.replace(
            request, height=request.height or self.height, width=request.width or self.width, num_frames=request.num_frames or self.num_frames
        )
        return self.capabilities.resolve(filled)

    def call_args(self, request: GenerationRequest, image: Image.Image, height: int, width: int, frames: int, fps: float) -> dict:
        import torch

        generator_device = "cpu" if not self.device.startswith("cuda") else self.device
        args = {
            "image": image, "prompt": request.prompt, "height": height, "width": width, "num_frames": frames,
            "num_inference_steps": int(request.params.get("num_inference_steps", self.num_inference_steps)),
            "guidance_scale": float(request.params.get("guidance_scale", self.guidance_scale)),
            "generator": torch.Generator(generator_device).manual_seed(request.seed), "output_type": "np",
        }  # fmt: skip
        if self.negative_prompt is not None:
            args["negative_prompt"] = self.negative_prompt
        return {**args, **self.call_kwargs}

    def generate(self, request: GenerationRequest) -> GenerationResult:
        height, width, frames, fps = self.resolve(request)
        image = Image.fromarray(prepare_image(request.image_path, height, width))
        out = self.pipe(**self.call_args(request, image, height, width, frames, fps))
        video = np.asarray(out.frames[0])
        if video.dtype != np.uint8:
            video = np.clip(np.rint(video.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
        return GenerationResult(frames=video, fps=fps, info={"height": height, "width": width})


class WanI2V(DiffusersI2V):
    name = "wan2.1-i2v"
    pipeline_class = "WanImageToVideoPipeline"
    default_model = "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers"
    default_guidance = 5.0
    # 480p model: about 480x832 pixels in any aspect, sides multiples of 16 (VAE 8 x patch 2).
    capabilities = Capabilities(sizes=((480, 832), (832, 480), (624, 624)), frame_counts=(81,), fps=16.0,
                                request_params=SAMPLING_PARAMS, notes="diffusers; frames 4k+1")  # fmt: skip


class HunyuanVideoI2V(DiffusersI2V):
    name = "hunyuanvideo-i2v"
    pipeline_class = "HunyuanVideoImageToVideoPipeline"
    default_model = "hunyuanvideo-community/HunyuanVideo-I2V"
    default_guidance = 1.0  # embedded guidance model; true CFG off
    capabilities = Capabilities(sizes=((720, 1280), (1280, 720), (960, 960)), frame_counts=(129,), fps=24.0,
                                request_params=SAMPLING_PARAMS, notes="diffusers; frames 4k+1")  # fmt: skip


class CogVideoXI2V(DiffusersI2V):
    name = "cogvideox-i2v"
    pipeline_class = "CogVideoXImageToVideoPipeline"
    default_model = "THUDM/CogVideoX-5b-I2V"
    default_guidance = 6.0
    # CogVideoX-5b-I2V is trained at 720x480 only.
    capabilities = Capabilities(sizes=((480, 720),), frame_counts=(49,), fps=8.0,
                                request_params=SAMPLING_PARAMS, notes="diffusers; 720x480 only")  # fmt: skip


class LTXVideoI2V(DiffusersI2V):
    name = "ltx-video-i2v"
    pipeline_class = "LTXImageToVideoPipeline"
    default_model = "Lightricks/LTX-Video"
    default_guidance = 3.0
    # Sides multiples of 32, frames 8k+1.
    capabilities = Capabilities(sizes=((480, 704), (704, 480), (576, 576)), frame_counts=(161,), fps=24.0,
                                request_params=SAMPLING_PARAMS, notes="diffusers; frames 8k+1")  # fmt: skip

    def call_args(self, request, image, height, width, frames, fps):
        return {**super().call_args(request, image, height, width, frames, fps), "frame_rate": int(round(fps))}

"""Baselines: deterministic, fast on CPU, no weights. They calibrate metrics (what does a motion
score or a consistency score say about a video that does not move, that only pans, that falls
apart?) and they are the CI subjects of the batch runner.

    static   the input image, repeated
    camera   a synthetic camera move read from the prompt's camera instruction (Chinese or English):
             pan, tilt, zoom/dolly in and out, static; crop-and-resize of the input image
    noise    the input image (text-only: a mid-gray frame) dissolving into seeded noise
    still    text-to-video's floor: one frame that ignores the prompt (mid-gray, or seeded noise), held

All take height/width/num_frames/fps (default: Step-Video-TI2V's 544x992 buckets by the image's
aspect, the first bucket without an image, 102 frames at 25 fps) and stream their frames, so a long
video never sits in memory. static and camera need an image (TI2V), still makes text-to-video only,
noise does both.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import numpy as np
from PIL import Image

from stepeval.benchmark.camera import MOTIONS, camera_motion
from stepeval.benchmark.items import T2V, TI2V
from stepeval.generation.protocol import Capabilities, GenerationRequest, GenerationResult
from stepeval.images import prepare_image

# Step-Video-TI2V's landscape size and its transpose, plus a square bucket of about the same area.
STEP_VIDEO_BUCKETS = ((544, 992), (992, 544), (736, 736))
GRAY = 128  # the frame a baseline starts from when a request has no image


class _Baseline:
    name = "baseline"
    capabilities = Capabilities(sizes=STEP_VIDEO_BUCKETS, frame_counts=(102,), fps=25.0, streams=True, notes="CPU baseline, no weights")

    def __init__(self, height: int | None = None, width: int | None = None, num_frames: int | None = None, fps: float | None = None):
        if (height is None) != (width is None):
            raise ValueError("give both height and width, or neither")
        for key, value in (("height", height), ("width", width), ("num_frames", num_frames), ("fps", fps)):
            if value is not None and value <= 0:
                raise ValueError(f"{key} must be positive, got {value}")
        self.height, self.width, self.num_frames, self.fps = height, width, num_frames, fps

    @property
    def parameters(self) -> dict:
        return {"height": self.height, "width": self.width, "num_frames": self.num_frames, "fps": self.fps}

    def load(self, device: str) -> None:
        """Nothing to load: baselines run on the CPU whatever the device."""

    def _resolve(self, request: GenerationRequest) -> tuple[int, int, int, float]:
        filled = dataclasses.replace(
            request,
            height=request.height or self.height,
            width=request.width or self.width,
            num_frames=request.num_frames or self.num_frames,
            fps=request.fps or self.fps,
        )
        return self.capabilities.resolve(filled)


class StaticBaseline(_Baseline):
    """The image repeated: the zero-motion reference. `delay_s` waits that long per video (to test
    interrupting and resuming a run with a generator that takes time)."""

    name = "static"

    def __init__(self, delay_s: float = 0.0, **size):
        super().__init__(**size)
        if delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {delay_s}")
        self.delay_s = float(delay_s)

    @property
    def parameters(self) -> dict:
        return {**super().parameters, "delay_s": self.delay_s}

    def generate(self, request: GenerationRequest) -> GenerationResult:
        height, width, frames, fps = self._resolve(request)
        image = prepare_image(request.image_path, height, width)
        if self.delay_s:
            time.sleep(self.delay_s)
        return GenerationResult(frames=(image for _ in range(frames)), fps=fps, info={"size": [height, width]})


class CameraBaseline(_Baseline):
    """A camera move over the still image, as the prompt asks.

    The image is prepared `1 + travel` times larger than the video; each frame is a window of the
    video's aspect ratio moved (pan, tilt) or scaled (zoom) across it, resampled with sub-pixel
    precision (bilinear) so the motion is smooth. Directions follow stepeval.benchmark.camera:
    pan_left = the camera turns left, so the content moves right in the frame.
    `motion` forces a move ("auto" reads the prompt); `fallback` is used when the prompt has none.
    """

    name = "camera"

    def __init__(self, motion: str = "auto", fallback: str = "static", travel: float = 0.25, **size):
        super().__init__(**size)
        if motion != "auto" and motion not in MOTIONS:
            raise ValueError(f"motion must be auto or one of {', '.join(MOTIONS)}, got {motion!r}")
        if fallback not in MOTIONS:
            raise ValueError(f"fallback must be one of {', '.join(MOTIONS)}, got {fallback!r}")
        if not 0 < travel <= 2:
            raise ValueError(f"travel must be in (0, 2], got {travel}")
        self.motion, self.fallback, self.travel = motion, fallback, float(travel)

    @property
    def parameters(self) -> dict:
        return {**super().parameters, "motion": self.motion, "fallback": self.fallback, "travel": self.travel}

    def motion_for(self, prompt: str) -> str:
        if self.motion != "auto":
            return self.motion
        return camera_motion(prompt) or self.fallback

    def generate(self, request: GenerationRequest) -> GenerationResult:
        height, width, frames, fps = self._resolve(request)
        motion = self.motion_for(request.prompt)
        scale = 1.0 + self.travel
        source = prepare_image(request.image_path, round(height * scale), round(width * scale))
        return GenerationResult(frames=self._frames(source, motion, height, width, frames), fps=fps, info={"motion": motion})

    def _frames(self, source: np.ndarray, motion: str, height: int, width: int, frames: int) -> Iterator[np.ndarray]:
        sh, sw = source.shape[:2]
        image = Image.fromarray(source)
        for t in range(frames):
            a = t / (frames - 1) if frames > 1 else 0.0
            # Window in source pixels: (x0, y0) its top-left corner, z its size relative to the video.
            z = sw / width  # the whole source: a still view of the full prepared image
            x0 = y0 = 0.0
            if motion in ("pan_left", "pan_right", "tilt_up", "tilt_down"):
                z = 1.0
                x0, y0 = (sw - width) / 2, (sh - height) / 2
                # Camera turns left -> window slides left over the source -> content moves right.
                if motion == "pan_left":
                    x0 = (sw - width) * (1 - a)
                elif motion == "pan_right":
                    x0 = (sw - width) * a
                elif motion == "tilt_up":
                    y0 = (sh - height) * (1 - a)
                else:
                    y0 = (sh - height) * a
            elif motion in ("zoom_in", "zoom_out"):
                full = sw / width
                # Zoom in: the window shrinks from the whole source to 1/scale of it, centred.
                z = full + (1.0 - full) * (a if motion == "zoom_in" else 1 - a)
                x0, y0 = (sw - width * z) / 2, (sh - height * z) / 2
            # PIL's affine transform maps each video pixel to a source point independently, so the
            # result never depends on threading (cv2.warpAffine's blocked fixed-point remap was seen to
            # differ between runs under CPU contention).
            yield np.asarray(image.transform((width, height), Image.Transform.AFFINE, (z, 0.0, x0, 0.0, z, y0), resample=Image.Resampling.BILINEAR))


class NoiseBaseline(_Baseline):
    """The image dissolving into seeded uniform noise: frame t = (1 - a_t) image + a_t noise with
    a_t rising linearly to `end` (1 = pure noise at the last frame). Seeded by the request's seed.
    A text-only request starts from a mid-gray frame instead of an image."""

    name = "noise"
    capabilities = dataclasses.replace(_Baseline.capabilities, tasks=frozenset({TI2V, T2V}))

    def __init__(self, end: float = 1.0, **size):
        super().__init__(**size)
        if not 0 <= end <= 1:
            raise ValueError(f"end must be in [0, 1], got {end}")
        self.end = float(end)

    @property
    def parameters(self) -> dict:
        return {**super().parameters, "end": self.end}

    def generate(self, request: GenerationRequest) -> GenerationResult:
        height, width, frames, fps = self._resolve(request)
        if request.image_path is None:
            image = np.full((height, width, 3), GRAY, dtype=np.float32)
        else:
            image = prepare_image(request.image_path, height, width).astype(np.float32)
        noise = np.random.default_rng(request.seed).integers(0, 256, size=image.shape, dtype=np.uint8).astype(np.float32)

        def frames_iter() -> Iterator[np.ndarray]:
            for t in range(frames):
                a = self.end * (t / (frames - 1) if frames > 1 else 0.0)
                yield np.clip(np.rint((1 - a) * image + a * noise), 0, 255).astype(np.uint8)

        return GenerationResult(frames=frames_iter(), fps=fps, info={"end": self.end})


class StillBaseline(_Baseline):
    """Text-to-video's floor: one frame, whatever the prompt says, held for the whole video.
    `fill="gray"` is a uniform mid-gray frame; `fill="noise"` a frame of uniform noise seeded by the
    request's seed. No motion and no relation to the prompt: every score a real model earns should
    beat it."""

    name = "still"
    capabilities = dataclasses.replace(_Baseline.capabilities, tasks=frozenset({T2V}), notes="CPU text-to-video floor, no weights")
    FILLS = ("gray", "noise")

    def __init__(self, fill: str = "gray", **size):
        super().__init__(**size)
        if fill not in self.FILLS:
            raise ValueError(f"fill must be one of {', '.join(self.FILLS)}, got {fill!r}")
        self.fill = fill

    @property
    def parameters(self) -> dict:
        return {**super().parameters, "fill": self.fill}

    def generate(self, request: GenerationRequest) -> GenerationResult:
        height, width, frames, fps = self._resolve(request)
        if self.fill == "gray":
            frame = np.full((height, width, 3), GRAY, dtype=np.uint8)
        else:
            frame = np.random.default_rng(request.seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        return GenerationResult(frames=(frame for _ in range(frames)), fps=fps, info={"fill": self.fill})

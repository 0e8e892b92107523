"""What conditions a Step-Video-TI2V sample besides the text: the video geometry, the first image
and the motion score (docs/stepvideo-architecture.md section 4: "Latent shape", "First-image
condition", "Motion score").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from stepeval.errors import UserError
from stepeval.images import prepare_image

from .image_conditioning import padded_condition

FRAMES_PER_CHUNK = 17  # the VAE codes 17 frames into 3 latents


@dataclass(frozen=True)
class VideoGeometry:
    """The requested video after the official rounding, and its latent grid."""

    frames: int
    height: int
    width: int
    latent_frames: int
    latent_height: int
    latent_width: int
    notes: tuple[str, ...] = field(default=())

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.latent_frames, self.latent_height, self.latent_width)

    @property
    def tokens(self) -> int:
        return self.latent_frames * self.latent_height * self.latent_width


def resolve_geometry(frames: int, height: int, width: int, *, spatial_unit: int = 16,
                     spatial_compression: int = 16) -> VideoGeometry:
    """Check and round the request as upstream does, and say what changed.

    Height and width are floored to multiples of `spatial_unit` (VAE compression x DiT patch; 16
    for the released model), like the official pipeline, and the rounding is reported in `notes`.
    Frames are not rounded: upstream silently floors them to a multiple of 17, which turns a request
    for 100 frames into 85; here that is an error naming the two nearest valid counts.
    """
    for name, value in (("frames", frames), ("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise UserError(f"{name} must be a positive integer, got {value!r}")
    frames, height, width = int(frames), int(height), int(width)
    if frames % FRAMES_PER_CHUNK:
        lo = (frames // FRAMES_PER_CHUNK) * FRAMES_PER_CHUNK
        options = [n for n in (lo, lo + FRAMES_PER_CHUNK) if n > 0]
        raise UserError(
            f"frames={frames} is not a multiple of {FRAMES_PER_CHUNK}: the Step-Video VAE codes "
            f"video in chunks of {FRAMES_PER_CHUNK} frames",
            hint=f"ask for {' or '.join(map(str, options))} frames (the official default is 102)",
        )
    notes = []
    new_h, new_w = (height // spatial_unit) * spatial_unit, (width // spatial_unit) * spatial_unit
    if new_h == 0 or new_w == 0:
        raise UserError(f"video size {height}x{width} is smaller than the {spatial_unit}-pixel unit",
                        hint=f"use a height and width of at least {spatial_unit} (official 544x992)")
    if (new_h, new_w) != (height, width):
        notes.append(f"size {height}x{width} rounded down to {new_h}x{new_w} (multiples of "
                     f"{spatial_unit}, as the official pipeline does)")
    latent_frames = (frames // FRAMES_PER_CHUNK) * 3
    return VideoGeometry(frames, new_h, new_w, latent_frames, new_h // spatial_compression,
                         new_w // spatial_compression, tuple(notes))


def check_motion_score(value) -> float:
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise UserError(f"motion_score must be a number, got {value!r}") from None
    if not math.isfinite(score) or score < 0:
        raise UserError(f"motion_score must be a finite number >= 0, got {value!r}",
                        hint="official advice: 5 general, 2 for stability, 10 or 20 for more motion")
    return score


def check_fps(value) -> float:
    try:
        fps = float(value)
    except (TypeError, ValueError):
        raise UserError(f"fps must be a number, got {value!r}") from None
    if not math.isfinite(fps) or fps <= 0:
        raise UserError(f"fps must be a positive number, got {value!r}", hint="the official value is 25")
    return fps


def load_first_frame(image_path: str | Path, height: int, width: int) -> torch.Tensor:
    """Image file -> [1, 1, 3, H, W] float32 in [-1, 1]: RGB, resize-to-cover, centre crop.

    Goes through stepeval.images (PIL antialiased bilinear; upstream uses torchvision's bilinear
    resize with antialias, so pixels may differ by a rounding step).
    """
    rgb = prepare_image(image_path, height, width)  # uint8 H x W x 3, UserError if unreadable
    x = torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float() / 127.5 - 1.0
    return x[None, None]


@torch.no_grad()
def image_latent(vae, first_frame: torch.Tensor, *, generator: torch.Generator | None = None,
                 use_mean: bool = False, tile_size: int | None = None) -> torch.Tensor:
    """VAE-encode the first frame: [1, 1, C, h, w] in fp32.

    Upstream samples the posterior with the unseeded global RNG; here the sample takes `generator`
    (seeded by the caller), or the posterior mean when `use_mean`.
    """
    posterior = vae.encode(first_frame.to(next(vae.parameters()).device), tile_size=tile_size)
    z = posterior.mode() if use_mean else _posterior_sample(posterior, generator)
    z = z.float()
    if z.shape[1] != 1:
        raise RuntimeError(f"encoding one frame gave {z.shape[1]} latents, expected 1")
    return z


@torch.no_grad()
def image_condition(vae, first_frame: torch.Tensor, latent_frames: int, *,
                    generator: torch.Generator | None = None, use_mean: bool = False,
                    tile_size: int | None = None) -> torch.Tensor:
    """The official concat condition: the image latent, then zeros, [1, F_lat, C, h, w] in fp32."""
    return padded_condition(image_latent(vae, first_frame, generator=generator, use_mean=use_mean,
                                         tile_size=tile_size), latent_frames)


def _posterior_sample(posterior, generator: torch.Generator | None) -> torch.Tensor:
    # Draw eps on the generator's device (CPU) so the sample is identical on every device.
    mean, std = posterior.mode(), posterior.std
    eps = torch.randn(mean.shape, generator=generator, dtype=torch.float32)
    return mean.float() + std.float() * eps.to(mean.device)

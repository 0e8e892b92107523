"""How the first image enters a TI2V sample, and what classifier-free guidance drops.

Image conditioning (`DiTConfig.image_conditioning`, fixed when a model is trained):
- "concat" (Step-Video-TI2V, official): the image latent, padded with zeros to the video's latent
  frames, is concatenated to the noisy latent on the channel axis.
- "frame_replace" (STIV, Lin et al. 2024): latent frame 0 of the noisy input is the clean image
  latent, in training and at every sampling step; the training loss skips that frame.
- "both": the two together.

Guidance (`TI2VSettings.guidance`, chosen at sampling):
- "text" (official): the unconditional branch drops the text and keeps the image.
- "joint" (STIV's JIT-CFG): the unconditional branch drops the text and the image together; a model
  must have seen such samples in training (`TinyRecipe.image_dropout`).

With frame replacement the sampler keeps latent frame 0 of its state on the straight flow path from
the initial noise to the image latent (its velocity is set to `image - noise`), so the branch that
drops the image sees that frame noised exactly as training's image-dropped samples do, and the final
latent's frame 0 is the image latent itself.
"""

from __future__ import annotations

import torch

from stepeval.errors import UserError

MODES = ("concat", "frame_replace", "both")
GUIDANCE = ("text", "joint")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise UserError(f"image_conditioning must be one of {', '.join(MODES)}, got {mode!r}",
                        hint="the official Step-Video-TI2V is 'concat'")
    return mode


def check_guidance(guidance: str) -> str:
    if guidance not in GUIDANCE:
        raise UserError(f"guidance must be one of {', '.join(GUIDANCE)}, got {guidance!r}",
                        hint="'text' is the official classifier-free guidance; 'joint' drops the image too")
    return guidance


def replaces_frame(mode: str) -> bool:
    return mode in ("frame_replace", "both")


def concatenates(mode: str) -> bool:
    return mode in ("concat", "both")


def padded_condition(image_latent: torch.Tensor, latent_frames: int) -> torch.Tensor:
    """[B, 1, C, h, w] -> [B, F, C, h, w]: the image latent, then zeros (the official condition)."""
    zeros = image_latent.new_zeros((image_latent.shape[0], latent_frames - 1, *image_latent.shape[2:]))
    return torch.cat([image_latent, zeros], dim=1)


def branch_inputs(x: torch.Tensor, image_latent: torch.Tensor, mode: str, with_image: torch.Tensor | bool
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The DiT's (hidden_states, condition_hidden_states) for latents x [B, F, C, h, w].

    `image_latent` is the clean first-frame latent ([B or 1, 1, C, h, w]); `with_image` (a bool, or
    a [B] bool tensor in training) says which rows see the image. Rows without it keep frame 0 as x
    has it and get a zero concat condition; the condition is None when the mode does not concatenate.
    """
    b, f = x.shape[:2]
    keep = torch.as_tensor(with_image, device=x.device).reshape(-1).expand(b).view(b, 1, 1, 1, 1)
    image = image_latent.to(x.dtype).expand(b, -1, -1, -1, -1)
    hidden = x
    if replaces_frame(mode):
        hidden = torch.cat([torch.where(keep, image, x[:, :1]), x[:, 1:]], dim=1)
    cond = None
    if concatenates(mode):
        cond = padded_condition(image, f) * keep.to(x.dtype)
    return hidden, cond


def frame_zero_loss_weight(mode: str, with_image: torch.Tensor) -> torch.Tensor:
    """Per-row loss weight of latent frame 0: 0 where the frame was replaced (it is given), else 1."""
    if not replaces_frame(mode):
        return torch.ones(with_image.shape, dtype=torch.float32)
    return (~with_image).float()


def pin_first_frame(v: torch.Tensor, image_latent: torch.Tensor, noise: torch.Tensor, mode: str) -> torch.Tensor:
    """With frame replacement, frame 0's velocity is the straight path's `image - noise`: an Euler
    step then keeps it at sigma * image + (1 - sigma) * noise, and at sigma = 1 it is the image."""
    if not replaces_frame(mode):
        return v
    v = v.clone()
    v[:, :1] = (image_latent.float() - noise[:, :1].float()).to(v.dtype)
    return v

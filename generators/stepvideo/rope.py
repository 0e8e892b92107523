"""3D rotary position embedding of the Step-Video DiT.

The head dim is split into (frame, height, width) chunks (official 64/32/32 of 128); each chunk is
rotated independently with the rotate-half convention (first half pairs with second half).
Positions are passed explicitly so a sequence-parallel rank can pass only its chunk of the grid.
"""

from __future__ import annotations

import torch


def grid_positions(frames: int, height: int, width: int, device=None) -> torch.Tensor:
    """Integer (f, row, col) per token, frame-major then row then column: [F*h*w, 3]."""
    f = torch.arange(frames, device=device)
    r = torch.arange(height, device=device)
    c = torch.arange(width, device=device)
    grid = torch.stack(torch.meshgrid(f, r, c, indexing="ij"), dim=-1)
    return grid.reshape(-1, 3)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope_3d(
    x: torch.Tensor,
    positions: torch.Tensor,
    split: tuple[int, int, int],
    theta: float = 10000.0,
    angles_in_token_dtype: bool = False,
) -> torch.Tensor:
    """Rotate x [B, S, H, D] by positions [S, 3] (or [B, S, 3]).

    angles_in_token_dtype reproduces the official precision quirk: angles are computed in fp32,
    then cast to the token dtype (bf16) before cos/sin, and the rotation runs in that dtype.
    Otherwise everything runs in fp32 and only the result is cast back.
    """
    if positions.dim() == 2:
        positions = positions.unsqueeze(0)  # [1, S, 3]
    compute_dtype = x.dtype if angles_in_token_dtype else torch.float32
    chunks = x.split(list(split), dim=-1)
    out = []
    for axis, (chunk, dim) in enumerate(zip(chunks, split)):
        inv_freq = theta ** (
            -torch.arange(0, dim, 2, device=x.device, dtype=torch.float32) / dim
        )
        angles = positions[..., axis].to(torch.float32).unsqueeze(-1) * inv_freq  # [B?, S, dim/2]
        angles = angles.to(compute_dtype)
        angles = torch.cat((angles, angles), dim=-1).unsqueeze(2)  # [B?, S, 1, dim]
        c = chunk.to(compute_dtype)
        out.append(c * angles.cos() + _rotate_half(c) * angles.sin())
    return torch.cat(out, dim=-1).to(x.dtype)

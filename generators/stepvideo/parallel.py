"""Multi-process sampling with torch.distributed: Ulysses sequence parallel x CFG parallel.

World = sp_degree x cfg_degree ranks, launched by `torchrun` (NCCL on GPUs, gloo on CPU).
Rank r has cfg_rank = r // sp_degree and sp_rank = r % sp_degree, so the ranks of one
sequence-parallel group are neighbours (on one node they share NVLink).

- Sequence parallel (Ulysses, as xfuser does for the official model): each rank of an SP group
  keeps 1/sp of the video tokens through every block. Around self-attention an all-to-all trades
  the sequence shard for a head shard (each rank then sees every token for H/sp heads), and a
  second all-to-all trades back. Cross-attention, FFN and modulation are token-local. After the
  last block the shards are all-gathered and the output head runs on the full sequence. Unlike
  xfuser, a sequence that does not divide by sp is padded; the pad tokens are dropped before
  attention (so no mask is needed and they never act as keys) and after the gather.
- CFG parallel (absent upstream): with cfg_degree 2 the conditional branch runs on cfg_rank 0 and
  the unconditional one on cfg_rank 1; the two velocities are all-gathered and combined, so every
  rank holds the same guided velocity and advances the same latent. Noise comes from the seed on
  the CPU, so all ranks start from the same latent without a broadcast.
- Only the first rank of a video group (global rank 0 with one group) decodes and writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F

from stepeval.errors import UserError


@dataclass
class ParallelState:
    """Where this process sits in its video group: the sp x cfg ranks that make one video together.

    With more processes than one group needs (world = k x sp x cfg), consecutive blocks of
    sp x cfg ranks form k independent groups (the batch runner deals videos out per group).
    A single process is sp = cfg = 1.
    """

    sp_degree: int = 1
    cfg_degree: int = 1
    rank: int = 0  # rank inside the video group
    world_size: int = 1  # size of the video group (sp x cfg)
    sp_group: object | None = None
    cfg_group: object | None = None
    device: torch.device = torch.device("cpu")
    global_rank: int = 0

    @property
    def sp_rank(self) -> int:
        return self.rank % self.sp_degree

    @property
    def cfg_rank(self) -> int:
        return self.rank // self.sp_degree

    @property
    def is_writer(self) -> bool:
        """Only the first rank of a video group decodes and writes."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


SINGLE = ParallelState()


def check_degrees(sp_degree: int, cfg_degree: int, world_size: int, heads: int | None = None,
                  guidance: bool = True) -> None:
    if sp_degree < 1 or cfg_degree not in (1, 2):
        raise UserError(f"sp_degree must be >= 1 and cfg_degree 1 or 2, got sp={sp_degree}, "
                        f"cfg={cfg_degree}")
    if world_size % (sp_degree * cfg_degree):
        raise UserError(
            f"sp_degree x cfg_degree = {sp_degree} x {cfg_degree} = {sp_degree * cfg_degree} "
            f"does not divide the {world_size} launched processes",
            hint="launch with `torchrun --nproc_per_node SP*CFG` (or a multiple of it), or change "
                 "the degrees",
        )
    if heads is not None and heads % sp_degree:
        raise UserError(f"the DiT has {heads} attention heads, which sp_degree={sp_degree} does "
                        "not divide (Ulysses splits heads across ranks)",
                        hint=f"use an sp_degree that divides {heads}")
    if cfg_degree == 2 and not guidance:
        raise UserError("cfg_degree=2 needs classifier-free guidance, but cfg_scale <= 1 disables it",
                        hint="use cfg_degree=1 or a cfg_scale above 1")


def init_parallel(sp_degree: int = 1, cfg_degree: int = 1, device: str | None = None,
                  backend: str | None = None) -> ParallelState:
    """Join the torchrun process group (or the one the batch runner made) and build the SP and
    CFG sub-groups. Without torchrun's environment this is the single-process state.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1 and not dist.is_initialized():
        check_degrees(sp_degree, cfg_degree, 1)
        if sp_degree * cfg_degree != 1:
            raise UserError(f"sp_degree={sp_degree} x cfg_degree={cfg_degree} needs that many "
                            "processes, but this is a single process",
                            hint=f"launch with `torchrun --nproc_per_node {sp_degree * cfg_degree}`")
        return ParallelState(device=torch.device(device or _default_device()))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None or device == "auto":
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend or ("nccl" if dev.type == "cuda" else "gloo"))
    world, rank = dist.get_world_size(), dist.get_rank()
    check_degrees(sp_degree, cfg_degree, world)
    size = sp_degree * cfg_degree
    base = rank - rank % size
    sp_group = cfg_group = None
    # new_group is collective: every rank creates every group of every video group, in order.
    for start in range(0, world, size):
        for c in range(cfg_degree):
            ranks = [start + c * sp_degree + s for s in range(sp_degree)]
            g = dist.new_group(ranks)
            if rank in ranks:
                sp_group = g
        for s in range(sp_degree):
            ranks = [start + c * sp_degree + s for c in range(cfg_degree)]
            g = dist.new_group(ranks)
            if rank in ranks:
                cfg_group = g
    return ParallelState(sp_degree, cfg_degree, rank - base, size, sp_group, cfg_group, dev, rank)


def shutdown_parallel(state: ParallelState) -> None:
    if state.distributed and dist.is_initialized():
        dist.destroy_process_group()


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


# -------------------------------------------------------------------------------------------------
# Ulysses attention
# -------------------------------------------------------------------------------------------------


def _all_to_all(x: torch.Tensor, group) -> torch.Tensor:
    """all_to_all_single over dim 0 (one slice per rank)."""
    x = x.contiguous()  # empty_like would copy a permuted layout, and the collective is linear
    out = torch.empty_like(x)
    dist.all_to_all_single(out, x, group=group)
    return out


class UlyssesAttention:
    """attn_fn(q, k, v) on a sequence shard [B, S_local, H, D] -> [B, S_local, H, D].

    `valid_tokens` is the true sequence length; shards are padded to S_local * sp >= it.
    """

    def __init__(self, group, degree: int, valid_tokens: int):
        self.group, self.degree, self.valid = group, degree, valid_tokens

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        n = self.degree
        b, s_local, h, d = q.shape
        # [3, B, S_l, n, H/n, D] -> [n, 3, B, S_l, H/n, D]: slice j (heads j) goes to rank j.
        qkv = torch.stack([q, k, v]).view(3, b, s_local, n, h // n, d).permute(3, 0, 1, 2, 4, 5)
        got = _all_to_all(qkv, self.group)  # [n (source rank = sequence shard), 3, B, S_l, H/n, D]
        full = got.permute(1, 2, 0, 3, 4, 5).reshape(3, b, n * s_local, h // n, d)
        fq, fk, fv = full[:, :, : self.valid].unbind(0)
        out = F.scaled_dot_product_attention(fq.transpose(1, 2), fk.transpose(1, 2),
                                             fv.transpose(1, 2)).transpose(1, 2)
        if out.shape[1] < n * s_local:
            out = F.pad(out, (0, 0, 0, 0, 0, n * s_local - out.shape[1]))
        # [B, n*S_l, H/n, D] -> [n (sequence shard), B, S_l, H/n, D]; back to its owner.
        back = _all_to_all(out.view(b, n, s_local, h // n, d).permute(1, 0, 2, 3, 4), self.group)
        # [n (source rank = head shard), B, S_l, H/n, D] -> [B, S_l, H, D]
        return back.permute(1, 2, 0, 3, 4).reshape(b, s_local, h, d)


def sequence_parallel_forward(model, state: ParallelState, **dit_kwargs) -> torch.Tensor:
    """StepVideoModel forward with the token sequence sharded over the SP group."""
    inputs = model.embed(**dit_kwargs)
    if state.sp_degree == 1:
        return model.finalize(model.run_blocks(inputs.tokens, inputs), inputs)
    n, r = state.sp_degree, state.sp_rank
    heads = model.config.num_attention_heads
    if heads % n:
        raise UserError(f"sp_degree={n} does not divide the DiT's {heads} heads")
    tokens, positions = inputs.tokens, inputs.positions
    s = tokens.shape[1]
    s_local = -(-s // n)
    pad = s_local * n - s
    if pad:
        tokens = F.pad(tokens, (0, 0, 0, pad))
        positions = F.pad(positions, (0, 0, 0, pad))  # pad tokens sit at (0,0,0); never attended
    shard = tokens[:, r * s_local:(r + 1) * s_local].contiguous()
    pos_shard = positions[r * s_local:(r + 1) * s_local]
    attn = UlyssesAttention(state.sp_group, n, s)
    out = model.run_blocks(shard, inputs, positions=pos_shard, attn_fn=attn)
    parts = [torch.empty_like(out) for _ in range(n)]
    dist.all_gather(parts, out.contiguous(), group=state.sp_group)
    full = torch.cat(parts, dim=1)[:, :s]
    return model.finalize(full, inputs)


def cfg_gather(v_local: torch.Tensor, state: ParallelState) -> tuple[torch.Tensor, torch.Tensor]:
    """(v_cond, v_uncond) from the two CFG ranks; every rank of the pair gets both."""
    parts = [torch.empty_like(v_local) for _ in range(2)]
    dist.all_gather(parts, v_local.contiguous(), group=state.cfg_group)
    return parts[0], parts[1]

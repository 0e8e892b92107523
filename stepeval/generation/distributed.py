"""Sharding work over processes and machines (torchrun / torch.distributed).

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; we join its process group (gloo on CPU, NCCL on
GPUs). Ranks form sequence-parallel groups of `sp_degree` consecutive ranks: the ranks of one group
make the same video together (a model too big or too slow for one GPU), so work is dealt out per
group, and only the group's first rank writes the video and its row.

Work is dealt round-robin over the full, sorted list of (model, item, sample) before resume is
applied, so which rank makes a video never depends on what is already done or on timing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from stepeval.errors import UserError

# Ranks wait for each other at the end; a GPU rank can finish hours before the slowest one.
DEFAULT_TIMEOUT_S = 24 * 3600


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    sp_degree: int = 1
    sp_group: Any = None  # torch.distributed ProcessGroup of this rank's sequence-parallel group
    initialized_here: bool = False

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def group_index(self) -> int:
        return self.rank // self.sp_degree

    @property
    def num_groups(self) -> int:
        return self.world_size // self.sp_degree

    @property
    def is_group_leader(self) -> bool:
        return self.rank % self.sp_degree == 0

    def share(self, work: list) -> list:
        """This rank's (its group's) deterministic share of a sorted work list."""
        return [w for i, w in enumerate(work) if i % self.num_groups == self.group_index]

    def barrier(self) -> None:
        if self.is_distributed:
            import torch.distributed as dist

            dist.barrier()

    def share_outcome(self, problem: str | None) -> str | None:
        """Rank 0 tells every rank whether set-up worked (instead of leaving them at a barrier)."""
        if not self.is_distributed:
            return problem
        import torch.distributed as dist

        box = [problem]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        if self.initialized_here:
            import torch.distributed as dist

            dist.destroy_process_group()
            self.initialized_here = False


_current = DistContext()


def current() -> DistContext:
    """The context of the running batch (a generator reads its sequence-parallel group here)."""
    return _current


def _may_have_cuda() -> bool:
    # Importing torch costs seconds; a CPU-only run of the baselines should not pay it to learn
    # there is no GPU. An imported torch, or an NVIDIA driver, is worth asking.
    import sys

    return "torch" in sys.modules or os.path.exists("/proc/driver/nvidia/version") or bool(os.environ.get("CUDA_VISIBLE_DEVICES"))


def resolve_device(device: str, local_rank: int = 0) -> str:
    if device != "auto":
        return device
    if not _may_have_cuda():
        return "cpu"
    try:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{local_rank % torch.cuda.device_count()}"
    except ImportError:
        pass
    return "cpu"


def init_distributed(device: str, sp_degree: int = 1) -> DistContext:
    """Join (or create) the torch.distributed job described by torchrun's environment variables.

    A single process (no WORLD_SIZE, or 1) needs no process group at all."""
    global _current
    if sp_degree < 1:
        raise UserError(f"sp_degree must be >= 1, got {sp_degree}")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    ctx = DistContext(rank=rank, world_size=world_size, local_rank=local_rank, sp_degree=sp_degree)
    if world_size % sp_degree:
        raise UserError(
            f"{world_size} processes cannot form sequence-parallel groups of {sp_degree}",
            hint="make the number of processes (torchrun --nproc_per_node x nodes) a multiple of sp_degree",
        )
    if world_size > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            backend = "nccl" if device.startswith("cuda") else "gloo"
            timeout = timedelta(seconds=int(os.environ.get("STEPEVAL_DIST_TIMEOUT_S", DEFAULT_TIMEOUT_S)))
            dist.init_process_group(backend=backend, timeout=timeout)
            ctx.initialized_here = True
        ctx.rank, ctx.world_size = dist.get_rank(), dist.get_world_size()
        if sp_degree > 1:
            # Every rank must create every group, in the same order (a collective call).
            for start in range(0, ctx.world_size, sp_degree):
                group = dist.new_group(list(range(start, start + sp_degree)))
                if start <= ctx.rank < start + sp_degree:
                    ctx.sp_group = group
    _current = ctx
    return ctx


def reset() -> None:
    global _current
    _current.close()
    _current = DistContext()

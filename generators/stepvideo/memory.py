"""Memory: the plan printed before a run, and the CPU-offload mechanics.

The plan is analytical (no weights needed): parameter counts come from the configs (the DiT and
VAE are built on the `meta` device, the text encoders by formula), activation peaks from the token
count, and FLOPs from the matmul shapes. It is compared with the device's free memory before
anything is loaded, so a run that cannot fit ends in one clear UserError instead of an OOM crash
half an hour in.

Offload modes (`offload=`):
- "none":   every network on the device for the whole run.
- "model":  each network lives on the CPU and is moved to the device only for its stage (text
            encoders -> VAE encoder -> DiT -> VAE decoder), then moved back.
- "blocks": like "model", and the DiT's transformer blocks are streamed: only the block being
            run sits on the device (for a DiT that does not fit with its activations).
- "auto":   the first of none / model / blocks that the plan says fits.
Independently, `text_on_cpu=True` runs the text encoders on the CPU and never moves them.

What a device peak is made of (each term's source is beside its constant below):
- weights: parameter counts of the real module classes (meta device) x dtype bytes;
- DiT activations: the live tensors of one block (BLOCK_ACTIVATION_UNITS), the Ulysses buffers
  (ULYSSES_EXTRA_UNITS), the gathered output, the text K/V and the fp32 latent state;
- the cross-attention mask workspace, for the official implementation only
  (`implementation="official"`): it materialises a per-head bool mask and SDPA turns it into a
  padded additive bf16 bias, ~7.8 activation units at the full 397-token text (the in-repo DiT
  passes a [B, 1, 1, K] mask, or none when every key is valid, so this term is ~0 here);
- process overhead outside PyTorch's allocator: the CUDA context, and for multi-GPU runs NCCL's
  communicator and connection buffers (`MemoryPlan.overhead`). `peak()` counts tensors;
  `device_peak()` adds the overhead, which is what nvidia-smi (and the official README) report.
With these terms the planner is within 1% of the three published Step-Video-T2V peaks
(benchmarks/stepvideo_plan.py prints the comparison; tests/stepvideo/test_memory_plan.py holds it).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from stepeval.errors import UserError

from .config import CLIPConfig, DiTConfig, StepLLMConfig, StepVideoConfig, VAEConfig

OFFLOAD_MODES = ("none", "model", "blocks", "auto")
GIB = 1024**3
DTYPE_BYTES = {torch.float32: 4, torch.bfloat16: 2, torch.float16: 2}

# Peak live activations inside one DiT block, in units of one [B, S_local, d] tensor of the model
# dtype: residual x, the modulated norm output, the 4d FFN hidden and its GELU (8), plus slack for
# the fp32 QK-norm / RoPE temporaries of the self-attention (which peak lower than the FFN).
BLOCK_ACTIVATION_UNITS = 12
# Ulysses keeps the send and receive buffers of q, k, v (3 + 3) and of the output (1 + 1).
ULYSSES_EXTRA_UNITS = 8
# Working-set headroom for the allocator's fragmentation when deciding fit. The CUDA context is
# not part of it: free memory is measured in-process, after the context exists.
RESERVE_FRACTION = 0.05
RESERVE_BYTES = 1 * GIB

# Memory outside PyTorch's allocator (so neither memory_allocated nor memory_reserved shows it,
# nvidia-smi does):
# - The CUDA context of a PyTorch process with lazy module loading (default since CUDA 11.7):
#   about 400 MB, as PyTorch's maintainers state it (300-400 MB measured across CUDA versions).
CUDA_CONTEXT_BYTES = 400 * 10**6
# - A process with NCCL initialised, before any collective has connected peers: 1.06 GB on an
#   H100 outside PyTorch's allocator (context + NCCL's own init, as NCCL's developers measured it), used instead
#   of CUDA_CONTEXT_BYTES for multi-GPU runs.
NCCL_PROCESS_BYTES = 1_060 * 10**6
# - Each peer an NCCL collective connects to adds its channel buffers: the first all_to_all over
#   8 H100s took the process from 1.06 to 4.34 GB, i.e. (4.34 - 1.06) / 7 peers = 0.469 GB per
#   peer (NCCL's default: 32 channels per peer, 10 MiB + 2 MiB buffers per channel).
NCCL_BYTES_PER_PEER = 469 * 10**6
# SDPA's mem-efficient kernel needs the bias's last dim padded to a multiple of this (PyTorch's
# attention.cpp, preprocess_mask -> pad_bias<mem_eff_alignment = 16>).
MEM_EFF_BIAS_ALIGNMENT = 16
IMPLEMENTATIONS = ("stepeval", "official")


# -------------------------------------------------------------------------------------------------
# Parameter counts
# -------------------------------------------------------------------------------------------------


_PARAM_CACHE: dict[str, int] = {}


def _meta_params(builder, key: str) -> int:
    """Parameter count of the real module class, built on the meta device (no memory, ~1 s for
    the 30B DiT), cached per config so planning every request stays cheap."""
    if key not in _PARAM_CACHE:
        with torch.device("meta"):
            module = builder()
        _PARAM_CACHE[key] = sum(p.numel() for p in module.parameters())
    return _PARAM_CACHE[key]


def dit_params(cfg: DiTConfig) -> int:
    from .dit import StepVideoModel

    return _meta_params(lambda: StepVideoModel(cfg), f"dit:{cfg!r}")


def dit_block_params(cfg: DiTConfig) -> int:
    from .dit import StepVideoTransformerBlock

    return _meta_params(lambda: StepVideoTransformerBlock(cfg), f"block:{cfg!r}")


def vae_params(cfg: VAEConfig) -> int:
    from .vae import StepVideoVAE

    return _meta_params(lambda: StepVideoVAE(cfg), f"vae:{cfg!r}")


def llm_params(cfg: StepLLMConfig) -> int:
    h, kv = cfg.hidden_size, cfg.kv_channels * cfg.num_attention_groups
    per_layer = (h + 2 * kv) * h + h * h + 2 * cfg.ffn_hidden_size * h + cfg.ffn_hidden_size * h
    per_layer += 2 * h  # the two RMSNorm weights
    return cfg.padded_vocab_size * h + cfg.num_layers * per_layer


def clip_params(cfg: CLIPConfig) -> int:
    """BERT encoder + pooler (transformers.BertModel), token-type vocabulary 2."""
    h, i = cfg.hidden_size, cfg.intermediate_size
    emb = (cfg.vocab_size + cfg.max_position_embeddings + 2) * h + 2 * h
    layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h
    return emb + cfg.num_hidden_layers * layer + h * h + h


# -------------------------------------------------------------------------------------------------
# The plan
# -------------------------------------------------------------------------------------------------


@dataclass
class MemoryPlan:
    """Estimated memory and compute of one video, and whether it fits where it will run."""

    tokens: int
    tokens_per_rank: int
    batch_per_rank: int
    steps: int
    dtype: torch.dtype
    weights: dict[str, int]  # bytes per network
    dit_activation_bytes: int
    vae_decode_bytes: int
    text_activation_bytes: int
    stage_peaks: dict[str, dict[str, int]]  # mode -> stage -> bytes on the device
    flops_per_step: float  # per rank
    flops_total: float  # whole video, all ranks
    free_bytes: int | None
    device: str
    chosen: str | None = None
    notes: list[str] = field(default_factory=list)
    cross_mask_bytes: int = 0  # inside dit_activation_bytes; 0 for the in-repo DiT
    overhead: dict[str, int] = field(default_factory=dict)  # outside PyTorch's allocator

    def peak(self, mode: str) -> int:
        """Bytes of tensors on the device at the largest stage (PyTorch's allocator)."""
        return max(self.stage_peaks[mode].values())

    def device_peak(self, mode: str) -> int:
        """What nvidia-smi shows at that stage: tensors plus the context and NCCL's buffers."""
        return self.peak(mode) + sum(self.overhead.values())

    def fits(self, mode: str) -> bool:
        if self.free_bytes is None:
            return True
        # Free memory is read in this process, after its CUDA context was made; NCCL's buffers
        # are allocated later, at the first collective, so they still have to fit.
        later = sum(v for k, v in self.overhead.items() if k != "CUDA context")
        return self.peak(mode) + later <= usable(self.free_bytes)

    def render(self) -> str:
        gb = lambda b: f"{b / 1e9:8.2f} GB"  # noqa: E731 - decimal GB, as the official README
        lines = [
            f"Step-Video-TI2V plan: {self.tokens:,} tokens ({self.tokens_per_rank:,} per rank), "
            f"batch {self.batch_per_rank} per rank, {self.steps} steps, {str(self.dtype)[6:]}",
            "  weights:",
        ]
        lines += [f"    {k:<14}{gb(v)}" for k, v in self.weights.items()]
        lines += [
            f"  DiT activations (per rank)  {gb(self.dit_activation_bytes)}"
            + (f" (cross-attention mask {gb(self.cross_mask_bytes).strip()})" if self.cross_mask_bytes else ""),
            f"  VAE decode working set      {gb(self.vae_decode_bytes)}",
            f"  compute: {self.flops_per_step / 1e15:.2f} PFLOP per step per rank, "
            f"{self.flops_total / 1e15:.1f} PFLOP per video",
            "  device peak by offload mode:",
        ]
        for mode, stages in self.stage_peaks.items():
            worst = max(stages, key=stages.get)
            ok = "" if self.free_bytes is None else ("  fits" if self.fits(mode) else "  does NOT fit")
            lines.append(f"    {mode:<7}{gb(stages[worst])}  (largest stage: {worst}){ok}")
        if self.overhead:
            lines.append("  outside the allocator: " + ", ".join(f"{k} {gb(v).strip()}" for k, v in self.overhead.items()))
        free = "unknown" if self.free_bytes is None else gb(self.free_bytes).strip()
        lines.append(f"  free on {self.device}: {free}" +
                     (f"; chosen offload: {self.chosen}" if self.chosen else ""))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def usable(free_bytes: int) -> int:
    return int(free_bytes * (1 - RESERVE_FRACTION)) - RESERVE_BYTES


def vae_decode_bytes(cfg: VAEConfig, latent_frames: int, height: int, width: int,
                     dtype_bytes: int, tile: int | None = None) -> int:
    """Peak of one decode chunk (3 latents -> 17 frames; 20 before the first 3 are dropped).

    The largest tensors live at full resolution: the nearest-upsampled input of the last 2D
    upsample conv (dec_ch * mult[1] channels) next to its conv output and the level-0 res blocks'
    in/out; ~4 such tensors are alive at once. Tiling bounds H x W by the tile (plus overlap).
    """
    if tile is not None:
        height, width = min(height, tile + 128), min(width, tile + 128)
    frames = cfg.frames_per_chunk + 3
    wide = cfg.dec_ch * max(cfg.dec_ch_mult[:2])
    chunk_peak = 4 * wide * frames * height * width * dtype_bytes
    decoded = cfg.in_channels * latent_frames // 3 * cfg.frames_per_chunk * height * width * 4
    return chunk_peak + decoded


def dit_flops_per_forward(cfg: DiTConfig, tokens: int, text_tokens: int = 397) -> float:
    """Multiply-adds x 2 of one forward of one sample (patch embed and output head included)."""
    d, s, k = cfg.inner_dim, tokens, text_tokens
    per_block = 2 * s * 14 * d * d  # wqkv 3d^2, wo d^2, cross wq d^2 and wo d^2, FFN 8d^2
    per_block += 2 * k * 2 * d * d  # cross-attention K/V projection of the text
    per_block += 4 * s * s * d  # self-attention: QK^T and AV
    per_block += 4 * s * k * d  # cross-attention
    embed = 2 * s * cfg.patch_in_channels * cfg.patch_size**2 * d
    head = 2 * s * d * cfg.patch_size**2 * cfg.out_channels
    return cfg.num_layers * per_block + embed + head


def official_cross_mask_bytes(cfg: DiTConfig, batch: int, tokens_local: int, text_tokens: int) -> int:
    """The official cross-attention's mask workspace, alive together at its SDPA call.

    Upstream (stepvideo/modules/model.py `prepare_attn_mask`, attentions.py `torch_attn_func`)
    builds a bool mask [B, S_local, K] and repeats it over heads: [B, H, S_local, K] bool (1 byte).
    SDPA converts a bool mask to an additive bias of the query dtype (PyTorch attention.cpp
    `convert_boolean_attn_mask`: zeros_like + masked_fill, 2 bytes), and the mem-efficient kernel,
    the one that takes a bias, pads its last dim to a multiple of 16 (`pad_bias`, 2 bytes). K is the
    whole text (CLIP 77 + the prompt's LLM tokens, at most 320): the plan takes the upper bound.
    """
    k_padded = -(-text_tokens // MEM_EFF_BIAS_ALIGNMENT) * MEM_EFF_BIAS_ALIGNMENT
    per_query = cfg.num_attention_heads * (text_tokens * (1 + 2) + k_padded * 2)
    return batch * tokens_local * per_query


def process_overhead(device: str, ranks: int, sp_degree: int, cfg_degree: int) -> dict[str, int]:
    """Device memory outside PyTorch's allocator, per rank (the sources are at the constants).

    Connections per rank: Ulysses all_to_all reaches every other rank of its SP group
    (sp_degree - 1 peers); the all_gather after the blocks (SP) and the CFG gather are ring
    collectives, 2 neighbours each (1 when the group has 2 ranks). Each group is its own NCCL
    communicator (upstream: xfuser's groups and yunchang's ulysses group; here parallel.py's
    new_group per SP and CFG group), so connections do not share buffers.
    """
    if not str(device).startswith("cuda"):
        return {}
    if ranks <= 1:
        return {"CUDA context": CUDA_CONTEXT_BYTES}
    peers = 0
    if sp_degree > 1:
        peers += (sp_degree - 1) + min(2, sp_degree - 1)
    if cfg_degree > 1:
        peers += min(2, cfg_degree - 1)
    return {"CUDA context": CUDA_CONTEXT_BYTES,
            "NCCL init": NCCL_PROCESS_BYTES - CUDA_CONTEXT_BYTES,
            "NCCL connections": peers * NCCL_BYTES_PER_PEER}


def plan_memory(config: StepVideoConfig, *, latent_shape: tuple[int, int, int], steps: int,
                guidance: bool, dtype: torch.dtype, sp_degree: int = 1, cfg_degree: int = 1,
                free_bytes: int | None = None, device: str = "cpu", vae_tile: int | None = None,
                text_on_cpu: bool = False, implementation: str = "stepeval") -> MemoryPlan:
    """`implementation="official"` plans upstream's code (its cross-attention mask workspace) to
    compare with its published figures; the default plans this repository's pipeline."""
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}")
    f, h, w = latent_shape
    p = config.dit.patch_size
    tokens = f * (h // p) * (w // p)
    s_local = -(-tokens // sp_degree)
    batch = (2 if guidance else 1) // (cfg_degree if guidance else 1)
    nbytes = DTYPE_BYTES[dtype]
    d = config.dit.inner_dim
    height, width = h * config.vae.spatial_compression, w * config.vae.spatial_compression

    dit_w = dit_params(config.dit) * nbytes
    block_w = dit_block_params(config.dit) * nbytes
    weights = {
        "DiT": dit_w,
        "VAE": vae_params(config.vae) * nbytes,
        "Step-LLM": llm_params(config.llm) * nbytes,
        # Upstream runs CLIP in fp32 whatever the pipeline dtype; so do we.
        "CLIP": clip_params(config.clip) * 4,
    }
    unit = batch * s_local * d * nbytes
    units = BLOCK_ACTIVATION_UNITS + (ULYSSES_EXTRA_UNITS if sp_degree > 1 else 0)
    # After the blocks the shards are gathered: the full [B, S, d] sits beside the local one.
    gather = batch * tokens * d * nbytes if sp_degree > 1 else 0
    text_tokens = config.llm.max_length + config.clip.max_length
    text_kv = batch * text_tokens * d * nbytes * 3
    latents = 4 * batch * tokens * config.dit.in_channels * 4 * 4  # fp32 state, v, cond, noise
    # The mask workspace lives during cross-attention, not during the FFN that sets the block's
    # peak; it is added, not maxed, because the caching allocator keeps its blocks reserved
    # (they are smaller than the FFN's 4d tensors, so those cannot reuse them): the published
    # peaks are device-level, and they match only with it added.
    cross_mask = (official_cross_mask_bytes(config.dit, batch, s_local, text_tokens)
                  if implementation == "official" else 0)
    dit_act = units * unit + gather + text_kv + latents + cross_mask
    vae_dec = vae_decode_bytes(config.vae, f, height, width, nbytes, vae_tile)
    # One 320-token prompt pair through the LLM: a few [B, L, ffn] tensors.
    text_act = 2 * config.llm.max_length * (4 * config.llm.ffn_hidden_size) * nbytes
    text_w = 0 if text_on_cpu else weights["Step-LLM"] + weights["CLIP"]
    text_a = 0 if text_on_cpu else text_act
    vae_enc = weights["VAE"] + vae_decode_bytes(config.vae, 1, height, width, nbytes, vae_tile) // 4

    everything = sum(weights.values()) - (0 if text_w else weights["Step-LLM"] + weights["CLIP"])
    stage_peaks = {
        "none": {
            "text encode": everything + text_a,
            "VAE encode": everything + vae_enc - weights["VAE"],
            "denoise": everything + dit_act,
            "VAE decode": everything + vae_dec,
        },
        "model": {
            "text encode": text_w + text_a,
            "VAE encode": vae_enc,
            "denoise": dit_w + dit_act,
            "VAE decode": weights["VAE"] + vae_dec,
        },
    }
    # Streaming keeps the non-block weights plus two blocks (the running one and the next).
    streamed = dit_w - config.dit.num_layers * block_w + 2 * block_w
    stage_peaks["blocks"] = dict(stage_peaks["model"], denoise=streamed + dit_act)

    per_forward = dit_flops_per_forward(config.dit, tokens, text_tokens)
    per_rank_step = per_forward * batch / sp_degree
    total = per_forward * (2 if guidance else 1) * steps
    plan = MemoryPlan(tokens, s_local, batch, steps, dtype, weights, dit_act, vae_dec, text_act,
                      stage_peaks, per_rank_step, total, free_bytes, device, cross_mask_bytes=cross_mask,
                      overhead=process_overhead(device, sp_degree * cfg_degree, sp_degree, cfg_degree))
    if sp_degree > 1 or cfg_degree > 1:
        plan.notes.append("every rank holds the full DiT weights (replicated, as upstream)")
    return plan


# Step-Video-T2V README (stepfun-ai/Step-Video-T2V, table added 2025-02-17/20, when the command
# was `torchrun --nproc_per_node 4 run_parallel.py --ulysses_degree 4`): batch 1 with CFG, four
# GPUs, Ulysses SP=4, the DiT alone on them (text encoders and VAE behind an API on another GPU).
# (frames, height, width, peak GB, seconds for 50 steps with flash-attn); docs/stepvideo-architecture.md section 7.
PUBLISHED_T2V = (
    (204, 768, 768, 78.55, 860),
    (204, 544, 992, 77.64, 743),
    (136, 544, 992, 72.48, 408),
)


def published_t2v_plan(frames: int, height: int, width: int) -> MemoryPlan:
    """The planner in the published figures' setting: T2V preset (no image channels, no motion
    embedder), upstream's implementation, SP=4 on CUDA, bf16, 50 steps with CFG. Its denoise stage
    under offload="model" is the DiT alone, as on upstream's DiT GPUs; compare `device_peak`."""
    import dataclasses

    from .conditioning import resolve_geometry
    from .config import get_preset

    cfg = get_preset("official")
    cfg.dit = dataclasses.replace(cfg.dit, use_additional_conditions=False)
    geo = resolve_geometry(frames, height, width)
    return plan_memory(cfg, latent_shape=geo.latent_shape, steps=50, guidance=True, dtype=torch.bfloat16,
                       sp_degree=4, device="cuda", implementation="official")


def free_memory(device: torch.device | str) -> int | None:
    """Free bytes on the device: CUDA's own count, or MemAvailable of the host for the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "cpu":
        try:
            with open("/proc/meminfo") as fh:
                for line in fh:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
    return None


def choose_offload(plan: MemoryPlan, requested: str) -> str:
    """The offload mode to run with, or a UserError saying what would fit."""
    if requested not in OFFLOAD_MODES:
        raise UserError(f"unknown offload mode {requested!r}", hint=f"use one of {OFFLOAD_MODES}")
    candidates = ("none", "model", "blocks") if requested == "auto" else (requested,)
    for mode in candidates:
        if plan.fits(mode):
            plan.chosen = mode
            return mode
    need = min(plan.peak(m) for m in ("none", "model", "blocks"))
    best = min(("none", "model", "blocks"), key=plan.peak)
    raise UserError(
        f"this video does not fit on {plan.device}: it needs about {plan.peak(candidates[-1]) / 1e9:.1f}"
        f" GB with offload={candidates[-1]!r}, and {plan.free_bytes / 1e9:.1f} GB are free "
        f"(the least any mode needs is {need / 1e9:.1f} GB, with offload={best!r})",
        hint="use offload='auto' or 'blocks', a smaller size or fewer frames, a tiled VAE decode "
             "(vae_tile=256), text_on_cpu, or more GPUs (sp_degree / cfg_degree)",
    )


# -------------------------------------------------------------------------------------------------
# Offload mechanics
# -------------------------------------------------------------------------------------------------


def empty_cache(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


@contextlib.contextmanager
def on_device(module: nn.Module, device: torch.device, offload: bool):
    """Run a stage with `module` on `device`; with offload, move it there only for the stage."""
    if not offload:
        yield module
        return
    module.to(device)
    try:
        yield module
    finally:
        module.to("cpu")
        empty_cache(device)


class BlockStreamer:
    """Keep a DiT's transformer blocks on the CPU and move each to the device just for its forward.

    Everything else of the DiT (embedders, projections, output head) stays on the device. Hooks
    make `run_blocks` stream without knowing. Weights never change during inference, so each
    block keeps one (pinned, on CUDA) CPU copy: loading copies it in, unloading just drops the
    device copy instead of copying back.
    """

    def __init__(self, dit: nn.Module, device: torch.device):
        self.device = device
        self.handles = []
        self.cpu_copies: dict[int, list[tuple[nn.Parameter, torch.Tensor]]] = {}
        for name, child in dit.named_children():
            if name != "transformer_blocks":
                child.to(device)
        for p in dit._parameters.values():  # the final scale_shift_table
            if p is not None:
                p.data = p.data.to(device)
        for block in dit.transformer_blocks:
            block.to("cpu")
            copies = []
            for p in block.parameters():
                data = p.data.pin_memory() if device.type == "cuda" else p.data
                p.data = data
                copies.append((p, data))
            self.cpu_copies[id(block)] = copies
            self.handles.append(block.register_forward_pre_hook(self._load))
            self.handles.append(block.register_forward_hook(self._unload))

    def _load(self, block, args):
        for p, data in self.cpu_copies[id(block)]:
            p.data = data.to(self.device, non_blocking=True)

    def _unload(self, block, args, output):
        for p, data in self.cpu_copies[id(block)]:
            p.data = data

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()


def human_bytes(n: float) -> str:
    if n <= 0:
        return "0 B"
    k = min(int(math.log(n, 1024)), 4)
    return f"{n / 1024**k:.1f} {['B', 'KiB', 'MiB', 'GiB', 'TiB'][k]}"

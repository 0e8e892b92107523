"""The official-size Step-Video-TI2V on one GPU: denoising step, attention backend, VAE decode.

    python benchmarks/gpu/official_step.py [--out runs/gpu/official_step.json]   # one H100/H200
    python benchmarks/gpu/official_step.py --tiny                               # CPU, seconds (CI)

No weights are downloaded and no host-side state dict exists: the networks are built on the meta
device, materialised on the GPU with `to_empty`, and filled by an init that runs on the GPU
(timings do not depend on the values; the output is checked to be finite all the same).

What is measured, in order, each in the same run as its reference:
1. bf16 matmul rate (square GEMMs): the reference for the step's efficiency.
2. Attention backends: each SDPA backend is forced alone (torch.nn.attention.sdpa_kernel) on the
   self-attention's shape; one that cannot run raises and is recorded as such; the fastest that
   ran is used for the step (forced alone again, so the step cannot silently fall back).
3. One denoising step at 544x992x102 (TI2V default) with CFG (batch 2): seconds (median of
   `--steps`), achieved TFLOP/s from the planner's FLOP count (generators.stepvideo.memory), its
   ratio to (1), peak memory vs the planner's estimate of the denoise stage. An out-of-memory is
   recorded as the step's error, not fatal.
4. The same step with torch.compile (regional: each transformer block compiled; identical blocks
   share one graph, so compile time is that of one block, not 48). Aborted and recorded as an
   error if the blocks did not share their graph (more than MAX_UNIQUE_GRAPHS after the first
   step); marked `valid: false` if dynamo broke the graph.
5. VAE decode of one latent video at full size, untiled and tiled, after the DiT is freed: seconds
   and peak memory above the VAE's own weights; any runtime error (out of memory, size limits of
   a kernel, cuDNN) is recorded as the row's error, not fatal.

Time: `--budget-s` (420 s) counts from the first section; the wrapper's 8 minutes also cover
nvidia-smi and importing torch. The compiled step runs only if `--compile-est-s` plus
(steps + 1) eager steps fits in what is left after `--vae-reserve-s`; each VAE decode is first
timed on one chunk of latents and skipped if its extrapolation does not fit. Skipped sections are
recorded as such.

Output: `<out>.partial.json` is rewritten after every section (and on SIGTERM, e.g. the wrapper's
`timeout`), so a run cut short keeps what it measured; the final JSON is written to `--out`, then
validated against official_step.schema.json (beside this file): exit 1 if it does not conform.
`--tiny` runs every section on the CPU with the tiny preset in fp32.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import platform
import signal
import socket
import statistics
import sys
import time
import warnings
from pathlib import Path

# Imported before torch so that a missing validator stops the run at its start, not after it.
try:
    import jsonschema
except ImportError:
    raise SystemExit("official_step.py validates its output with jsonschema (a dev extra): "
                     "pip install 'jsonschema>=4.18'  (or: pip install -e '.[dev]')") from None
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from generators.stepvideo import memory  # noqa: E402
from generators.stepvideo.conditioning import resolve_geometry  # noqa: E402
from generators.stepvideo.config import get_preset  # noqa: E402
from generators.stepvideo.dit import StepVideoModel  # noqa: E402
from generators.stepvideo.vae import StepVideoVAE  # noqa: E402

SCHEMA_PATH = Path(__file__).with_name("official_step.schema.json")
SCHEMA_VERSION = 2
BACKEND_NAMES = ("CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH")
# Materialising S x S scores is what the fused backends avoid; past this the math backend is not
# even tried on the GPU (at 37,944 tokens it would need ~276 GB).
MATH_SCORE_LIMIT_BYTES = 8 * 1024**3
# torch.OutOfMemoryError exists from torch 2.5; torch.cuda's alias is older (the floor is 2.4).
_OOM = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
# Regional compilation shares one graph among the identical blocks; more than this after the first
# step means dynamo is compiling block by block (48 compiles would eat the budget).
MAX_UNIQUE_GRAPHS = 2
# Low on purpose: a per-block recompile stops at this many and shows in the graph count.
RECOMPILE_LIMIT = 8

FULL = dict(preset="official", frames=102, height=544, width=992, dtype=torch.bfloat16,
            matmul_n=8192, vae_tile=256, vae_overlap=64)
# 34 frames: two chunks of latents, so the VAE's one-chunk estimate runs in CI too.
TINY = dict(preset="tiny", frames=34, height=32, width=48, dtype=torch.float32,
            matmul_n=256, vae_tile=32, vae_overlap=16)


# -------------------------------------------------------------------------------------------------
# Timing, memory, errors
# -------------------------------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


class Peak:
    """Peak bytes allocated during the block, above what was allocated when it began (CUDA);
    None on the CPU, where the process RSS would mostly measure the allocator's history."""

    def __init__(self, device: torch.device):
        self.device = device
        self.above = self.allocated = self.reserved = None

    def __enter__(self):
        if self.device.type == "cuda":
            sync(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            sync(self.device)
            self.allocated = torch.cuda.max_memory_allocated(self.device)
            self.reserved = torch.cuda.max_memory_reserved(self.device)
            self.above = self.allocated - self._base
        return False


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The message's first line; the type name when the message is empty."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:limit]


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, _OOM) or "out of memory" in str(exc).lower()


def describe(exc: BaseException, limit: int = 300) -> str:
    """"out of memory: ..." for an OOM, else "<type>: ...": the two call for different fixes."""
    kind = "out of memory" if is_oom(exc) else type(exc).__name__
    return f"{kind}: {first_line(exc, limit)}" if str(exc).strip() else kind


def free_cache(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


# -------------------------------------------------------------------------------------------------
# Building the networks on the device
# -------------------------------------------------------------------------------------------------


@torch.no_grad()
def init_on_device(module: nn.Module, seed: int) -> None:
    """Random weights drawn on the module's own device: matrices N(0, 1/fan_in) so activations
    keep their scale through 48 blocks, norm weights 1, biases 0, modulation tables as upstream's
    randn / sqrt(d)."""
    gen_device = next(module.parameters()).device
    gen = torch.Generator(device=gen_device).manual_seed(seed)
    for name, p in module.named_parameters():
        if name.endswith("scale_shift_table"):
            p.copy_(torch.randn(p.shape, generator=gen, device=gen_device, dtype=p.dtype) / p.shape[-1] ** 0.5)
        elif p.dim() >= 2:
            fan_in = math.prod(p.shape[1:])
            p.copy_(torch.randn(p.shape, generator=gen, device=gen_device, dtype=p.dtype) / fan_in**0.5)
        elif name.endswith("bias"):
            p.zero_()
        else:  # norm weights
            p.fill_(1.0)
    for b in module.buffers():
        b.zero_()


def build_on_device(cls, config, device: torch.device, dtype: torch.dtype, seed: int) -> nn.Module:
    """meta -> dtype -> to_empty(device) -> init on device: no host copy of the weights."""
    with torch.device("meta"):
        module = cls(config)
    module = module.to(dtype).to_empty(device=device)
    init_on_device(module, seed)
    return module.eval().requires_grad_(False)


# -------------------------------------------------------------------------------------------------
# Sections
# -------------------------------------------------------------------------------------------------


def matmul_rate(device: torch.device, dtype: torch.dtype, n: int, reps: int = 10) -> dict:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    torch.mm(a, b)
    times = [timed(lambda: torch.mm(a, b), device) for _ in range(reps)]
    best = min(times)
    return {"n": n, "dtype": str(dtype).removeprefix("torch."), "reps": reps,
            "best_s": best, "tflops": 2 * n**3 / best / 1e12}


def _backend(name: str):
    from torch.nn.attention import SDPBackend

    return getattr(SDPBackend, name)


def forced(name: str):
    """Only this SDPA backend may run: if it cannot, SDPA raises instead of falling back."""
    from torch.nn.attention import sdpa_kernel

    return sdpa_kernel([_backend(name)])


def probe_attention(device: torch.device, dtype: torch.dtype, batch: int, heads: int, seq: int,
                    head_dim: int, reps: int = 3) -> list[dict]:
    """Each backend alone on the self-attention's [B, H, S, D]; time of the ones that run."""
    q, k, v = (torch.randn(batch, heads, seq, head_dim, device=device, dtype=dtype) for _ in range(3))
    score_bytes = batch * heads * seq * seq * q.element_size()
    results = []
    for name in BACKEND_NAMES:
        row = {"backend": name, "ok": False, "seconds": None, "tflops": None, "error": None}
        if not hasattr(torch.nn.attention.SDPBackend, name):
            row["error"] = "not in this torch build"
            results.append(row)
            continue
        if name == "MATH" and device.type == "cuda" and score_bytes > MATH_SCORE_LIMIT_BYTES:
            row["error"] = f"not tried: materialises {score_bytes / 1e9:.0f} GB of scores"
            results.append(row)
            continue
        try:
            with forced(name):
                torch.nn.functional.scaled_dot_product_attention(q, k, v)  # warm-up / capability
                times = [timed(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v), device)
                         for _ in range(reps)]
            row.update(ok=True, seconds=min(times),
                       tflops=4 * batch * heads * seq * seq * head_dim / min(times) / 1e12)
        except RuntimeError as exc:  # "No available kernel", unsupported dtype/arch, OOM
            row["error"] = first_line(exc)
        if not row["ok"]:
            free_cache(device)  # outside `except`: until then the traceback holds the tensors
        results.append(row)
    return results


def kernels_of(fn, device: torch.device) -> list[str]:
    """Names of the device kernels (CPU ops on the CPU) one call runs, attention-looking first."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    try:
        with profile(activities=acts) as prof:
            fn()
            sync(device)
        names = {e.key for e in prof.key_averages()}
    except RuntimeError as exc:  # no CUPTI in this environment: the forced backend still proves it
        return [f"profiler unavailable: {first_line(exc, 120)}"]
    keys = ("attention", "attn", "fmha", "flash", "cudnn", "sdpa", "softmax")
    return sorted(n for n in names if any(k in n.lower() for k in keys))[:20]


class DenoiseStep:
    """One CFG denoising step as the pipeline runs it: the DiT on [cond; uncond], then the guided
    velocity and the Euler update."""

    def __init__(self, dit: StepVideoModel, latent_shape, device, dtype, guidance: float = 9.0, seed: int = 0):
        cfg = dit.config
        f, h, w = latent_shape
        gen = torch.Generator(device=device).manual_seed(seed)
        rnd = lambda *s: torch.randn(*s, generator=gen, device=device, dtype=dtype)  # noqa: E731
        self.dit, self.guidance = dit, guidance
        self.latents = torch.randn(1, f, cfg.in_channels, h, w, generator=gen, device=device)  # fp32 state
        image_latent = torch.zeros(1, f, cfg.in_channels, h, w, device=device, dtype=dtype)
        image_latent[:, 0] = rnd(1, cfg.in_channels, h, w)
        self.cond = image_latent.expand(2, -1, -1, -1, -1) if cfg.use_additional_conditions else None
        llm_w, clip_w = cfg.caption_channels
        self.text = rnd(2, 320, llm_w)
        self.clip = rnd(2, 77, clip_w)
        self.mask = torch.ones(2, 77 + 320, device=device, dtype=torch.long)

    def __call__(self, t: float = 0.5, dt_: float = 0.02) -> torch.Tensor:
        x = self.latents.to(self.text.dtype).expand(2, -1, -1, -1, -1)
        with torch.no_grad():
            v = self.dit(x, self.text, self.clip, t, self.mask, 5.0, self.cond)
        v_cond, v_uncond = v.float().chunk(2)
        v = v_uncond + self.guidance * (v_cond - v_uncond)
        return self.latents + dt_ * v  # not stored: every timed step sees the same input


def measure_steps(step: DenoiseStep, device, steps: int, after_first=None) -> dict:
    """One warm-up call (allocator, cuDNN/cuBLAS plans, compile), `after_first()` (which may raise
    to stop here), then `steps` timed calls."""
    first = timed(step, device)
    if after_first is not None:
        after_first()
    out = {}
    with Peak(device) as peak:
        times = []
        for _ in range(steps):
            result = {}
            times.append(timed(lambda: result.setdefault("x", step()), device))
    out.update(first_call_s=first, seconds=times, median_s=statistics.median(times),
               finite=bool(torch.isfinite(result["x"]).all()),
               peak_allocated_bytes=peak.allocated, peak_reserved_bytes=peak.reserved)
    return out


def vae_decode(vae: StepVideoVAE, latent_shape, device, dtype, tile: int | None, overlap: int) -> dict:
    f, h, w = latent_shape
    z = torch.randn(1, f, vae.config.z_channels, h, w, device=device, dtype=dtype)
    row = {"tile_px": tile, "overlap_px": overlap if tile else None, "ok": False, "seconds": None,
           "peak_above_resident_bytes": None, "peak_reserved_bytes": None, "frames": None, "error": None}
    try:
        with Peak(device) as peak:
            t0 = time.perf_counter()
            video = vae.decode(z, tile_size=tile, tile_overlap=overlap)
            sync(device)
            row["seconds"] = time.perf_counter() - t0
        row.update(ok=True, frames=int(video.shape[1]), peak_above_resident_bytes=peak.above,
                   peak_reserved_bytes=peak.reserved)
        del video
    # Untiled at 544x992, OOM is not the only way to fail: upsample_nearest3d's INT_MAX element
    # limit (torch 2.4-2.6), "Unable to find a valid cuDNN algorithm", CUDNN_STATUS_*. Each is a
    # finding about the untiled path, so it is recorded like an OOM.
    except RuntimeError as exc:
        row["error"] = describe(exc, 200)
    free_cache(device)
    return row


class CompileInvalid(Exception):
    """The compiled step would not measure what it claims (per-block graphs)."""


def compile_blocks(dit: StepVideoModel, backend: str) -> None:
    """Regional compilation: each block's forward compiled in place. Blocks share the code object,
    so dynamo compiles one graph and reuses it for all of them (parameters are graph inputs)."""
    import torch._dynamo

    cfg = torch._dynamo.config
    # Before torch 2.5 dynamo guards on each block instance unless nn modules are inlined (then
    # parameters become graph inputs): without this, 48 blocks are 48 compiles. Newer torch always
    # inlines and warns that the flag is deprecated when it is read.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        if getattr(cfg, "inline_inbuilt_nn_modules", True) is False:
            cfg.inline_inbuilt_nn_modules = True
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(cfg, name):
            setattr(cfg, name, RECOMPILE_LIMIT)
    torch._dynamo.reset()
    dynamo_counters().clear()  # graph counts below are this section's alone
    for block in dit.transformer_blocks:
        block.compile(backend=backend, dynamic=False)


def dynamo_counters():
    from torch._dynamo.utils import counters

    return counters


def unique_graphs() -> int | None:
    try:
        return int(dynamo_counters()["stats"]["unique_graphs"])
    except Exception:  # a private counter: absent in some versions
        return None


def graph_breaks() -> int | None:
    """Graph breaks so far: each one runs part of the block eagerly, so the compiled time is not
    that of the compiled block."""
    try:
        return int(sum(dynamo_counters()["graph_break"].values()))
    except Exception:  # a private counter: absent in some versions
        return None


def release_dit(device: torch.device) -> None:
    """Give the DiT's memory back once the caller dropped its references: the compiled code's
    caches still hold the blocks until dynamo is reset."""
    import torch._dynamo

    torch._dynamo.reset()
    gc.collect()
    free_cache(device)


# -------------------------------------------------------------------------------------------------
# The run
# -------------------------------------------------------------------------------------------------


def environment(device: torch.device) -> dict:
    env = {"torch": torch.__version__, "python": platform.python_version(), "host": socket.gethostname(),
           "platform": platform.platform(), "device": str(device), "device_name": None,
           "device_total_bytes": None, "cuda": torch.version.cuda, "cudnn": None,
           "cpu_count": os.cpu_count()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(device_name=props.name, device_total_bytes=props.total_memory,
                   cudnn=torch.backends.cudnn.version())
    else:
        env["device_name"] = platform.processor() or platform.machine()
    return env


def run(args, result: dict, checkpoint) -> None:
    """Fill `result` section by section, calling `checkpoint()` after each."""
    spec = TINY if args.tiny else FULL
    device = torch.device(args.device or ("cpu" if args.tiny else "cuda"))
    dtype = spec["dtype"]
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on a GPU machine, or use --tiny for the CPU version")
    t_start = time.perf_counter()
    left = lambda: args.budget_s - (time.perf_counter() - t_start)  # noqa: E731
    torch.manual_seed(args.seed)
    cfg = get_preset(spec["preset"])
    geo = resolve_geometry(spec["frames"], spec["height"], spec["width"],
                           spatial_compression=cfg.vae.spatial_compression,
                           spatial_unit=cfg.vae.spatial_compression * cfg.dit.patch_size)
    latent_shape = geo.latent_shape
    plan = memory.plan_memory(cfg, latent_shape=latent_shape, steps=50, guidance=True, dtype=dtype,
                              device=str(device))
    flops_step = plan.flops_per_step  # batch 2 (CFG), one rank
    result.update({
        "schema_version": SCHEMA_VERSION,
        "partial": True,
        "tiny": bool(args.tiny),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
        "environment": environment(device),
        "config": {"preset": spec["preset"], "frames": geo.frames, "height": geo.height,
                   "width": geo.width, "latent_shape": list(latent_shape), "tokens": plan.tokens,
                   "batch": 2, "guidance": True, "dtype": str(dtype).removeprefix("torch."),
                   "steps_timed": args.steps, "seed": args.seed},
        "skipped": [],
    })
    checkpoint()

    # 1. the reference rate
    result["matmul"] = matmul_rate(device, dtype, spec["matmul_n"])
    checkpoint()

    # 2. attention backends at the self-attention's shape
    d = cfg.dit
    probes = probe_attention(device, dtype, 2, d.num_attention_heads, plan.tokens, d.attention_head_dim)
    working = [p for p in probes if p["ok"]]
    result["attention"] = {"probes": probes, "chosen": None, "used_in_step": None, "kernels": [],
                           "step_fallback_errors": []}
    checkpoint()
    if not working:
        raise SystemExit("no SDPA backend ran at the self-attention shape: " +
                         "; ".join(f"{p['backend']}: {p['error']}" for p in probes))
    fastest = min(working, key=lambda p: p["seconds"])["backend"]
    result["attention"]["chosen"] = fastest

    # 3. the eager step
    t0 = time.perf_counter()
    dit = build_on_device(StepVideoModel, cfg.dit, device, dtype, args.seed)
    sync(device)  # the init kernels are asynchronous: build_s must include them
    build_s = time.perf_counter() - t0
    step = DenoiseStep(dit, latent_shape, device, dtype, seed=args.seed)
    planned = plan.stage_peaks["model"]["denoise"]
    result["step"] = {"error": None, "build_s": build_s, "dit_params": sum(p.numel() for p in dit.parameters()),
                      "flops_per_step": flops_step, "planner_denoise_bytes": planned}
    order = [fastest] + [p["backend"] for p in sorted(working, key=lambda p: p["seconds"]) if p["backend"] != fastest]
    eager, errors = None, result["attention"]["step_fallback_errors"]
    for name in order:
        try:
            with forced(name):
                eager = measure_steps(step, device, args.steps)
        except RuntimeError as exc:
            errors.append(f"{name}: {describe(exc, 200)}")
            oom = is_oom(exc)
        else:
            result["attention"]["used_in_step"] = name
            break
        free_cache(device)  # outside `except`: until then the traceback holds the step's activations
        if oom:  # memory, not the backend: the next backend would not fit either
            break
    used = result["attention"]["used_in_step"]
    if eager is None:  # recorded, not raised: an OOM at the official size is itself the finding
        result["step"]["error"] = "; ".join(errors)
    else:
        q = torch.randn(2, d.num_attention_heads, min(plan.tokens, 4096), d.attention_head_dim,
                        device=device, dtype=dtype)
        with forced(used):
            result["attention"]["kernels"] = kernels_of(
                lambda: torch.nn.functional.scaled_dot_product_attention(q, q, q), device)
        del q
        tflops = flops_step / eager["median_s"] / 1e12
        result["step"].update(
            eager, tflops=tflops, fraction_of_matmul=tflops / result["matmul"]["tflops"],
            peak_vs_planner=None if eager["peak_allocated_bytes"] is None else eager["peak_allocated_bytes"] / planned)
    checkpoint()

    # 4. the same step, compiled
    result["compiled"] = None
    est_compile = None if eager is None else args.compile_est_s + (args.steps + 1) * eager["median_s"]
    if args.no_compile:
        result["skipped"].append("compiled: --no-compile")
    elif eager is None:
        result["skipped"].append("compiled: the eager step did not run")
    elif est_compile > left() - args.vae_reserve_s:
        result["skipped"].append(f"compiled: time budget (estimated {est_compile:.0f} s, "
                                 f"{left() - args.vae_reserve_s:.0f} s left before the VAE's reserve)")
    else:
        compile_blocks(dit, args.compile_backend)
        counts = lambda: {"unique_graphs": unique_graphs(), "graph_breaks": graph_breaks()}  # noqa: E731

        def check_graphs():
            n = unique_graphs()
            if n is not None and n > MAX_UNIQUE_GRAPHS:
                raise CompileInvalid(f"{n} unique graphs after the first step: the blocks did not share "
                                     f"one graph (more than {MAX_UNIQUE_GRAPHS}), timing not attempted")

        try:
            with forced(used):
                comp = measure_steps(step, device, args.steps, after_first=check_graphs)
            c_tflops = flops_step / comp["median_s"] / 1e12
            c = counts()
            reasons = ([f"{c['graph_breaks']} graph break(s)"] if c["graph_breaks"] else []) + (
                [f"{c['unique_graphs']} unique graphs"] if (c["unique_graphs"] or 0) > MAX_UNIQUE_GRAPHS else [])
            result["compiled"] = {**comp, "backend": args.compile_backend, **c,
                                  "valid": not reasons, "invalid_reason": "; ".join(reasons) or None,
                                  "tflops": c_tflops,
                                  "fraction_of_matmul": c_tflops / result["matmul"]["tflops"],
                                  "speedup_vs_eager": eager["median_s"] / comp["median_s"], "error": None}
        except CompileInvalid as exc:
            result["compiled"] = {"backend": args.compile_backend, **counts(), "error": f"invalid: {exc}"}
        except Exception as exc:  # a compiler failure is a result to record, not a crash
            result["compiled"] = {"backend": args.compile_backend, **counts(), "error": describe(exc)}
    # The VAE decode is measured alone: the DiT's 58.8 GB (official size) would otherwise both
    # inflate "resident" and leave the untiled decode too little memory.
    del dit, step
    release_dit(device)
    checkpoint()

    # 5. VAE decode of one latent video, untiled then tiled
    result["vae_decode"] = []
    vae = build_on_device(StepVideoVAE, cfg.vae, device, dtype, args.seed)
    planned_vae = {None: plan.vae_decode_bytes,
                   spec["vae_tile"]: memory.vae_decode_bytes(cfg.vae, latent_shape[0], geo.height, geo.width,
                                                             memory.DTYPE_BYTES[dtype], spec["vae_tile"])}
    per_chunk = vae.config.latents_per_chunk
    n_chunks = math.ceil(latent_shape[0] / per_chunk)
    last_chunk_s = 0.0
    for tile in (None, spec["vae_tile"]):
        name = f"vae_decode tile={tile}"
        # The previous row's one-chunk time stands in for this row's estimate's own cost.
        if left() < last_chunk_s:
            result["skipped"].append(f"{name}: time budget (before its one-chunk estimate)")
            continue
        # A decode cannot be stopped once begun: one chunk of latents first gives its cost.
        if n_chunks > 1:
            probe = vae_decode(vae, (per_chunk, *latent_shape[1:]), device, dtype, tile, spec["vae_overlap"])
            if not probe["ok"]:  # the full decode would fail the same way: record it, skip it
                result["vae_decode"].append({**probe, "error": f"one-chunk estimate: {probe['error']}",
                                             "planner_bytes": planned_vae[tile]})
                checkpoint()
                continue
            last_chunk_s = probe["seconds"]
            if n_chunks * last_chunk_s > left():
                result["skipped"].append(f"{name}: time budget (estimated {n_chunks * last_chunk_s:.0f} s)")
                continue
        row = vae_decode(vae, latent_shape, device, dtype, tile, spec["vae_overlap"])
        row["planner_bytes"] = planned_vae[tile]
        result["vae_decode"].append(row)
        checkpoint()
    del vae
    free_cache(device)
    result["total_s"] = time.perf_counter() - t_start


# -------------------------------------------------------------------------------------------------
# Output, schema and report
# -------------------------------------------------------------------------------------------------


def write_json(path: Path, obj: dict) -> None:
    """Whole or not at all: a reader (or a kill mid-write) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    tmp.replace(path)


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def _gb(n) -> str:
    return "-" if n is None else f"{n / 1e9:.2f} GB"


def table(r: dict) -> str:
    s, m = r["step"], r["matmul"]
    c = r["config"]
    lines = [
        f"{r['environment']['device_name']} | torch {r['environment']['torch']} | {c['preset']} "
        f"{c['height']}x{c['width']}x{c['frames']} ({c['tokens']:,} tokens, batch {c['batch']}, {c['dtype']})",
        f"matmul {m['n']}^3 {m['dtype']}: {m['tflops']:.1f} TFLOP/s",
        "attention: " + ", ".join(
            f"{p['backend']} {p['tflops']:.1f} TFLOP/s" if p["ok"] else f"{p['backend']} no"
            for p in r["attention"]["probes"]) + f"; step used {r['attention']['used_in_step']}",
        "",
        f"{'':<22}{'s/step':>9}{'TFLOP/s':>9}{'of matmul':>10}{'peak':>11}{'planner':>11}",
    ]
    if s["error"] is None:
        lines.append(f"{'eager step':<22}{s['median_s']:>9.3f}{s['tflops']:>9.1f}{s['fraction_of_matmul']:>10.0%}"
                     f"{_gb(s['peak_allocated_bytes']):>11}{_gb(s['planner_denoise_bytes']):>11}")
    else:
        lines.append(f"{'eager step':<22} failed: {s['error']}")
    comp = r.get("compiled")
    if comp and comp.get("error") is None:
        lines.append(f"{'compiled step':<22}{comp['median_s']:>9.3f}{comp['tflops']:>9.1f}"
                     f"{comp['fraction_of_matmul']:>10.0%}{_gb(comp['peak_allocated_bytes']):>11}"
                     f"{'':>11}  x{comp['speedup_vs_eager']:.2f}, {comp['unique_graphs']} graph(s)"
                     + ("" if comp["valid"] else f", INVALID: {comp['invalid_reason']}"))
    elif comp:
        lines.append(f"{'compiled step':<22} failed: {comp['error']}")
    for v in r["vae_decode"]:
        name = f"VAE decode {'untiled' if v['tile_px'] is None else 'tile ' + str(v['tile_px'])}"
        if v["ok"]:
            lines.append(f"{name:<22}{v['seconds']:>9.2f}{'':>9}{'':>10}"
                         f"{_gb(v['peak_above_resident_bytes']):>11}{_gb(v['planner_bytes']):>11}")
        else:
            lines.append(f"{name:<22} {v['error']}")
    lines += [f"skipped: {x}" for x in r["skipped"]]
    lines.append(f"total {r['total_s']:.1f} s")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny preset on the CPU in fp32 (CI)")
    ap.add_argument("--device", default=None, help="default: cuda, or cpu with --tiny")
    ap.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON path (default runs/gpu/official_step[-tiny].json; runs/ is git-ignored)")
    ap.add_argument("--budget-s", type=float, default=420.0,
                    help="skip sections that would run past this (the wrapper's 480 s also covers "
                         "nvidia-smi and importing torch)")
    ap.add_argument("--vae-reserve-s", type=float, default=120.0,
                    help="kept for the VAE decode when deciding whether the compiled step fits")
    ap.add_argument("--compile-est-s", type=float, default=120.0,
                    help="expected compile time of one block's graph (the first compiled call)")
    ap.add_argument("--compile-backend", default="inductor")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = args.out or Path("runs/gpu") / ("official_step-tiny.json" if args.tiny else "official_step.json")
    partial = out.with_name(out.stem + ".partial.json")
    result: dict = {}
    checkpoint = lambda: write_json(partial, result)  # noqa: E731

    def on_sigterm(signum, frame):  # the wrapper's `timeout`: keep what was measured, then stop
        result["interrupted"] = f"{signal.Signals(signum).name} during the run"
        checkpoint()
        print(f"\n{signal.Signals(signum).name}: partial result in {partial}", flush=True)
        os._exit(128 + signum)  # not an exception: a section's `except` must not swallow it

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        run(args, result, checkpoint)
    except BaseException as exc:  # a crash or a SystemExit of the run's own: keep the partial result
        result["interrupted"] = f"{type(exc).__name__}: {first_line(exc)}"
        checkpoint()
        print(f"partial result in {partial}", file=sys.stderr)
        raise
    result["partial"] = False
    # Written before validation: a schema mismatch must not throw the measurements away.
    write_json(out, result)
    partial.unlink(missing_ok=True)
    print(table(result))
    print(f"wrote {out}")
    try:
        jsonschema.validate(result, load_schema())
    except jsonschema.ValidationError as exc:
        print(f"{out} does not conform to {SCHEMA_PATH.name}: {exc.message} at "
              f"/{'/'.join(map(str, exc.absolute_path))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

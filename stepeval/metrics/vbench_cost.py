"""What a VBench-I2V run will cost, per dimension: time on the devices given, memory, CPU or GPU.

The estimate is built from per-frame costs measured by `benchmarks/vbench_dims.py` on a CPU at CI sizes
(vbench_cost.json beside this module: model load seconds, seconds and FLOPs per unit, peak RSS) and
from how each dimension's work grows with the video, read off vbench 0.1.5's code:

- units: what the dimension runs its model on per video: every frame (the consistency, aesthetic,
  imaging and camera dimensions; the i2v ones also embed the input image once), the frame pairs
  RAFT sees after sampling at about 8 fps (dynamic_degree: interval round(fps / 8)), or the pairs of
  even frames AMT interpolates between (motion_smoothness);
- scale: how one unit's work grows with the frame size, relative to the square CI frames: not at all
  for models that resize to a fixed input (CLIP, DreamSim, DINO after a centre crop, CoTracker's
  384x512), with the aspect for DINO resized by its short side (subject_consistency), with the pixels
  for models run at the video's own size (RAFT, AMT), and partly for MUSIQ (its patches of the frame,
  capped at 512 pixels on the long side, beside fixed 224 and 384 copies).

On a CPU the time is the measured seconds per unit times units times scale, plus the model load; on a
GPU it is the counted FLOPs divided by a sustained throughput (`gpu_tflops`, an assumption, stated
with every estimate: this project has measured no GPU), plus the model load measured on the CPU (an
upper bound: it is reading and unpickling the checkpoint). Videos are shared round-robin between the
devices (one VBench process per device), so the time divides by the number of devices.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from stepeval.errors import UserError
from stepeval.metrics.aggregate import DIMENSION_KEYS

COST_FILE = Path(__file__).with_name("vbench_cost.json")
DEFAULT_GPU_TFLOPS = 10.0  # sustained fp32 throughput assumed for a data-centre GPU at batch size 1
# For a dimension whose FLOPs were not counted: the GPU is assumed this much faster than the CPU measured.
GPU_SPEEDUP_WITHOUT_FLOPS = 50.0
PROCESS_START_S = 20.0  # importing vbench and its stack in a fresh VBench process (measured here: 15-25 s)
# The size the Step-Video-TI2V report's videos have (height x width x frames at 25 fps).
REFERENCE_VIDEO = (544, 992, 102, 25.0)
# A dimension whose estimated CPU time per video of the workload passes this is marked "GPU advised".
GPU_ADVISED_S_PER_VIDEO = 60.0

BACKBONES = {
    "subject_consistency": "DINO ViT-B/16",
    "background_consistency": "CLIP ViT-B/32",
    "motion_smoothness": "AMT-S",
    "dynamic_degree": "RAFT",
    "aesthetic_quality": "CLIP ViT-L/14 + LAION linear head",
    "imaging_quality": "MUSIQ (SPAQ)",
    "i2v_subject": "DINO ViT-B/16",
    "i2v_background": "DreamSim ensemble (3 x ViT-B/16, LoRA)",
    "camera_motion": "CoTracker2",
}


def units_per_video(dimension: str, frames: int, fps: float) -> int:
    """The model evaluations a dimension makes for one video of `frames` frames at `fps`."""
    frames = max(1, int(frames))
    if dimension == "dynamic_degree":
        interval = max(1, round(fps / 8))
        return max(1, math.ceil(frames / interval) - 1)
    if dimension == "motion_smoothness":
        return max(1, math.ceil(frames / 2) - 1)
    if dimension in ("i2v_subject", "i2v_background"):
        return frames + 1  # the input image is embedded too
    return frames


def size_scale(dimension: str, height: int, width: int, ref: tuple[int, int]) -> float:
    """How much one unit's work at height x width exceeds that at the measured size `ref`."""

    def musiq_patches(h: int, w: int) -> float:
        # VBench caps the long side at 512; MUSIQ (pyiqa) then embeds 32x32 patches of that image and of
        # copies whose long side is 224 and 384: a fixed part plus one growing with the pixels
        s = min(1.0, 512.0 / max(h, w))
        return math.ceil(h * s / 32) * math.ceil(w * s / 32) + (224 // 32) ** 2 + (384 // 32) ** 2

    if dimension in ("dynamic_degree", "motion_smoothness"):
        return (height * width) / (ref[0] * ref[1])
    if dimension == "imaging_quality":
        return musiq_patches(height, width) / musiq_patches(*ref)
    if dimension == "subject_consistency":
        return (max(height, width) / min(height, width)) / (max(ref) / min(ref))
    return 1.0


@dataclass(frozen=True)
class Measured:
    load_s: float
    cpu_s_per_unit: float
    gflop_per_unit: float | None  # None: not counted
    peak_rss_mb: float


@dataclass(frozen=True)
class CostTable:
    size: tuple[int, int]
    fps: float
    frames: int
    uptime: str
    dimensions: dict[str, Measured]
    source: Path


def load_costs(path: Path | None = None) -> CostTable:
    path = Path(path or COST_FILE)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        dims = {d: Measured(float(r["load_s"]), float(r["cpu_s_per_unit"]),
                            None if r["gflop_per_unit"] is None else float(r["gflop_per_unit"]), float(r["peak_rss_mb"]))
                for d, r in raw["dimensions"].items()}
        return CostTable(tuple(raw["size"]), float(raw["fps"]), int(raw["frames"]), raw.get("uptime", ""), dims, path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"cannot read the VBench cost table ({exc})", path=path,
                        hint="regenerate it with `python benchmarks/vbench_dims.py --json PATH`") from None


@dataclass(frozen=True)
class Workload:
    """The videos a run asks VBench to score: how many, and their size."""

    videos: int
    height: int = REFERENCE_VIDEO[0]
    width: int = REFERENCE_VIDEO[1]
    frames: int = REFERENCE_VIDEO[2]
    fps: float = REFERENCE_VIDEO[3]


@dataclass(frozen=True)
class Estimate:
    dimension: str
    backbone: str
    seconds: float  # wall time for the whole workload on the devices given (model load included, process start not)
    seconds_per_video: float  # on one device
    device: str  # "cpu" or "cuda"
    devices: int
    ram_mb: float  # peak RSS measured at CI size (CPU)
    gflop_per_video: float
    needs: str
    basis: str

    def as_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def estimate(dimension: str, work: Workload, devices: list[str], *, table: CostTable | None = None,
             gpu_tflops: float = DEFAULT_GPU_TFLOPS) -> Estimate:
    """The cost of scoring `work` on `dimension` with `devices` (all cpu, or all cuda:N)."""
    table = table or load_costs()
    m = table.dimensions.get(dimension)
    if m is None:
        raise UserError(f"no measured cost for {dimension!r}", path=table.source, hint="rerun benchmarks/vbench_dims.py --json")
    units = units_per_video(dimension, work.frames, work.fps)
    scale = size_scale(dimension, work.height, work.width, table.size)
    gflop = m.gflop_per_unit * units * scale if m.gflop_per_unit is not None else float("nan")
    gpu = any(d.startswith("cuda") for d in devices)
    n = max(1, len(devices))
    cpu_per_video = m.cpu_s_per_unit * units * scale
    if gpu and m.gflop_per_unit is not None:
        per_video = gflop / (gpu_tflops * 1000.0)
        basis = f"GPU: {gflop:.0f} GFLOP/video at an assumed {gpu_tflops:g} TFLOP/s; model load as measured on CPU"
    elif gpu:
        per_video = cpu_per_video / GPU_SPEEDUP_WITHOUT_FLOPS
        basis = f"GPU: FLOPs not counted; the measured CPU time / an assumed {GPU_SPEEDUP_WITHOUT_FLOPS:g}x"
    else:
        per_video = cpu_per_video
        basis = f"CPU: {m.cpu_s_per_unit:.3g} s/unit measured at {table.size[0]}x{table.size[1]}, x{units} units x{scale:.3g} size"
    per_device = math.ceil(work.videos / n)
    seconds = (m.load_s + per_video * per_device) if work.videos else 0.0
    needs = "GPU advised" if cpu_per_video > GPU_ADVISED_S_PER_VIDEO else "CPU ok"
    needs = f"{needs}; RAM {m.peak_rss_mb / 1024:.1f} GB peak at CI size"
    return Estimate(dimension, BACKBONES.get(dimension, ""), seconds, per_video, "cuda" if gpu else "cpu", n, m.peak_rss_mb,
                    gflop, needs, basis)


def estimate_all(dimensions: list[str] | None, work: Workload, devices: list[str], **kw) -> list[Estimate]:
    table = kw.pop("table", None) or load_costs()
    return [estimate(d, work, devices, table=table, **kw) for d in (dimensions or list(DIMENSION_KEYS))]


def total_seconds(estimates: list[Estimate]) -> float:
    """Wall time of a run over all the estimated dimensions: each device's VBench process starts once
    and runs the dimensions one after another."""
    busy = sum(e.seconds for e in estimates)
    return PROCESS_START_S + busy if busy else 0.0


def workload_from_run(run, dimensions: list[str] | None = None) -> Workload:
    """The run's generated videos: their number and (median) size, from generations.parquet."""
    df = run.generations.read()
    if df is None or df.empty:
        return Workload(0)
    ok = df[df["status"] == "ok"] if "status" in df else df
    if ok.empty:
        return Workload(0)
    med = ok[["height", "width", "frames", "fps"]].median(numeric_only=True)
    return Workload(len(ok), int(med["height"]), int(med["width"]), int(med["frames"]), float(med["fps"]))

"""The Step-Video-TI2V report's motion score, measured on any mp4.

Definition (report, and docs/protocol.md, "The motion score"): frames sampled every 12 frames,
grayscale, OpenCV Farneback dense optical flow between consecutive samples, per-pixel flow
magnitude, mean of the largest magnitudes. What the report leaves open is fixed here and recorded
with every score (`MotionSettings`):

- Working resolution: every sample is downscaled so its SHORT side is `short_side` pixels (default
  256, aspect kept) before the flow, so the flow costs the same on a 544x992 and a 1080p video. A
  video already smaller than that is not upscaled (upscaling adds no detail and pushes displacements
  beyond what Farneback's pyramid tracks); its flow runs at its own size.
- Unit: pixels at short side `short_side`, per 12-frame step: magnitudes measured at a smaller size
  are multiplied by short_side / that size. A translation of d% of the frame then scores the same
  whatever the video's size (a video moving 1% of its short side per frame scores about
  0.01 * 256 * 12 = 30.7). Multiply by (your short side / 256) for pixels at another resolution.
- "Largest values": the mean of the top `top_fraction` (default 0.1 = top 10%) of the per-pixel
  magnitudes of a pair; the video's score is the mean over its consecutive sample pairs.
- Farneback parameters: OpenCV's documented example values (pyr_scale 0.5, 3 levels, window 15,
  3 iterations, poly_n 5, poly_sigma 1.2).

A video needs two samples 12 frames apart (at least 13 frames); shorter ones raise UserError.

Valid range, and why. Farneback follows a displacement only as far as its coarsest pyramid level
lets it: OpenCV stops building levels below 32 pixels, so at short side 256 the pyramid has 3 levels
whatever `levels` asks for (more change nothing), and a displacement of more than about 24 working
pixels between the two frames is under-read, badly and not monotonically (a texture translating at
1, 2, 3, 6 px per frame reads 12.2, 24.1, 26.8, 16.6 where the definition gives 12, 24, 36, 72). A
larger window or working size does not help (the window smooths the flow and lowers the reading). So:

- `chain` splits each 12-frame interval into `chain` equal steps: the flow of each step is measured and
  the steps are composed (each step's flow read where the previous steps carried the pixel), giving the
  interval's flow, then the same top-fraction mean. `chain=1` is the report's definition, and the
  default; `chain=4` (steps of 3 frames; `MotionSettings.extended()`) reads a translation within 1% from
  0.5 to 8 px per frame at short side 256 (tests/metrics/test_motion.py), and small motions within 2%
  of `chain=1`. Validated range: up to `MAX_STEP_PX` working pixels per step, i.e. 25 x chain per
  interval at short side 256.
- `range_check` (default on; it changes no value) measures each interval a second time with finer
  steps; a reading is inside the validated range when every step moved at most `MAX_STEP_PX` and
  the two measurements agree within `RANGE_TOLERANCE`. The result is recorded with the score
  (details ``range``), and reports mark the videos read outside their validated range.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np

from stepeval.errors import UserError
from stepeval.metrics.common import (
    MODEL_ITEM,
    RowBuffer,
    VideoRef,
    done_keys,
    model_mean_rows,
    run_videos,
    score_row,
    video_signature,
)
from stepeval.metrics.registry import Metric, ScoreError, ScoreReport
from stepeval.runs import Run
from stepeval.video import iter_frames, probe

METRIC = "motion_score"
#: The largest displacement between the two frames of one flow step (working pixels) that Farneback
#: reads within 1% with the settings above at short side 256 (3 pyramid levels), measured on a
#: translating texture: 24 px is read as 24.1-24.2, 36 px as 27. A shallower pyramid (a smaller
#: video) halves it per level lost (`max_step_px`), a conservative bound.
MAX_STEP_PX = 25.0
VALIDATED_LEVELS = 3
#: OpenCV's Farneback builds no pyramid level whose smaller side is below this many pixels.
OPENCV_MIN_LEVEL_SIZE = 32
#: How far the finer re-measurement may differ before a reading counts as outside the range.
RANGE_TOLERANCE = 0.10
#: Below this many working pixels per interval, codec noise dominates and the check is not applied.
RANGE_FLOOR_PX = 1.0


@dataclass(frozen=True)
class MotionSettings:
    every: int = 12
    short_side: int = 256
    top_fraction: float = 0.1
    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2
    chain: int = 1  # flow steps per interval, composed (module docstring)
    range_check: bool = True  # re-measure with finer steps to tell whether a reading is in range

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"every must be >= 1, got {self.every}")
        if self.chain < 1 or self.every % self.chain:
            raise ValueError(f"chain must divide every ({self.every}) into equal steps, got {self.chain}")
        if self.short_side < 16:
            raise ValueError(f"short_side must be >= 16 pixels, got {self.short_side}")
        if not 0 < self.top_fraction <= 1:
            raise ValueError(f"top_fraction must be in (0, 1], got {self.top_fraction}")

    @classmethod
    def extended(cls, **kw) -> MotionSettings:
        """The extended-range setting: 4 composed steps of 3 frames (module docstring)."""
        return cls(**{"chain": 4, **kw})

    def as_dict(self) -> dict:
        """What determines the value. `range_check` adds a diagnosis, not a different value, and
        `chain=1` is the definition itself: both are left out so the key of scores made before
        they existed stays the same."""
        d = asdict(self)
        d.pop("range_check")
        if self.chain == 1:
            d.pop("chain")
        return d

    @property
    def check_chain(self) -> int | None:
        """Steps of the finer re-measurement: the next divisor of `every` above `chain` (None: none)."""
        return next((c for c in range(self.chain + 1, self.every + 1) if self.every % c == 0), None)

    def pyramid_levels(self, short: int) -> int:
        """The pyramid levels OpenCV actually builds for a working short side of `short` pixels."""
        k, scale = 0, 1.0
        while k < self.levels:
            scale *= self.pyr_scale
            if short * scale < OPENCV_MIN_LEVEL_SIZE:
                break
            k += 1
        return k

    def max_step_px(self, short: int) -> float:
        return MAX_STEP_PX * 2.0 ** (self.pyramid_levels(short) - VALIDATED_LEVELS)

    def validated_max(self, unit_scale: float) -> float:
        """The largest reading (in the score's unit) inside the validated range."""
        short = round(self.short_side / unit_scale)
        return self.max_step_px(short) * self.chain * unit_scale

    @property
    def key(self) -> str:
        """Short stable id of the settings: scores with another key are recomputed on resume."""
        return hashlib.sha1(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class MotionResult:
    value: float
    pair_values: list[float]
    sample_indices: list[int]
    size: tuple[int, int]  # (height, width) of the video
    working_size: tuple[int, int]  # (height, width) the flow ran at (never above the video's size)
    decode_seconds: float = 0.0
    flow_seconds: float = 0.0
    settings: MotionSettings = field(default_factory=MotionSettings)
    check_values: list[float] = field(default_factory=list)  # the finer re-measurement per pair (range_check)
    in_range: bool | None = None  # None: not checked

    @property
    def unit_scale(self) -> float:
        return self.settings.short_side / min(self.working_size)

    def details(self) -> dict:
        s = self.settings
        rng = {"checked": self.in_range is not None, "in_range": self.in_range, "validated_max": round(s.validated_max(self.unit_scale), 6),
               "max_step_px": s.max_step_px(min(self.working_size)), "tolerance": RANGE_TOLERANCE, "check_chain": s.check_chain if s.range_check else None,
               "check_values": [round(v, 6) for v in self.check_values]}
        return {
            "unit": f"pixels per {self.settings.every} frames at short side {self.settings.short_side}",
            "settings": self.settings.as_dict(),
            "settings_key": self.settings.key,
            "video_size": list(self.size),
            "working_size": list(self.working_size),
            "unit_scale": self.settings.short_side / min(self.working_size),
            "pairs": len(self.pair_values),
            "pair_values": [round(v, 6) for v in self.pair_values],
            "chain": s.chain,
            "range": rng,
        }


def working_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(height, width) with the short side scaled to `short_side`, aspect kept (motion_score caps
    `short_side` at the video's own short side)."""
    scale = short_side / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _to_working(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    if frame.shape[:2] == (h, w):
        return frame
    # Area averaging when shrinking avoids aliasing that Farneback would read as motion.
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)


def top_fraction_mean(magnitude: np.ndarray, fraction: float) -> float:
    flat = magnitude.reshape(-1)
    k = max(1, int(round(fraction * flat.size)))
    if k >= flat.size:
        return float(flat.mean())
    return float(np.partition(flat, flat.size - k)[flat.size - k:].mean())


def _flow(prev: np.ndarray, nxt: np.ndarray, s: MotionSettings) -> np.ndarray:
    return cv2.calcOpticalFlowFarneback(prev, nxt, None, s.pyr_scale, s.levels, s.winsize, s.iterations, s.poly_n, s.poly_sigma, 0)


def compose(first: np.ndarray, then: np.ndarray) -> np.ndarray:
    """The flow of two steps in a row: `then` read where `first` carried each pixel, plus `first`."""
    h, w = first.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    moved = cv2.remap(then, gx + first[..., 0], gy + first[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return first + moved


def _magnitude(flow: np.ndarray, s: MotionSettings) -> float:
    """Top-fraction mean of the flow magnitudes, in pixels at short side `s.short_side`."""
    magnitude = cv2.magnitude(flow[..., 0], flow[..., 1])
    return top_fraction_mean(magnitude, s.top_fraction) * (s.short_side / min(flow.shape[:2]))


def pair_motion(prev: np.ndarray, nxt: np.ndarray, settings: MotionSettings) -> float:
    """Mean of the top fraction of Farneback flow magnitudes between two grayscale frames, in pixels
    at short side `settings.short_side` (one step: the definition, `chain=1`)."""
    return _magnitude(_flow(prev, nxt, settings), settings)


def interval_motion(frames: Sequence[np.ndarray], settings: MotionSettings) -> float:
    """The motion between the first and last of `frames` (equally spaced): the flow of each step
    composed into the interval's flow, then its top-fraction mean."""
    total = None
    for a, b in zip(frames[:-1], frames[1:]):
        f = _flow(a, b, settings)
        total = f if total is None else compose(total, f)
    return _magnitude(total, settings)


def _in_range(value: float, check: float, s: MotionSettings, unit_scale: float) -> bool:
    if value > s.validated_max(unit_scale) + 1e-9:
        return False
    if max(value, check) < RANGE_FLOOR_PX * unit_scale:
        return True
    return abs(value - check) <= RANGE_TOLERANCE * max(value, check)


def motion_score(path: str | Path, settings: MotionSettings | None = None) -> MotionResult:
    """The motion score of one video. Raises UserError for a missing, undecodable or too short video."""
    s = settings or MotionSettings()
    path = Path(path)
    check = s.check_chain if s.range_check else None
    # Decode every frame a step of the measurement or of the check starts on.
    step = s.every // math.lcm(s.chain, check or 1)
    frames: dict[int, np.ndarray] = {}
    size = None
    wsize = None
    decode_s = 0.0
    t0 = time.perf_counter()
    for index, frame in iter_frames(path, every=step, gray=True):
        if size is None:
            size = frame.shape[:2]
            wsize = working_size(size[0], size[1], min(s.short_side, min(size)))
        frames[index] = _to_working(frame, wsize)
    decode_s = time.perf_counter() - t0
    indices = [i for i in sorted(frames) if i % s.every == 0]
    # An interval is measured only when all its steps' frames are there (a short tail is dropped).
    indices = [i for k, i in enumerate(indices) if k == 0 or all(j in frames for j in range(indices[k - 1], i + 1, step))]
    samples = [frames[i] for i in indices]
    if len(samples) < 2:
        try:
            frames = probe(path).frames
        except UserError:
            frames = len(samples)
        raise UserError(
            f"video has {frames} frame(s); the motion score needs two samples {s.every} frames apart "
            f"(at least {s.every + 1} frames)",
            path=path,
            hint="score a longer video, or lower the sampling interval with --motion-every",
        )
    t1 = time.perf_counter()

    def interval(start: int, steps: int) -> float:
        return interval_motion([frames[start + k * (s.every // steps)] for k in range(steps + 1)], s)

    pair_values = [interval(i, s.chain) for i in indices[:-1]]
    check_values = [interval(i, check) for i in indices[:-1]] if check else []
    flow_s = time.perf_counter() - t1
    unit = s.short_side / min(wsize)
    in_range = all(_in_range(v, c, s, unit) for v, c in zip(pair_values, check_values)) if check else None
    return MotionResult(
        value=float(np.mean(pair_values)),
        pair_values=pair_values,
        sample_indices=indices,
        size=tuple(size),
        working_size=tuple(wsize),
        decode_seconds=decode_s,
        flow_seconds=flow_s,
        settings=s,
        check_values=check_values,
        in_range=in_range,
    )


# -- batch over a run --------------------------------------------------------------------------


def scorer_env() -> dict:
    from importlib import metadata

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {"scorer": "stepeval.metrics.motion", "stepeval": version("stepeval"), "opencv": cv2.__version__,
            "numpy": np.__version__, "av": version("av"), "device": "cpu"}


def _score_one(video: VideoRef, settings: MotionSettings, env: dict) -> dict:
    """One video -> one row; a failure becomes a failed row so the batch carries on."""
    sig = video_signature(video.path)
    try:
        res = motion_score(video.path, settings)
    except UserError as exc:
        return score_row(video, METRIC, None, status="failed", error=str(exc),
                         details={"settings": settings.as_dict(), "settings_key": settings.key}, env=env)
    except Exception as exc:  # noqa: BLE001 - one broken video must not stop the batch
        return score_row(video, METRIC, None, status="failed", error=f"{type(exc).__name__}: {exc}",
                         details={"settings": settings.as_dict(), "settings_key": settings.key}, env=env)
    details = {**res.details(), "video_signature": sig, "decode_seconds": round(res.decode_seconds, 4), "flow_seconds": round(res.flow_seconds, 4)}
    return score_row(video, METRIC, res.value, details=details, env=env)


def _init_worker() -> None:
    # Each worker process is one core's worth of work; OpenCV's own threads would oversubscribe.
    cv2.setNumThreads(1)


@dataclass
class BatchReport:
    metric: str
    scored: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[tuple[str, str, int, str]] = field(default_factory=list)


def score_run_motion(
    run: Run,
    *,
    model_tags: Sequence[str] | None = None,
    item_ids: Iterable[str] | None = None,
    settings: MotionSettings | None = None,
    workers: int = 0,
    rescore: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> BatchReport:
    """Score every generated video of a run; resumable (videos already scored ok with the same
    settings and unchanged on disk are skipped unless `rescore`). `workers` > 0 uses that many
    processes. Writes per-video rows and one per-model mean row per tag to scores.parquet."""
    s = settings or MotionSettings()
    videos = run_videos(run, model_tags=model_tags, item_ids=item_ids)
    done = {} if rescore else done_keys(run, METRIC, s.key)
    todo = [v for v in videos if done.get(v.key) is None or done[v.key] != video_signature(v.path)]
    report = BatchReport(METRIC, skipped=len(videos) - len(todo))
    env = scorer_env()
    total = len(todo)
    if on_progress:
        on_progress(0, total)

    def take(row: dict, buf: RowBuffer) -> None:
        buf.add(row)
        if row["status"] == "ok":
            report.scored += 1
        else:
            report.failed += 1
            report.errors.append((row["model_tag"], row["item_id"], row["sample"], row["error"]))
        if on_progress:
            on_progress(report.scored + report.failed, total)

    with RowBuffer(run) as buf:
        if workers and workers > 0 and total > 1:
            # spawn, not fork: forking a process whose OpenCV/BLAS/PyAV threads hold locks deadlocks the children.
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(workers, total), mp_context=ctx, initializer=_init_worker) as pool:
                futures = [pool.submit(_score_one, v, s, env) for v in todo]
                try:
                    for fut in as_completed(futures):
                        take(fut.result(), buf)
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
        else:
            for v in todo:
                take(_score_one(v, s, env), buf)
        tags = sorted({v.model_tag for v in videos})
        if tags:
            buf.flush()  # the per-model means read the per-video rows back from scores.parquet
            buf.add(model_mean_rows(run, METRIC, details={"settings": s.as_dict(), "settings_key": s.key}, env=env, model_tags=tags))
    return report


class MotionScore(Metric):
    """The registry's face of `score_run_motion` (entry point `motion_score`)."""

    name = METRIC
    description = ("The Step-Video-TI2V report's motion score: Farneback optical flow between frames 12 apart, mean of the "
                   "largest 10% magnitudes, in pixels at short side 256.")
    columns = (METRIC,)
    higher_is_better = None  # an amount of motion, to be compared with the amount asked for
    device = "cpu"
    settings = {
        **{f.name: f"MotionSettings.{f.name} (default {f.default})" for f in fields(MotionSettings)},
        "workers": "worker processes (0 = in this process)",
    }

    def score(self, run, *, settings=None, model_tags=None, item_ids=None, rescore=False, log=None, progress=None) -> ScoreReport:
        s = dict(settings or {})
        workers = int(s.pop("workers", 0) or 0)
        try:
            chosen = MotionSettings(**s)
        except (TypeError, ValueError) as exc:
            raise UserError(f"bad {METRIC} settings ({exc})", hint=f"its settings are: {', '.join(self.settings)}") from exc
        rep = score_run_motion(run, model_tags=model_tags, item_ids=item_ids, settings=chosen, workers=workers,
                               rescore=rescore, on_progress=progress)
        return ScoreReport(METRIC, scored=rep.scored, failed=rep.failed, skipped=rep.skipped,
                           errors=[ScoreError(tag, item, sample, METRIC, err) for tag, item, sample, err in rep.errors])


__all__ = ["METRIC", "MODEL_ITEM", "MotionResult", "MotionScore", "MotionSettings", "motion_score", "score_run_motion", "working_size",
           "top_fraction_mean"]

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
"""

from __future__ import annotations

import hashlib
import json
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

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"every must be >= 1, got {self.every}")
        if self.short_side < 16:
            raise ValueError(f"short_side must be >= 16 pixels, got {self.short_side}")
        if not 0 < self.top_fraction <= 1:
            raise ValueError(f"top_fraction must be in (0, 1], got {self.top_fraction}")

    def as_dict(self) -> dict:
        return asdict(self)

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

    def details(self) -> dict:
        return {
            "unit": f"pixels per {self.settings.every} frames at short side {self.settings.short_side}",
            "settings": self.settings.as_dict(),
            "settings_key": self.settings.key,
            "video_size": list(self.size),
            "working_size": list(self.working_size),
            "unit_scale": self.settings.short_side / min(self.working_size),
            "pairs": len(self.pair_values),
            "pair_values": [round(v, 6) for v in self.pair_values],
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


def pair_motion(prev: np.ndarray, nxt: np.ndarray, settings: MotionSettings) -> float:
    """Mean of the top fraction of Farneback flow magnitudes between two grayscale frames, in pixels
    at short side `settings.short_side`."""
    s = settings
    flow = cv2.calcOpticalFlowFarneback(prev, nxt, None, s.pyr_scale, s.levels, s.winsize, s.iterations, s.poly_n, s.poly_sigma, 0)
    magnitude = cv2.magnitude(flow[..., 0], flow[..., 1])
    return top_fraction_mean(magnitude, s.top_fraction) * (s.short_side / min(prev.shape[:2]))


def motion_score(path: str | Path, settings: MotionSettings | None = None) -> MotionResult:
    """The motion score of one video. Raises UserError for a missing, undecodable or too short video."""
    s = settings or MotionSettings()
    path = Path(path)
    samples: list[np.ndarray] = []
    indices: list[int] = []
    size = None
    wsize = None
    decode_s = 0.0
    t0 = time.perf_counter()
    for index, frame in iter_frames(path, every=s.every, gray=True):
        if size is None:
            size = frame.shape[:2]
            wsize = working_size(size[0], size[1], min(s.short_side, min(size)))
        samples.append(_to_working(frame, wsize))
        indices.append(index)
    decode_s = time.perf_counter() - t0
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
    pair_values = [pair_motion(a, b, s) for a, b in zip(samples[:-1], samples[1:])]
    flow_s = time.perf_counter() - t1
    return MotionResult(
        value=float(np.mean(pair_values)),
        pair_values=pair_values,
        sample_indices=indices,
        size=tuple(size),
        working_size=tuple(wsize),
        decode_seconds=decode_s,
        flow_seconds=flow_s,
        settings=s,
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

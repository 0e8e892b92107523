"""MP4 video I/O on PyAV: write, read back, sample frames, probe.

Every video stepeval writes is H.264, yuv420p, with the moov atom at the front ("faststart") so a
browser can start playing before the whole file arrived. Files are written to a temporary name in
the same folder and renamed, so a reader never sees half a video (a killed run leaves no partial mp4).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from stepeval.errors import UserError

DEFAULT_CRF = 18  # visually lossless for our content; metrics see what a viewer sees
DEFAULT_PRESET = "fast"
# One encoder thread: x264's output bits depend on its thread count, and "auto" follows the CPU
# count, while stepeval promises that the same inputs and seed give the same video whichever process
# or rank encodes it (and machine, as far as x264 allows: its SSE2 and AVX2 code can differ). Encoding
# is a small share of a generated video's cost; pass threads=0 (auto) where speed matters more.
DEFAULT_THREADS = 1


def _x264_options() -> dict[str, str]:
    """x264 kept off its AVX-512 code, where its macroblock-tree ratecontrol reads uninitialised heap
    memory (x264 core 165, as PyAV 18 bundles it): the same frames could encode to different bits in
    two processes with different allocation histories, e.g. one process vs torchrun ranks.
    tests/test_video.py fills fresh heap memory with different bytes (MALLOC_PERTURB_) and compares.
    Its AVX2 code shows no such dependence; turning mbtree off instead would cost up to 2.3x file size
    and 40x more frame-to-frame codec noise on a still image (the zero-motion baseline). "asm=AVX2"
    forces x264's AVX2 set, so it is given only where the CPU has all of it (every CPU with the
    AVX-512 subset x264 uses does)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as cpu
    except ImportError:  # numpy's CPU table is private; without it x264 keeps its own choice
        return {}
    avx2_set = ("AVX", "FMA3", "BMI", "BMI2", "LZCNT", "AVX2")
    if cpu.get("AVX512_SKX") and all(cpu.get(k) for k in avx2_set):
        return {"x264-params": "asm=AVX2"}
    return {}


X264_OPTIONS = _x264_options()


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns from the container without decoding pictures."""

    path: str
    frames: int
    fps: float
    width: int
    height: int
    duration: float
    codec: str
    pix_fmt: str

    def to_dict(self) -> dict:
        return asdict(self)


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise UserError("video not found", path=path, hint="check the path or regenerate the video")
    if path.is_dir():
        raise UserError(
            "is a directory, not a video file", path=path, hint="pass the path of an .mp4 file"
        )


def _open(path: Path):
    _check_readable(path)
    try:
        container = av.open(str(path), "r")
    except (av.error.FFmpegError, OSError) as exc:
        raise UserError(
            f"cannot open as a video ({exc})", path=path, hint="the file is corrupt or not a video; regenerate it"
        ) from exc
    if not container.streams.video:
        container.close()
        raise UserError("contains no video (zero frames, or no video stream)", path=path, hint="regenerate the video; an empty file cannot be scored")
    return container


def _even_pad(frame: np.ndarray) -> np.ndarray:
    """yuv420p subsamples chroma 2x2, so H.264 needs even sizes: pad odd ones by edge replication
    (one extra row/column) instead of cropping, so no input pixel is lost."""
    h, w = frame.shape[:2]
    ph, pw = h % 2, w % 2
    if ph or pw:
        frame = np.pad(frame, ((0, ph), (0, pw), (0, 0)), mode="edge")
    return frame


def _as_uint8_rgb(frame: np.ndarray, index: int) -> np.ndarray:
    if frame.dtype != np.uint8:
        raise ValueError(f"frame {index}: expected uint8, got {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame {index}: expected H x W x 3, got shape {frame.shape}")
    return np.ascontiguousarray(frame)


def write_video(
    path: str | Path,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    *,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
    threads: int = DEFAULT_THREADS,
) -> Path:
    """Write uint8 RGB frames (T x H x W x 3 array, or an iterable of H x W x 3) to an H.264 mp4.

    The file appears atomically at `path`. Odd sizes are padded to even by edge replication.
    Returns the path written.
    """
    path = Path(path)
    if fps <= 0 or not math.isfinite(fps):
        raise ValueError(f"fps must be a positive number, got {fps}")
    if path.is_dir():
        raise UserError("is a directory; cannot write a video there", path=path, hint="choose a file path ending in .mp4")
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary file lives beside the target so the final rename is atomic (same filesystem).
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".partial.mp4", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    rate = Fraction(fps).limit_denominator(1001)
    written = 0
    try:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = None
            for i, frame in enumerate(frames):
                frame = _even_pad(_as_uint8_rgb(np.asarray(frame), i))
                if stream is None:
                    stream = container.add_stream("libx264", rate=rate)
                    stream.height, stream.width = frame.shape[:2]
                    stream.pix_fmt = "yuv420p"
                    stream.options = {"crf": str(crf), "preset": preset, "threads": str(threads), **X264_OPTIONS}
                    first_shape = frame.shape
                elif frame.shape != first_shape:
                    raise ValueError(f"frame {i}: shape {frame.shape} differs from frame 0 {first_shape}")
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
                written += 1
            if stream is None:
                raise ValueError("no frames to write: a video needs at least one frame")
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def probe(path: str | Path) -> VideoInfo:
    """Frame count, fps, size and duration from the container headers (no picture decoding).

    Falls back to counting packets when the container does not store a frame count.
    """
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        frames = int(stream.frames or 0)
        if frames == 0:
            frames = sum(1 for p in container.demux(stream) if p.size > 0)
        rate = stream.average_rate or stream.base_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = frames / fps if fps else 0.0
        info = VideoInfo(
            path=str(path),
            frames=frames,
            fps=fps,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            duration=duration,
            codec=stream.codec_context.name,
            pix_fmt=stream.codec_context.pix_fmt or "",
        )
    if info.frames == 0:
        raise UserError("video has zero frames", path=path, hint="regenerate the video; an empty file cannot be scored")
    return info


def iter_frames(
    path: str | Path,
    *,
    every: int = 1,
    start: float | None = None,
    end: float | None = None,
    gray: bool = False,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame_index, frame) for every `every`-th frame, optionally within [start, end) seconds.

    H.264 frames depend on each other, so every frame is still decoded; the saving for `every > 1`
    is the colour conversion and copy, which dominate at our sizes. `gray=True` returns the luma
    plane directly (what optical flow wants) without an RGB round trip.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 0) or None
        tb = stream.time_base
        if start:
            # Seek lands on the keyframe at or before `start`; frames before it are skipped below.
            container.seek(int(start / tb), stream=stream, backward=True)
        index = -1
        try:
            for frame in container.decode(stream):
                t = float(frame.pts * tb) if frame.pts is not None else None
                index = round(t * rate) if (t is not None and rate) else index + 1
                if start is not None and t is not None and t + 1e-6 < start:
                    continue
                if end is not None and t is not None and t >= end - 1e-6:
                    break
                if index % every:
                    continue
                if gray:
                    yield index, frame.to_ndarray(format="gray")
                else:
                    yield index, frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise UserError(f"video does not decode ({exc})", path=path, hint="regenerate or re-import the video") from exc


def read_video(
    path: str | Path,
    *,
    every: int = 1,
    start: float | None = None,
    end: float | None = None,
    gray: bool = False,
) -> np.ndarray:
    """Decode frames into one uint8 array (T x H x W x 3, or T x H x W when gray).

    See `iter_frames` for the sampling options. Raises UserError for a video with no frames.
    """
    frames = [f for _, f in iter_frames(path, every=every, start=start, end=end, gray=gray)]
    if not frames:
        raise UserError("no frames decoded", path=path, hint="the video is empty or the time range selects nothing")
    return np.stack(frames)

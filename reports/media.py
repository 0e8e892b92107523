"""Videos and images made for a report: small previews, poster frames and input thumbnails.

A run's videos are what the models made (any size, up to 544 x 992 x 102 frames at CRF 18); a report
that shows 298 items x 8 models needs something a browser can open by the hundred. `build_media`
turns each source file into a preview (H.264, yuv420p, faststart, at most `max_height` pixels high,
never upscaled, written by `stepeval.video.write_video`) plus a poster JPEG of its first frame, and
each input image into a JPEG thumbnail.

Why a cache, and where: encoding dominates a report build, and most rebuilds change only tables.
Each product is stored once under a key made of the source's resolved path, size and modification
time and the preview settings (`PreviewSettings.key`), in `RUN/.cache/report-media/` (or the user's
cache folder when the run is read-only). A rebuild with nothing changed encodes nothing: it links
(hard link, else copy) the cached files into the new report folder, which then holds everything it
shows and can be zipped, served from any static host or opened from disk.

Encoding runs in worker processes (`workers`; spawned, so a worker never inherits the threads of the
building process: rich's spinner, Arrow's pool). A source that cannot be read is recorded with its
error and the build carries on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import av

from stepeval.errors import UserError

MEDIA_MODES = ("preview", "link", "none")
CACHE_DIR = Path(".cache") / "report-media"  # inside the run directory
# Bumped when what a cached file holds changes for the same settings (a new encoder path).
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PreviewSettings:
    """How previews are made. Anything here changes the cache key."""

    max_height: int = 360  # pixels; smaller videos keep their size
    crf: int = 28  # x264 quality: previews are for looking, the metrics read the originals
    preset: str = "veryfast"
    poster_quality: int = 82  # JPEG quality of poster frames and input thumbnails
    image_max_side: int = 480  # input image thumbnails, pixels

    def key(self) -> str:
        return json.dumps({**asdict(self), "format": FORMAT_VERSION}, sort_keys=True)


@dataclass(frozen=True)
class MediaJob:
    kind: str  # "video" (preview + poster) or "image" (thumbnail)
    source: str

    def cache_key(self, settings: PreviewSettings) -> str:
        path = Path(self.source).resolve()
        st = path.stat()
        text = json.dumps([self.kind, str(path), st.st_size, st.st_mtime_ns, settings.key()])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass
class MediaResult:
    """What one job produced (paths in the cache) or why it did not."""

    job: MediaJob
    key: str = ""
    files: dict[str, str] = field(default_factory=dict)  # role ("video", "poster", "image") -> cached file
    info: dict = field(default_factory=dict)  # width, height, fps, frames, duration of what was written
    error: str = ""
    cached: bool = False

    @property
    def ok(self) -> bool:
        return not self.error


SUFFIX = {"video": ".mp4", "poster": ".jpg", "image": ".jpg"}


def default_cache_dir(run_root: Path) -> Path:
    """RUN/.cache/report-media when the run is writable, else the user's cache folder."""
    local = Path(run_root) / CACHE_DIR
    try:
        local.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=local, prefix=".probe-", delete=True)
        probe.close()
        return local
    except OSError:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        run_id = hashlib.sha256(str(Path(run_root).resolve()).encode("utf-8")).hexdigest()[:16]
        return base / "stepeval" / "report-media" / run_id


# --------------------------------------------------------------------------- encoding (in workers)


def preview_size(width: int, height: int, max_height: int) -> tuple[int, int]:
    """(width, height) of a preview: scaled down to `max_height` keeping the aspect ratio, both even
    (yuv420p); never scaled up (an odd size is then padded by the writer, not resampled)."""
    if height <= max_height:
        return width, height
    w = width * max_height / height
    return max(2, int(round(w / 2)) * 2), max(2, int(round(max_height / 2)) * 2)


def _save_jpeg(array, path: Path, quality: int) -> None:
    from PIL import Image

    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    Image.fromarray(array).save(tmp, format="JPEG", quality=quality, optimize=True)
    os.replace(tmp, path)


def encode_preview(source: Path, video_out: Path, poster_out: Path, settings: PreviewSettings) -> dict:
    """Write the preview of `source` to `video_out` and its first frame to `poster_out`; returns
    width, height, fps, frames and duration of the preview."""
    from stepeval.video import write_video

    try:
        container = av.open(str(source), "r")
    except (av.error.FFmpegError, OSError) as exc:
        raise UserError(f"cannot open as a video ({exc})", path=source) from exc
    with container:
        if not container.streams.video:
            raise UserError("contains no video stream", path=source)
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 25.0
        width, height = preview_size(stream.codec_context.width, stream.codec_context.height, settings.max_height)
        count = 0
        first: list = []

        def frames() -> Iterator:
            nonlocal count
            for frame in container.decode(stream):
                # Scale in the source's own pixel format (YUV), then convert the small frame: twice as
                # fast as scaling RGB, and area averaging keeps fine texture from aliasing.
                rgb = frame.reformat(width=width, height=height, interpolation="AREA").to_ndarray(format="rgb24")
                if not first:
                    first.append(rgb)
                count += 1
                yield rgb

        try:
            write_video(video_out, frames(), fps, crf=settings.crf, preset=settings.preset)
        except ValueError as exc:  # no frames
            raise UserError(f"no frames to preview ({exc})", path=source) from exc
        except av.error.FFmpegError as exc:
            raise UserError(f"video does not decode ({exc})", path=source) from exc
    _save_jpeg(first[0], poster_out, settings.poster_quality)
    # As written: the writer pads an odd size by one row or column.
    return {"width": width + width % 2, "height": height + height % 2, "fps": fps, "frames": count, "duration": count / fps}


def make_thumbnail(source: Path, out: Path, settings: PreviewSettings) -> dict:
    """A JPEG of the input image, its longer side at most `image_max_side` pixels."""
    import numpy as np

    from stepeval.images import load_image

    img = load_image(source)
    img.thumbnail((settings.image_max_side, settings.image_max_side))
    _save_jpeg(np.asarray(img.convert("RGB")), out, settings.poster_quality)
    return {"width": img.width, "height": img.height}


def _cached_files(cache: Path, kind: str, key: str) -> dict[str, Path]:
    roles = ("video", "poster") if kind == "video" else ("image",)
    return {role: cache / key[:2] / f"{key}-{role}{SUFFIX[role]}" for role in roles}


def _run_job(job: MediaJob, key: str, cache: str, settings: PreviewSettings) -> MediaResult:
    """Make one job's files in the cache; the info file is written last, so its presence means the
    entry is complete (a killed worker leaves at most orphans, never an entry that looks whole)."""
    result = MediaResult(job, key)
    files = _cached_files(Path(cache), job.kind, key)
    next(iter(files.values())).parent.mkdir(parents=True, exist_ok=True)
    try:
        if job.kind == "video":
            info = encode_preview(Path(job.source), files["video"], files["poster"], settings)
        else:
            info = make_thumbnail(Path(job.source), files["image"], settings)
    except UserError as exc:
        result.error = str(exc).splitlines()[0]
        return result
    except Exception as exc:  # one bad file must not stop a report of hundreds
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    meta = Path(cache) / key[:2] / f"{key}.json"
    tmp = meta.with_name(f".{meta.name}.{os.getpid()}.partial")
    tmp.write_text(json.dumps(info), encoding="utf-8")
    os.replace(tmp, meta)
    result.files = {role: str(p) for role, p in files.items()}
    result.info = info
    return result


def _lookup(job: MediaJob, key: str, cache: Path) -> MediaResult | None:
    meta = cache / key[:2] / f"{key}.json"
    files = _cached_files(cache, job.kind, key)
    if not meta.is_file() or not all(p.is_file() for p in files.values()):
        return None
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return MediaResult(job, key, {role: str(p) for role, p in files.items()}, info, cached=True)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def build_media(
    jobs: Iterable[MediaJob],
    cache_dir: Path,
    *,
    settings: PreviewSettings | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[MediaJob, MediaResult]:
    """Previews, posters and thumbnails for `jobs`, from the cache where it has them, else made
    by `workers` processes (1: in this process). Sources that are missing or unreadable come back
    with `error` set."""
    settings = settings or PreviewSettings()
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    results: dict[MediaJob, MediaResult] = {}
    todo: list[tuple[MediaJob, str]] = []
    for job in dict.fromkeys(jobs):
        try:
            key = job.cache_key(settings)
        except OSError as exc:
            results[job] = MediaResult(job, error=f"cannot read {job.source} ({exc.strerror})")
            continue
        hit = _lookup(job, key, cache_dir)
        if hit is not None:
            results[job] = hit
        else:
            todo.append((job, key))
    total, done = len(todo), 0
    workers = default_workers() if workers is None else max(1, int(workers))
    if todo and (workers == 1 or len(todo) == 1):
        for job, key in todo:
            results[job] = _run_job(job, key, str(cache_dir), settings)
            done += 1
            if progress:
                progress(done, total)
    elif todo:
        # Videos first and longest sources first would balance better; sources are similar in size.
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_run_job, job, key, str(cache_dir), settings): job for job, key in todo}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                done += 1
                if progress:
                    progress(done, total)
    return results


def place(cached: str | Path, dest: Path) -> None:
    """Put a cached file into a report folder: a hard link (no copy, no extra space) where the two
    share a file system, else a copy."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(cached, dest)
    except OSError:
        shutil.copyfile(cached, dest)

"""Image preparation shared by every generator and metric.

Benchmark images arrive as RGBA PNGs, phone JPEGs with EXIF rotation, palette GIF-like PNGs, CMYK
JPEGs, 16-bit scans. Everything downstream wants one thing: an 8-bit RGB array of a known size.
"""

from __future__ import annotations

import math
import os
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from stepeval.errors import UserError

# 64 MP covers every benchmark image (the largest is 3648 px on a side) with a wide margin, and
# refuses decompression bombs before PIL allocates anything.
DEFAULT_MAX_PIXELS = 64_000_000
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
# What PIL's decoders raise on damaged bytes: truncation and bad CRCs come as OSError, broken
# headers and chunk tables as SyntaxError/ValueError/struct.error/EOFError/IndexError.
_DAMAGED = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)


def max_pixels() -> int:
    return int(os.environ.get("STEPEVAL_MAX_IMAGE_PIXELS", DEFAULT_MAX_PIXELS))


def _open_checked(path: Path) -> Image.Image:
    if not path.exists():
        raise UserError("image not found", path=path, hint="check the path, or fetch the missing benchmark files")
    if path.is_dir():
        raise UserError("is a directory, not an image", path=path, hint="pass an image file")
    limit = max_pixels()
    try:
        with warnings.catch_warnings():
            # PIL's own bomb warning/error fire at its global limit; we enforce ours below instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            old = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
            try:
                img = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = old
    except UnidentifiedImageError as exc:
        raise UserError("not a readable image (unknown format)", path=path, hint="replace it with a PNG, JPEG or WebP file") from exc
    except PermissionError as exc:
        raise UserError(f"cannot read image ({exc.strerror})", path=path, hint="check the file's permissions") from exc
    except _DAMAGED as exc:
        raise UserError(f"cannot read image ({exc})", path=path, hint="re-download or re-export the image") from exc
    w, h = img.size
    if w * h > limit:
        img.close()
        raise UserError(
            f"image is {w}x{h} = {w * h / 1e6:.0f} MP, over the {limit / 1e6:.0f} MP safety limit "
            "(a decompression bomb or an unusually large image)",
            path=path,
            hint="downscale the image, or raise the limit with STEPEVAL_MAX_IMAGE_PIXELS if you trust it",
        )
    return img


def _damaged(path: Path, exc: BaseException) -> UserError:
    return UserError(f"image is truncated or corrupt ({exc})", path=path, hint="re-download or re-export the image")


def _oriented_size(img: Image.Image) -> tuple[int, int]:
    w, h = img.size
    orientation = img.getexif().get(0x0112, 1)
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the header, honours EXIF rotation. Raises only UserError.

    Reading EXIF may decode the pixels (PIL does for PNG, whose eXIf chunk may follow the image
    data), so a damaged file can fail here too."""
    path = Path(path)
    img = _open_checked(path)
    with img:
        try:
            return _oriented_size(img)
        except _DAMAGED as exc:
            raise _damaged(path, exc) from exc


def check_image(path: str | Path) -> tuple[int, int]:
    """Fully decode the image (size guard first) and return its oriented (width, height).

    The one image check of benchmark loaders: a truncated JPEG has a valid header and only fails
    when its pixels are decoded. Raises only UserError, naming the file and the reason."""
    path = Path(path)
    img = _open_checked(path)
    with img:
        try:
            img.load()
            return _oriented_size(img)
        except _DAMAGED as exc:
            raise _damaged(path, exc) from exc


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit RGB.

    Alpha is dropped, not composited, as the official Step-Video-TI2V pipeline does
    (`Image.convert("RGB")`), so generators see the same pixels as upstream.
    16-bit modes are rescaled to 8 bits (PIL's own conversion clips them instead).
    """
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        arr = np.clip(np.rint(arr * (255.0 / peak)), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        arr = np.clip(np.rint(arr * 255.0 if arr.max(initial=0) <= 1.0 else arr), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if img.mode == "P":
        img = img.convert("RGBA")
    return img.convert("RGB")


def load_image(path: str | Path) -> Image.Image:
    """Open, size-check, fully decode, EXIF-rotate and convert to RGB. One clear error per bad file."""
    path = Path(path)
    img = _open_checked(path)
    try:
        img.load()
        img = ImageOps.exif_transpose(img)
    except _DAMAGED as exc:
        raise _damaged(path, exc) from exc
    return to_rgb(img)


def load_rgb_array(path: str | Path) -> np.ndarray:
    return np.asarray(load_image(path), dtype=np.uint8)


def resize_cover_crop(img: Image.Image, height: int, width: int) -> Image.Image:
    """Scale so the image covers height x width (antialiased bilinear), then crop the centre.

    Matches the official pipeline's single-bucket resize: aspect kept, nothing letterboxed.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"target size must be positive, got {height}x{width}")
    img = to_rgb(img)
    w, h = img.size
    scale = max(width / w, height / h)
    new_w, new_h = max(width, math.ceil(w * scale - 1e-6)), max(height, math.ceil(h * scale - 1e-6))
    if (new_w, new_h) != (w, h):
        img = img.resize((new_w, new_h), Image.Resampling.BILINEAR, reducing_gap=None)
    left, top = (new_w - width) // 2, (new_h - height) // 2
    return img.crop((left, top, left + width, top + height))


def pick_bucket(width: int, height: int, buckets: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The (height, width) bucket whose aspect ratio is closest to the image's, in log space
    (so 2:1 and 1:2 are equally far from 1:1). Ties go to the larger area, then to list order."""
    if not buckets:
        raise ValueError("no buckets to choose from")
    target = math.log(width / height)

    def key(b: tuple[int, int]) -> tuple[float, int]:
        bh, bw = b
        return (abs(math.log(bw / bh) - target), -bh * bw)

    return min(buckets, key=key)


def prepare_image(path: str | Path, height: int, width: int) -> np.ndarray:
    """The one call generators make: file -> uint8 RGB array of exactly height x width."""
    return np.asarray(resize_cover_crop(load_image(path), height, width), dtype=np.uint8)


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS

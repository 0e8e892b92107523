"""Deterministic placeholder images for items whose benchmark image is not present locally.

Partial copies of Step-Video-TI2V-Eval hold every prompt but few images; a placeholder lets the
harness (and its overhead benchmark) exercise all 298 items. Placeholders are never the default:
videos made from them say nothing about a model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from stepeval.runs import atomic_write

# (width, height) per Step-Video-TI2V-Eval aspect: landscape, square, portrait.
ASPECT_SIZES = {"H": (992, 544), "S": (736, 736), "V": (544, 992)}
DEFAULT_SIZE = (768, 768)


def placeholder_array(item_id: str, width: int, height: int) -> np.ndarray:
    """Smooth colour blobs plus fine texture, seeded by the item id: compresses like a photo,
    not like a flat colour, so timing a video encoder on it means something."""
    seed = int.from_bytes(hashlib.blake2b(item_id.encode(), digest_size=8).digest(), "big")
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(6, 10, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    texture = rng.integers(-12, 13, size=(height, width, 1), dtype=np.int16)
    return np.clip(smooth + texture, 0, 255).astype(np.uint8)


def write_placeholder(path: Path, item_id: str, aspect: str = "") -> Path:
    """Write (once) the placeholder PNG for an item at its aspect's size."""
    if path.exists():
        return path
    width, height = ASPECT_SIZES.get(aspect, DEFAULT_SIZE)
    img = Image.fromarray(placeholder_array(item_id, width, height))
    return atomic_write(path, lambda p: img.save(p, format="PNG", compress_level=1))

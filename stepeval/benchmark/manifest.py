"""The Step-Video-TI2V-Eval checksum manifest: ids, upstream layout and git blob ids of all 298 pairs.

Git blob ids (sha1 of "blob <size>\\0" + bytes) are what the upstream repository itself records, so a
copy from any source can be verified against upstream without trusting the network it came over.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from stepeval.errors import UserError

MANIFEST_ENV = "STEPEVAL_MANIFEST"
DOMAIN_FOLDERS = {"real": "ti2v_eval_real", "anime": "ti2v_eval_ani"}
ASPECTS = ("H", "S", "V")


@dataclass(frozen=True)
class ManifestEntry:
    id: str
    domain: str
    aspect: str
    number: str
    folder: str
    txt_git_blob: str
    png_git_blob: str

    def rel_path(self, suffix: str) -> str:
        return f"{self.folder}/{self.number}{suffix}"


def default_manifest_path() -> Path:
    if os.environ.get(MANIFEST_ENV):
        return Path(os.environ[MANIFEST_ENV])
    # The manifest sits in the repository's benchmark/ folder (installed editable, as the README does).
    return Path(__file__).resolve().parents[2] / "benchmark" / "Step-Video-TI2V-Eval" / "manifest.csv"


@lru_cache(maxsize=4)
def load_manifest(path: Path | None = None) -> dict[str, ManifestEntry]:
    path = Path(path) if path else default_manifest_path()
    if not path.is_file():
        raise UserError(
            "Step-Video-TI2V-Eval manifest not found",
            path=path,
            hint=f"install stepeval from its repository with `pip install -e .`, or set {MANIFEST_ENV}",
        )
    with open(path, encoding="utf-8", newline="") as f:
        entries = [ManifestEntry(**row) for row in csv.DictReader(f)]
    return {e.id: e for e in entries}


def git_blob_id(data: bytes) -> str:
    h = hashlib.sha1()
    h.update(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


def git_blob_id_of_file(path: Path, chunk: int = 1 << 20) -> str:
    size = path.stat().st_size
    h = hashlib.sha1()
    h.update(b"blob %d\0" % size)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()

"""The unit every other part of stepeval joins on: one prompt-image pair of a benchmark."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stepeval.errors import UserError

# Problem kinds that make a copy incomplete (stray files do not).
BLOCKING = frozenset({"missing_image", "missing_prompt", "bad_prompt", "bad_image", "checksum_mismatch", "unreadable"})


@dataclass(frozen=True)
class BenchmarkItem:
    """One prompt-image pair.

    `id` is stable and is the join key everywhere (`real/H/002` for Step-Video-TI2V-Eval).
    `image_path` is None when the benchmark's image is not present locally (a partial copy).
    `domain`/`aspect` are the strata used for subsets and report breakdowns; `extra` holds
    benchmark-specific fields (e.g. VBench-I2V's crop ratio).
    """

    id: str
    prompt: str
    image_path: Path | None
    benchmark: str
    domain: str = ""
    aspect: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def has_image(self) -> bool:
        return self.image_path is not None

    def to_record(self) -> dict:
        return {
            "id": self.id,
            "prompt": self.prompt,
            "image_path": str(self.image_path) if self.image_path else None,
            "benchmark": self.benchmark,
            "domain": self.domain,
            "aspect": self.aspect,
            **{f"extra_{k}": v for k, v in self.extra.items()},
        }


@dataclass
class Problem:
    """Something wrong with one file of a benchmark copy; batch loaders collect these and go on."""

    kind: str  # missing_image, missing_prompt, bad_prompt, bad_image, checksum_mismatch, stray_file, unreadable
    path: Path | None
    message: str
    item_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"[{self.kind}] {where}{self.message}"

    @classmethod
    def from_error(cls, kind: str, exc: UserError, item_id: str | None = None) -> Problem:
        """The UserError's reason and fix on one line; its path becomes the problem's path."""
        text = str(exc)
        if exc.path is not None and text.startswith(f"{exc.path}: "):
            text = text[len(f"{exc.path}: "):]
        return cls(kind, exc.path, text.replace("\n  fix: ", "; fix: "), item_id)

    def to_record(self) -> dict:
        return {"kind": self.kind, "path": str(self.path) if self.path else None, "item_id": self.item_id, "message": self.message}


@dataclass
class LoadedBenchmark:
    """The result of loading a benchmark folder: the usable items plus everything that was off."""

    name: str
    root: Path
    items: list[BenchmarkItem]
    problems: list[Problem] = field(default_factory=list)
    expected_ids: list[str] | None = None  # the full id list, when the benchmark has a manifest
    verified: dict[str, bool] = field(default_factory=dict)  # file key -> checksum ok

    @property
    def ids(self) -> list[str]:
        return [it.id for it in self.items]

    def by_id(self) -> dict[str, BenchmarkItem]:
        return {it.id: it for it in self.items}

    @property
    def skipped(self) -> list[Problem]:
        """Problems of items that were left out (bad or unpaired files), as opposed to items kept
        without a local image (a partial copy) and to stray files."""
        kept = set(self.ids)
        return [p for p in self.problems if p.item_id is not None and p.item_id not in kept and p.kind in BLOCKING]

    @property
    def missing_images(self) -> list[Problem]:
        return [p for p in self.problems if p.kind == "missing_image"]

    @property
    def is_complete(self) -> bool:
        """Complete = every expected pair present with its image and nothing wrong with any file."""
        if self.expected_ids is not None and set(self.ids) != set(self.expected_ids):
            return False
        return not any(p.kind in BLOCKING for p in self.problems)

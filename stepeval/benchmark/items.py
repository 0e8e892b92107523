"""The unit every other part of stepeval joins on: one item of a benchmark, a prompt with or
without an input image."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from stepeval.errors import UserError

# Problem kinds that make a copy incomplete (stray files do not).
BLOCKING = frozenset({"missing_image", "missing_prompt", "bad_prompt", "bad_image", "checksum_mismatch", "unreadable", "bad_label"})

# What an item asks a model for. A text-image-to-video item has an input image (possibly not present
# in a partial copy); a text-to-video item never has one. Generators declare the tasks they serve in
# the same words (`stepeval.generation.protocol.Capabilities.tasks`).
TI2V = "ti2v"
T2V = "t2v"
TASKS: dict[str, str] = {TI2V: "text-image-to-video (a prompt and an input image)", T2V: "text-to-video (a prompt alone)"}
AUTO = "auto"  # a run config's task: the benchmark's own


def resolve_task(requested: str, benchmark_task: str) -> str:
    """What a run asks its models for: its config's `task`, or the benchmark's when that is `auto`."""
    return benchmark_task if requested == AUTO else requested


def check_task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return task


@dataclass(frozen=True)
class BenchmarkItem:
    """One prompt-image pair, or one prompt alone (`task="t2v"`).

    `id` is stable and is the join key everywhere (`real/H/002` for Step-Video-TI2V-Eval).
    `image_path` is None when the benchmark's image is not present locally (a partial copy), and
    always for a text-to-video item. `domain`/`aspect` are the strata used for subsets and report
    breakdowns (Step-Video-T2V-Eval's category is its domain); `extra` holds benchmark-specific
    fields (e.g. VBench-I2V's crop ratio).
    """

    id: str
    prompt: str
    image_path: Path | None
    benchmark: str
    domain: str = ""
    aspect: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)
    task: str = TI2V

    def __post_init__(self) -> None:
        check_task(self.task)
        if self.task == T2V and self.image_path is not None:
            raise ValueError(f"item {self.id!r}: a text-to-video item has no input image (got {self.image_path})")

    @property
    def has_image(self) -> bool:
        return self.image_path is not None

    @property
    def takes_image(self) -> bool:
        """Whether the item asks for an input image (present or not); False for a text-only item."""
        return self.task == TI2V

    def as_task(self, task: str) -> BenchmarkItem:
        """The item posed as `task`: as text-to-video its image is dropped; as text-image-to-video a
        text-only item is an item whose image is missing (a placeholder can then stand in)."""
        if check_task(task) == self.task:
            return self
        return replace(self, task=task, image_path=None)

    def to_record(self) -> dict:
        return {
            "id": self.id,
            "prompt": self.prompt,
            "image_path": str(self.image_path) if self.image_path else None,
            "benchmark": self.benchmark,
            "domain": self.domain,
            "aspect": self.aspect,
            "task": self.task,
            **{f"extra_{k}": v for k, v in self.extra.items()},
        }


@dataclass
class Problem:
    """Something wrong with one file of a benchmark copy; batch loaders collect these and go on."""

    kind: str  # missing_image, missing_prompt, bad_prompt, bad_image, checksum_mismatch, stray_file, unreadable, bad_label
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
    task: str = TI2V  # what every item asks for (TI2V or T2V)
    label_file: Path | None = None  # where the items' domains (categories) were read from, if a separate file

    def __post_init__(self) -> None:
        check_task(self.task)

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
    def categories(self) -> list[str]:
        """The items' distinct domains, sorted (Step-Video-T2V-Eval's categories)."""
        return sorted({it.domain for it in self.items if it.domain})

    @property
    def is_complete(self) -> bool:
        """Complete = every expected item present (with its image, for TI2V) and nothing wrong with any file."""
        if self.expected_ids is not None and set(self.ids) != set(self.expected_ids):
            return False
        return not any(p.kind in BLOCKING for p in self.problems)

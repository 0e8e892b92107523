"""Independent shards of a run: which shard makes (or scores) which video, and the files it writes.

`--shard I/N` (I = 0..N-1) takes the work units (model tag x item x sample) whose stable hash is I
modulo N. The assignment depends only on the unit's key, never on the config's order, on what is
already done or on which shards run, so any shard can be run (or rerun) alone, on any machine, at
any time, and a config that gains a model keeps every existing unit in its shard.

A shard never writes a file another shard writes: it appends its rows to its own part files
(`generations.part-I-of-N.parquet`, `scores.part-I-of-N.parquet`) and holds its own locks, so
shards share no lock and no process group and may run on different machines over a network
filesystem. Every reader reads the main table plus all its parts as one table (`Table.read`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from stepeval.errors import UserError

_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def shard_of(model_tag: str, item_id: str, sample: int, count: int) -> int:
    """The shard (0..count-1) of one work unit: sha256 of its key, so every process, Python version
    and machine agrees (Python's own hash() is salted per process)."""
    digest = hashlib.sha256(f"{model_tag}\x00{item_id}\x00{int(sample)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise UserError(f"invalid shard {self.index}/{self.count}", hint="write --shard I/N with N >= 1 and 0 <= I < N (e.g. 0/4 ... 3/4)")

    @classmethod
    def parse(cls, text: str | Shard | None) -> Shard | None:
        """`"I/N"` -> Shard; None stays None (the whole run)."""
        if text is None or isinstance(text, Shard):
            return text
        m = _SHARD_RE.match(str(text))
        if not m:
            raise UserError(f"invalid shard {text!r}", hint="write --shard I/N with 0 <= I < N (e.g. 0/4 ... 3/4)")
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def part(self) -> str:
        """The name part of this shard's files: `part-I-of-N`."""
        return f"part-{self.index}-of-{self.count}"

    def owns(self, model_tag: str, item_id: str, sample: int) -> bool:
        return shard_of(model_tag, item_id, sample, self.count) == self.index


def part_path(path, part: str):
    """`generations.parquet` -> `generations.part-0-of-4.parquet` (beside it)."""
    return path.with_name(f"{path.stem}.{part}{path.suffix}")


def part_glob(path) -> str:
    """The glob of every part file of the table at `path`."""
    return f"{path.stem}.part-*-of-*{path.suffix}"


__all__ = ["Shard", "part_glob", "part_path", "shard_of"]

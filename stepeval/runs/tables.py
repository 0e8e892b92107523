"""Parquet tables of a run (`generations.parquet`, `scores.parquet`), appended safely.

Parquet files cannot be appended in place, so an append reads the file, adds the rows and
atomically replaces it, under a lock shared by every process writing that file. Tables are small
(one row per video or per video and metric), so this costs milliseconds and keeps every on-disk file
always complete and readable by any parquet tool.

A table is one main file plus any part files beside it (`generations.part-I-of-N.parquet`, one per
shard, `stepeval.runs.shards`). A writer appends to one file only (the main one, or its shard's
part) and locks only that file, so shards never wait for each other; `read` returns the main file
and every part as one table.
Rows are never edited: a newer row for the same key supersedes an older one (`latest`). Within a
file, newer means appended later; across files, it means a later time in the table's time column
(`order_by`), the order rows were written in.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from stepeval.errors import UserError
from stepeval.runs.atomic import atomic_write
from stepeval.runs.lock import short_lock
from stepeval.runs.shards import part_glob, part_path


def _normalise(row: dict) -> dict:
    # Nested values (parameters dicts, lists) are stored as JSON text so every column has one type.
    return {k: json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, (dict, list, tuple)) else v for k, v in row.items()}


class Table:
    """The table whose main file is `path`; appends go to the part `part` (e.g. `part-0-of-4`) when
    given. `order_by` names the column holding when a row was written (merging files)."""

    def __init__(self, path: Path, *, part: str | None = None, order_by: str | None = None):
        self.path = Path(path)
        self.part = part
        self.order_by = order_by
        self.write_path = part_path(self.path, part) if part else self.path
        self.lock_path = self.write_path.with_name(f".{self.write_path.name}.lock")

    def files(self) -> list[Path]:
        """The files that make up the table now: the main file, then the parts by name."""
        parts = sorted(self.path.parent.glob(part_glob(self.path))) if self.path.parent.is_dir() else []
        return [self.path, *[p for p in parts if p != self.path]]

    def _read_file(self, path: Path) -> pd.DataFrame:
        # One read of the whole file, then parse: pyarrow opens a path more than once (footer, then
        # pages), and a writer's rename between the two would pair one file's footer with another's pages.
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return pd.DataFrame()
        try:
            return pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise UserError(
                f"cannot read {path.name}: the file is damaged ({exc})", path=path,
                hint=f"restore it from a backup, or move it aside and rerun the command that writes it "
                     f"(`stepeval {'score' if self.path.name.startswith('scores') else 'generate'}`"
                     f"{' --shard I/N with its shard' if path != self.path else ''}); nothing was changed",
            ) from exc

    def read(self) -> pd.DataFrame:
        """The whole table: the main file and every part file."""
        frames = [f for f in (self._read_file(p) for p in self.files()) if not f.empty]
        if not frames:
            return pd.DataFrame()
        if len(frames) == 1:
            return frames[0]
        table = pd.concat(frames, ignore_index=True)
        if self.order_by and self.order_by in table.columns:
            # A stable sort keeps each file's append order and interleaves the files by write time.
            # A row without a readable time sorts first: it cannot be shown to be newer.
            when = pd.to_datetime(table[self.order_by], utc=True, errors="coerce", format="ISO8601")
            key = when.fillna(pd.Timestamp(0, tz="UTC")).to_numpy(dtype="datetime64[ns]")
            table = table.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
        return table

    def append(self, rows: Iterable[dict]) -> int:
        new = pd.DataFrame([_normalise(r) for r in rows])
        if new.empty:
            return 0
        with short_lock(self.lock_path):
            # Every writer of this file holds the lock, so a temporary file found now is one a killed
            # writer left behind.
            for stale in self.write_path.parent.glob(f".{self.write_path.name}.*.tmp"):
                stale.unlink(missing_ok=True)
            old = self._read_file(self.write_path)
            table = new if old.empty else pd.concat([old, new], ignore_index=True)
            atomic_write(self.write_path, lambda p: table.to_parquet(p, index=False))
        return len(new)

    def latest(self, keys: Sequence[str]) -> pd.DataFrame:
        """One row per key: the most recently written one."""
        df = self.read()
        if df.empty:
            return df
        return df.drop_duplicates(subset=list(keys), keep="last").reset_index(drop=True)

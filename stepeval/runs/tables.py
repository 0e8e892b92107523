"""Parquet tables of a run (`generations.parquet`, `scores.parquet`), appended safely.

Parquet files cannot be appended in place, so an append reads the table, adds the rows and
atomically replaces the file, under a lock shared by every process writing the run. Tables are
small (one row per video or per video and metric), so this costs milliseconds and keeps the
on-disk file always complete and readable by any parquet tool.
Rows are never edited: a newer row for the same key supersedes an older one (`latest`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from stepeval.errors import UserError
from stepeval.runs.atomic import atomic_write
from stepeval.runs.lock import short_lock


def _normalise(row: dict) -> dict:
    # Nested values (parameters dicts, lists) are stored as JSON text so every column has one type.
    return {k: json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, (dict, list, tuple)) else v for k, v in row.items()}


class Table:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock_path = self.path.with_name(f".{self.path.name}.lock")

    def read(self) -> pd.DataFrame:
        # One read of the whole file, then parse: pyarrow opens a path more than once (footer, then
        # pages), and a writer's rename between the two would pair one file's footer with another's pages.
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return pd.DataFrame()
        try:
            return pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise UserError(
                f"cannot read {self.path.name}: the file is damaged ({exc})", path=self.path,
                hint=f"restore it from a backup, or move it aside and rerun the command that writes it "
                     f"(`stepeval {'score' if self.path.name.startswith('scores') else 'generate'}`); nothing was changed",
            ) from exc

    def append(self, rows: Iterable[dict]) -> int:
        new = pd.DataFrame([_normalise(r) for r in rows])
        if new.empty:
            return 0
        with short_lock(self.lock_path):
            # Every writer of this table holds the lock, so a temporary file found now is one a killed
            # writer left behind.
            for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
                stale.unlink(missing_ok=True)
            old = self.read()
            table = new if old.empty else pd.concat([old, new], ignore_index=True)
            atomic_write(self.path, lambda p: table.to_parquet(p, index=False))
        return len(new)

    def latest(self, keys: Sequence[str]) -> pd.DataFrame:
        """One row per key: the most recently appended one."""
        df = self.read()
        if df.empty:
            return df
        return df.drop_duplicates(subset=list(keys), keep="last").reset_index(drop=True)

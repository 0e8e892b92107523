"""File locks: one writer per run, and short critical sections for table appends.

flock locks die with their process, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from stepeval.errors import UserError


def _open_lock_file(path: Path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "a+")
    except OSError as exc:
        raise UserError(
            f"cannot write in this folder ({exc.strerror}); stepeval keeps its locks and results there",
            path=path.parent,
            hint="make the run directory writable, or work on a copy of it",
        ) from exc


def is_locked(path: Path) -> bool:
    """Whether another process holds the lock at `path` (a writer at work), without waiting."""
    if not path.exists():
        return False
    try:
        with open(path) as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    except OSError:
        return False
    return False


@contextmanager
def exclusive_lock(path: Path, *, wait: bool = False, what: str = "run"):
    """Hold an exclusive lock on `path` (created if needed); refuse at once if another process has it."""
    f = _open_lock_file(path)
    try:
        flags = fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB)
        try:
            fcntl.flock(f.fileno(), flags)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise UserError(
                f"this {what} is in use by {holder}",
                path=path.parent,
                hint="wait for that process to finish (two writers would corrupt the run), or use another run directory",
            ) from None
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S"), "cmd": " ".join(sys.argv[:4])}))
        f.flush()
        yield
    finally:
        f.close()  # closing releases the flock


@contextmanager
def short_lock(path: Path):
    """Blocking lock for a short critical section (a table append), shared by all ranks of a job."""
    with _open_lock_file(path) as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)

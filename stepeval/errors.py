"""Errors a user can cause.

Anything raised as `UserError` is shown by the CLI as one clear message (no traceback unless
`--verbose`) and ends with exit code 2. The message should name the file and say how to fix it.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A problem with the user's input or environment, not a bug in stepeval."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str | None = None):
        self.path = Path(path) if path is not None else None
        self.hint = hint
        parts = []
        if path is not None:
            parts.append(f"{path}: ")
        parts.append(message)
        if hint:
            parts.append(f"\n  fix: {hint}")
        super().__init__("".join(parts))

"""Reading prompt files: UTF-8 only, with one clear error for the ways they go wrong."""

from __future__ import annotations

import codecs
from pathlib import Path

from stepeval.errors import UserError


def read_prompt(path: Path, *, strip_newlines: bool = False) -> str:
    """Return the prompt text of `path`.

    Step-Video-TI2V-Eval prompts are kept byte-exact (41 of them end in a space, and checksums
    cover the bytes); `strip_newlines=True` drops the trailing newline an editor adds to a user's own
    prompt files. A UTF-8 BOM is removed. GBK/GB18030 and other non-UTF-8 files are refused with a
    conversion hint rather than guessed at, since a wrong guess silently changes the prompt.
    """
    try:
        raw = path.read_bytes()
    except IsADirectoryError as exc:
        raise UserError("is a directory, not a prompt file", path=path, hint="remove or rename it") from exc
    except OSError as exc:
        raise UserError(f"cannot read prompt file ({exc.strerror})", path=path, hint="check permissions") from exc
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        guess = ""
        try:
            raw.decode("gb18030")
            guess = " (it looks like GBK/GB18030)"
        except UnicodeDecodeError:
            pass
        raise UserError(
            f"prompt file is not valid UTF-8{guess}",
            path=path,
            hint=f"re-save it as UTF-8, e.g. `iconv -f GB18030 -t UTF-8 '{path}' > fixed.txt`",
        ) from exc
    if strip_newlines:
        text = text.rstrip("\r\n")
    if not text.strip():
        raise UserError("prompt file is empty", path=path, hint="write the prompt text into the file")
    return text

"""Download Step-Video-TI2V-Eval from its upstream repository, verified file by file.

Every file is checked against the manifest's git blob id, so the network (or a mirror) is not
trusted. Downloads go to `NAME.part` and resume from there with an HTTP Range request; a file is
renamed into place only once verified. Re-running skips files that already verify.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from stepeval.benchmark.manifest import ManifestEntry, git_blob_id_of_file, load_manifest
from stepeval.errors import UserError

DEFAULT_SOURCE = "https://raw.githubusercontent.com/stepfun-ai/Step-Video-TI2V/main/benchmark/Step-Video-TI2V-Eval"
CHUNK = 1 << 16
TIMEOUT_S = 30


@dataclass
class FetchReport:
    downloaded: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already present and verified
    failed: dict[str, str] = field(default_factory=dict)  # rel path -> reason

    @property
    def ok(self) -> bool:
        return not self.failed


class _Unreachable(Exception):
    """The source could not be contacted at all (as opposed to one bad file)."""


def _download(url: str, part: Path) -> bool:
    """Fetch url into `part`, continuing a previous partial download. Returns True if it resumed."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "stepeval"})
    if offset and not url.startswith("file:"):
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # the partial file is already complete
            return True
        raise
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise _Unreachable(str(getattr(exc, "reason", exc))) from exc
    with response:
        resumed = offset > 0 and getattr(response, "status", 200) == 206
        mode = "ab" if resumed else "wb"
        with open(part, mode) as f:
            while block := response.read(CHUNK):
                f.write(block)
    return resumed


def _fetch_one(source: str, dest: Path, rel: str, blob: str, report: FetchReport) -> int:
    target = dest / rel
    if target.exists() and git_blob_id_of_file(target) == blob:
        report.skipped.append(rel)
        return target.stat().st_size
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    try:
        resumed = _download(f"{source.rstrip('/')}/{rel}", part)
        if git_blob_id_of_file(part) != blob:
            # A resumed file may have been corrupted by a changed source: start that file over once.
            part.unlink(missing_ok=True)
            if resumed:
                _download(f"{source.rstrip('/')}/{rel}", part)
            if not part.exists() or git_blob_id_of_file(part) != blob:
                part.unlink(missing_ok=True)
                report.failed[rel] = "checksum mismatch (git blob id differs from the manifest)"
                return 0
        os.replace(part, target)
        (report.resumed if resumed else report.downloaded).append(rel)
        return target.stat().st_size
    except urllib.error.HTTPError as exc:
        report.failed[rel] = f"HTTP {exc.code}"
        return 0


def fetch_benchmark(
    dest: str | Path,
    *,
    source: str = DEFAULT_SOURCE,
    entries: list[ManifestEntry] | None = None,
    workers: int = 4,
    on_file: Callable[[str, int], None] | None = None,
) -> FetchReport:
    """Download (the selected entries of) the benchmark into dest, in the upstream layout."""
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create destination ({exc.strerror})", path=dest, hint="choose a writable folder") from exc
    entries = entries if entries is not None else sorted(load_manifest().values(), key=lambda e: e.id)
    jobs = [(e.rel_path(".txt"), e.txt_git_blob) for e in entries] + [(e.rel_path(".png"), e.png_git_blob) for e in entries]
    report = FetchReport()

    # Probe the source with the first file so "no network" is one clear error, not 596 failures.
    first_rel, first_blob = jobs[0]
    try:
        size = _fetch_one(source, dest, first_rel, first_blob, report)
    except _Unreachable as exc:
        raise UserError(
            f"cannot reach the benchmark source {source} ({exc})",
            hint=(
                "no network here? Copy the benchmark folder from a machine that has it and point stepeval at it "
                "(e.g. `stepeval data validate /path/to/Step-Video-TI2V-Eval`), or verify a local copy into DEST with "
                "`stepeval data fetch DEST --source file:///path/to/Step-Video-TI2V-Eval`"
            ),
        ) from exc
    if on_file:
        on_file(first_rel, size)

    def work(job: tuple[str, str]) -> None:
        rel, blob = job
        try:
            size = _fetch_one(source, dest, rel, blob, report)
        except _Unreachable as exc:
            report.failed[rel] = f"unreachable: {exc}"
            size = 0
        if on_file:
            on_file(rel, size)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(work, jobs[1:]))
    return report

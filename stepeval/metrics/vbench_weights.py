"""VBench-I2V's weight files: the pinned table, hash verification, and verified downloads.

`vbench_weights.json` beside this module is the only place that says which files a dimension reads,
where each comes from (a URL pinned to a commit, a release or a content address) and its sha256.
Everything else derives from it: which files a run needs, what `stepeval vbench check` verifies,
what `stepeval vbench prefetch` downloads and the weight hashes recorded with every score.

A file's state is one of
- `verified`: present and its sha256 equals the table's;
- `unverified`: present, but the table has no published hash for it (nothing to compare with);
- `wrong-hash`: present and different from the table (a corrupt download, another release, random test
  weights): scores computed with it are not VBench's;
- `missing`.

Hashing a multi-GB checkpoint takes seconds, so digests are cached in `stepeval-sha256-cache.json` in
the VBench cache folder, keyed by the file's resolved path, size and mtime_ns: a repeated check or
score run re-hashes only files that changed.

Downloads go through pooch: a file with a known hash is streamed to a temporary name and moved into
place only when its sha256 matches; archives are unpacked into a staging folder, their files
checked against the table, and moved into place only when none is wrong. GitHub's archives are not
byte-stable over time, so for hub code the unpacked files carry the hashes, not the zip.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stepeval.errors import UserError

TABLE_FILE = Path(__file__).with_name("vbench_weights.json")
# A site that mirrors the files, or adds one, points stepeval at its own table of the same schema.
TABLE_ENV = "STEPEVAL_VBENCH_WEIGHTS_TABLE"
HASH_CACHE_NAME = "stepeval-sha256-cache.json"
DOWNLOADS_DIR = ".stepeval-downloads"
ROOTS = {"cache": "$VBENCH_CACHE_DIR", "hub": "$TORCH_HOME/hub"}
STATUSES = ("verified", "unverified", "wrong-hash", "missing")
# The score record's status for files under a `write-random-weights` root: they exist to test the
# plumbing and are expected to differ from the table.
RANDOM_WEIGHTS = "random-weights"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class WeightSpec:
    """One row of the table."""

    root: str  # "cache" ($VBENCH_CACHE_DIR) or "hub" ($TORCH_HOME/hub)
    path: str  # relative to the root
    what: str
    dimensions: tuple[str, ...]
    url: str | None
    sha256: str | None  # None: no published hash
    size: int | None = None
    archive: str | None = None  # None (a plain file), "zip", or "github" (one top folder, stripped)
    unpack_to: str | None = None  # for archives: the folder, relative to the root, the archive unpacks into
    link_to: str | None = None  # "root:path" of the row whose download this file links to
    required: bool = True  # a run is refused without it
    hash_source: str = ""
    pin: str = ""

    @property
    def key(self) -> str:
        return f"{self.root}:{self.path}"

    @property
    def label(self) -> str:
        """The file as a reader of a score record sees it: `$VBENCH_CACHE_DIR/clip_model/ViT-B-32.pt`."""
        return f"{ROOTS[self.root]}/{self.path}"

    @property
    def member(self) -> str | None:
        """The file's path inside its archive."""
        if not self.archive:
            return None
        return Path(self.path).relative_to(self.unpack_to).as_posix()

    def location(self, cache_dir: Path, torch_home: Path) -> Path:
        base = Path(cache_dir) if self.root == "cache" else Path(torch_home) / "hub"
        return base / self.path


@dataclass(frozen=True)
class WeightTable:
    files: tuple[WeightSpec, ...]
    source: Path
    sha256: str  # of the table file, so a score record names the table that judged its weights

    def for_dimension(self, dimension: str) -> list[WeightSpec]:
        return [s for s in self.files if dimension in s.dimensions]

    def dimensions(self) -> list[str]:
        return list(dict.fromkeys(d for s in self.files for d in s.dimensions))

    def by_key(self) -> dict[str, WeightSpec]:
        return {s.key: s for s in self.files}


_TABLES: dict[tuple[str, str], WeightTable] = {}


def table_path() -> Path:
    return Path(os.environ[TABLE_ENV]).expanduser() if os.environ.get(TABLE_ENV) else TABLE_FILE


def load_table(path: Path | str | None = None) -> WeightTable:
    """The weight table at `path` (default: $STEPEVAL_VBENCH_WEIGHTS_TABLE, else the shipped one)."""
    path = Path(path) if path else table_path()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read the VBench weight table ({exc.strerror})", path=path,
                        hint=f"unset {TABLE_ENV} to use the table stepeval ships") from None
    stamp = (str(path.resolve()), hashlib.sha256(raw).hexdigest())
    if stamp in _TABLES:
        return _TABLES[stamp]
    try:
        rows = json.loads(raw)["files"]
        specs = tuple(_spec(r) for r in rows)
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"the VBench weight table is malformed: {exc}", path=path,
                        hint="each entry of `files` needs root, path, what, dimensions, url and sha256 (see docs/vbench-i2v.md)") from None
    keys = [s.key for s in specs]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    by_key = dict(zip(keys, specs))
    bad_links = [s.key for s in specs if s.link_to and s.link_to not in by_key]
    if dupes or bad_links:
        raise UserError(f"the VBench weight table is inconsistent: duplicate entries {dupes}, links to unknown entries {bad_links}", path=path,
                        hint="give each file one entry; link_to names another entry as root:path")
    table = WeightTable(specs, path, stamp[1])
    _TABLES[stamp] = table
    return table


def _spec(row: dict) -> WeightSpec:
    sha = row.get("sha256")
    if sha is not None and not _HEX64.match(sha):
        raise ValueError(f"{row.get('path')}: sha256 must be 64 lowercase hex digits or null, not {sha!r}")
    if row["root"] not in ROOTS:
        raise ValueError(f"{row['path']}: root must be one of {', '.join(ROOTS)}")
    archive = row.get("archive")
    if archive not in (None, "zip", "github"):
        raise ValueError(f"{row['path']}: archive must be null, zip or github")
    if archive and not (row.get("unpack_to") and Path(row["path"]).is_relative_to(row["unpack_to"])):
        raise ValueError(f"{row['path']}: an archived file needs unpack_to, a folder that contains its path")
    return WeightSpec(root=row["root"], path=row["path"], what=row["what"], dimensions=tuple(row["dimensions"]), url=row.get("url"),
                      sha256=sha, size=row.get("size"), archive=archive, unpack_to=row.get("unpack_to"), link_to=row.get("link_to"),
                      required=bool(row.get("required", True)), hash_source=row.get("hash_source", ""), pin=row.get("pin", ""))


# -- hashing, with a cache --------------------------------------------------------------------------


class HashCache:
    """sha256 digests keyed by (resolved path, size, mtime_ns), kept in a small JSON file.

    A file changed in place gets a new mtime, so its stale digest is never used; a cache that cannot
    be read or written is only a cache: hashing still works without it."""

    def __init__(self, path: Path | None):
        self.path = Path(path) if path else None
        self.entries: dict[str, dict] = {}
        self.dirty = False
        if self.path is not None:
            try:
                self.entries = dict(json.loads(self.path.read_text(encoding="utf-8")).get("files") or {})
            except (OSError, ValueError, AttributeError):
                self.entries = {}

    @classmethod
    def for_cache_dir(cls, cache_dir: Path) -> HashCache:
        return cls(Path(cache_dir) / HASH_CACHE_NAME)

    def sha256(self, file: Path, *, rehash: bool = False) -> str:
        real = Path(file).resolve()
        st = real.stat()
        key = str(real)
        hit = self.entries.get(key)
        if not rehash and hit and hit.get("size") == st.st_size and hit.get("mtime_ns") == st.st_mtime_ns:
            return hit["sha256"]
        digest = sha256_file(real)
        self.remember(real, digest)
        return digest

    def remember(self, file: Path, digest: str) -> None:
        real = Path(file).resolve()
        st = real.stat()
        self.entries[str(real)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        self.dirty = True

    def save(self) -> None:
        # Only beside an existing cache folder: checking an empty place must not create it.
        if not (self.dirty and self.path is not None and self.path.parent.is_dir()):
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps({"version": 1, "files": self.entries}, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
            self.dirty = False
        except OSError:
            tmp.unlink(missing_ok=True)


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# -- status -----------------------------------------------------------------------------------------


@dataclass
class FileStatus:
    spec: WeightSpec
    path: Path
    status: str  # one of STATUSES
    sha256: str | None  # the file's actual digest (None when missing)

    def as_dict(self) -> dict:
        s = self.spec
        return {"file": s.label, "path": str(self.path), "what": s.what, "status": self.status, "sha256": self.sha256,
                "expected_sha256": s.sha256, "size": s.size, "required": s.required, "url": s.url, "hash_source": s.hash_source}


def file_status(spec: WeightSpec, cache_dir: Path, torch_home: Path, hashes: HashCache, *, rehash: bool = False) -> FileStatus:
    path = spec.location(cache_dir, torch_home)
    if not path.is_file():  # a dangling link is as missing as no file
        return FileStatus(spec, path, "missing", None)
    digest = hashes.sha256(path, rehash=rehash)
    if spec.sha256 is None:
        return FileStatus(spec, path, "unverified", digest)
    return FileStatus(spec, path, "verified" if digest == spec.sha256 else "wrong-hash", digest)


def weights_status(dimensions: Iterable[str], cache_dir: Path, torch_home: Path, *, table: WeightTable | None = None,
                   rehash: bool = False, hashes: HashCache | None = None) -> dict[str, list[FileStatus]]:
    """dimension -> the state of each file it reads (each file hashed once, however many dimensions share it)."""
    table = table or load_table()
    own = hashes is None
    hashes = hashes or HashCache.for_cache_dir(cache_dir)
    seen: dict[str, FileStatus] = {}
    out: dict[str, list[FileStatus]] = {}
    try:
        for dim in dimensions:
            out[dim] = []
            for spec in table.for_dimension(dim):
                if spec.key not in seen:
                    seen[spec.key] = file_status(spec, cache_dir, torch_home, hashes, rehash=rehash)
                out[dim].append(seen[spec.key])
    finally:
        if own:
            hashes.save()
    return out


def is_random_weights_root(cache_dir: Path) -> bool:
    """Whether `cache_dir` is the cache folder of a `write-random-weights` root (its marker beside it)."""
    from stepeval.metrics.testing import MARKER  # the test helper owns the marker's name

    return (Path(cache_dir).parent / MARKER).exists()


def weights_record(dimensions: Iterable[str], cache_dir: Path, torch_home: Path, *, table: WeightTable | None = None) -> dict:
    """What a score row's env column says about the weights its dimension read: per dimension, each
    file's sha256 and state ("random-weights" for anything but a verified file under a random-weights
    root), and the digest of the table that judged them."""
    table = table or load_table()
    status = weights_status(dimensions, cache_dir, torch_home, table=table)
    random_root = is_random_weights_root(cache_dir)
    files = {
        dim: {fs.spec.label: {"sha256": fs.sha256,
                              "status": RANDOM_WEIGHTS if random_root and fs.status not in ("verified", "missing") else fs.status}
              for fs in rows}
        for dim, rows in status.items()
    }
    return {"table_sha256": table.sha256, "files": files}


# -- downloads --------------------------------------------------------------------------------------


class WeightHashError(Exception):
    """A download whose bytes are not the table's; nothing of it was put in place."""

    def __init__(self, url: str, problems: Sequence[tuple[str, str | None, str | None]]):
        self.url = url
        self.problems = list(problems)  # (file, expected sha256, actual sha256 or None when absent)
        parts = [f"{name}: expected sha256 {exp}, got {got}" if got else f"{name}: not in the download"
                 for name, exp, got in self.problems]
        super().__init__(f"refused {url}: " + "; ".join(parts) + " (nothing was put in place)")


@dataclass(frozen=True)
class Fetch:
    url: str
    dest: Path  # the file, or the folder an archive is unpacked into
    kind: str  # "file", "zip" (unpacked into dest), "repo" (a GitHub commit archive whose single top folder becomes dest)
    sha256: str | None = None  # the file's, for kind "file"
    files: tuple[WeightSpec, ...] = field(default_factory=tuple)  # what the download must contain, checked before placing


def fetch_plan(dimensions: Iterable[str], cache_dir: Path, torch_home: Path, *, table: WeightTable | None = None,
               ) -> tuple[list[Fetch], list[tuple[Path, Path]]]:
    """Downloads for the files of `dimensions` that are missing or have a wrong hash, and the
    (link, target) pairs made afterwards (one DINO checkpoint serves the three places that read it)."""
    table = table or load_table()
    cache_dir, torch_home = Path(cache_dir), Path(torch_home)
    by_key = table.by_key()
    hashes = HashCache.for_cache_dir(cache_dir)
    status = weights_status(dimensions, cache_dir, torch_home, table=table, hashes=hashes)
    bad = {fs.spec.key: fs for rows in status.values() for fs in rows if fs.status in ("missing", "wrong-hash")}
    plan: dict[tuple[str, Path], Fetch] = {}
    links: list[tuple[Path, Path]] = []

    def want_file(spec: WeightSpec) -> None:
        dest = spec.location(cache_dir, torch_home)
        plan.setdefault((spec.url, dest), Fetch(spec.url, dest, "file", spec.sha256, (spec,)))

    for key, fs in bad.items():
        spec = fs.spec
        if not spec.url:
            continue
        if spec.link_to:
            target = by_key[spec.link_to]
            target_path = target.location(cache_dir, torch_home)
            target_state = file_status(target, cache_dir, torch_home, hashes)
            if target_state.status in ("missing", "wrong-hash"):
                want_file(target)
            links.append((fs.path, target_path))
        elif spec.archive:
            dest = (cache_dir if spec.root == "cache" else torch_home / "hub") / spec.unpack_to
            members = tuple(s for s in table.files if s.url == spec.url and s.unpack_to == spec.unpack_to and s.root == spec.root)
            plan.setdefault((spec.url, dest), Fetch(spec.url, dest, "repo" if spec.archive == "github" else "zip", None, members))
        else:
            want_file(spec)
    hashes.save()
    return list(plan.values()), links


def prefetch(dimensions: Iterable[str], cache_dir: Path, torch_home: Path, *, table: WeightTable | None = None,
             log: Callable[[str], None] | None = None, timeout: float = 60) -> dict[str, str]:
    """Download what `dimensions` miss (or hold with a wrong hash), verifying each file against the
    table before it is put in place; returns url -> error for the downloads that failed or were refused."""
    import pooch

    say = log or (lambda m: None)
    table = table or load_table()
    cache_dir, torch_home = Path(cache_dir), Path(torch_home)
    plan, links = fetch_plan(dimensions, cache_dir, torch_home, table=table)
    downloader = pooch.HTTPDownloader(progressbar=False, timeout=timeout)
    hashes = HashCache.for_cache_dir(cache_dir)
    downloads = cache_dir / DOWNLOADS_DIR
    failed: dict[str, str] = {}
    # pooch would advise pinning each archive's own digest; GitHub's archives are not byte-stable, so
    # the table pins the files inside instead, and `say` reports what matters.
    pooch_logger = pooch.get_logger()
    level = pooch_logger.level
    pooch_logger.setLevel("WARNING")
    try:
        for f in plan:
            say(f"fetch {f.url} -> {f.dest}")
            try:
                if f.kind == "file":
                    _fetch_file(f, downloader, hashes, say)
                else:
                    _fetch_archive(f, downloads, downloader, hashes, say)
            except WeightHashError as exc:
                failed[f.url] = str(exc)
                say(f"  refused: {exc}")
            except Exception as exc:  # noqa: BLE001 - report every failed download, keep going
                failed[f.url] = f"{type(exc).__name__}: {exc}"
                say(f"  failed: {failed[f.url]}")
        refused = {f.dest for f in plan if f.url in failed}
        for link, target in links:
            if not target.is_file() or target in refused:
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()  # a wrong-hash copy where the link belongs
            link.symlink_to(target)
    finally:
        pooch_logger.setLevel(level)
        hashes.save()
        shutil.rmtree(downloads, ignore_errors=True)
    return failed


def _fetch_file(f: Fetch, downloader, hashes: HashCache, say: Callable[[str], None]) -> None:
    import pooch

    f.dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        # pooch streams to a temporary file beside dest and moves it into place only when the hash matches.
        pooch.retrieve(f.url, known_hash=f"sha256:{f.sha256}" if f.sha256 else None, fname=f.dest.name, path=f.dest.parent,
                       downloader=downloader)
    except ValueError as exc:
        got = re.search(r"but got ([0-9a-fA-F]{64})", str(exc))
        if f.sha256 and "does not match the known hash" in str(exc):
            raise WeightHashError(f.url, [(f.files[0].label, f.sha256, got.group(1).lower() if got else "a different digest")]) from None
        raise
    digest = f.sha256 or sha256_file(f.dest)
    hashes.remember(f.dest, digest)
    if not f.sha256:
        say(f"  {f.files[0].label}: no published sha256; the downloaded file's is {digest} (unverified)")


class _VerifiedUnpack:
    """pooch processor: unzip into a staging folder beside the destination, check the files the table
    lists, and move the content into place only when none is wrong."""

    def __init__(self, fetch: Fetch, hashes: HashCache, say: Callable[[str], None]):
        self.fetch, self.hashes, self.say = fetch, hashes, say

    def __call__(self, fname: str, action: str, pup) -> str:
        import pooch

        f = self.fetch
        f.dest.parent.mkdir(parents=True, exist_ok=True)
        staging = f.dest.parent / f".{f.dest.name}.unpack"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            pooch.Unzip(extract_dir=str(staging))(fname, "download", pup)  # always unpack afresh
            top = staging
            if f.kind == "repo":
                entries = list(staging.iterdir())
                if len(entries) != 1 or not entries[0].is_dir():
                    raise ValueError(f"{f.url} is not a GitHub commit archive (expected one top folder, found {len(entries)} entries)")
                top = entries[0]
            problems, digests = [], {}
            for spec in f.files:
                got_path = top / spec.member
                if not got_path.is_file():
                    problems.append((spec.label, spec.sha256, None))
                    continue
                digests[spec.member] = digest = sha256_file(got_path)
                if spec.sha256 and digest != spec.sha256:
                    problems.append((spec.label, spec.sha256, digest))
            if problems:
                raise WeightHashError(f.url, problems)
            if f.kind == "repo":
                # The hub folder is one unit: replace it whole so no file of an older commit lingers.
                old = f.dest.parent / f".{f.dest.name}.old"
                shutil.rmtree(old, ignore_errors=True)
                if f.dest.exists():
                    os.replace(f.dest, old)
                os.replace(top, f.dest)
                shutil.rmtree(old, ignore_errors=True)
            else:
                f.dest.mkdir(parents=True, exist_ok=True)
                for item in top.iterdir():
                    target = f.dest / item.name
                    if target.is_dir() and not target.is_symlink():
                        shutil.rmtree(target)
                    elif target.exists() or target.is_symlink():
                        target.unlink()
                    os.replace(item, target)
            for spec in f.files:
                placed = f.dest / spec.member
                if spec.member in digests and placed.is_file():
                    self.hashes.remember(placed, digests[spec.member])
                    if not spec.sha256:
                        self.say(f"  {spec.label}: no published sha256; the unpacked file's is {digests[spec.member]} (unverified)")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return str(f.dest)


def _fetch_archive(f: Fetch, downloads: Path, downloader, hashes: HashCache, say: Callable[[str], None]) -> None:
    import pooch

    # GitHub re-creates commit archives on request and does not promise the same bytes, and the other
    # archives have no published digest: the files inside are what the table verifies.
    fname = hashlib.sha1(f.url.encode()).hexdigest()[:16] + "-" + f.url.rstrip("/").rsplit("/", 1)[-1]
    pooch.retrieve(f.url, known_hash=None, fname=fname, path=downloads, downloader=downloader, processor=_VerifiedUnpack(f, hashes, say))

"""Engines for the annotation store: SQLite (WAL) by default, any SQLAlchemy URL otherwise.

SQLite writes use BEGIN IMMEDIATE: a deferred transaction that reads, then writes, fails at once
with "database is locked" when another writer committed in between (WAL snapshot conflict), and the
busy timeout does not help. Taking the write lock up front makes concurrent submits queue instead.
Reads keep plain BEGIN, so a read-only archive can still be exported.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from stepeval.errors import UserError

DEFAULT_DB_NAME = "annotations.sqlite"


def resolve_url(db: str | Path | None, run_root: str | Path | None = None) -> str:
    """`--db` as given: None -> RUN/annotations.sqlite; a plain path -> SQLite file; else a URL."""
    if db is None:
        if run_root is None:
            raise UserError("no annotation database given", hint="pass a run directory or --db URL")
        db = Path(run_root) / DEFAULT_DB_NAME
    text = str(db)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).resolve()}"


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def sqlite_path(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    db = u.database[len("file:"):] if u.database.startswith("file:") else u.database  # URI form
    return Path(db)


def make_engines(url: str, *, busy_timeout_s: float = 30.0) -> tuple[Engine, Engine]:
    """(write engine, read engine); the same engine for servers other than SQLite."""
    try:
        u = make_url(url)
    except ArgumentError as exc:
        raise UserError(f"not a database URL: {url!r}", hint="use a file path or e.g. postgresql+psycopg://user:pw@host/db") from exc
    if u.get_backend_name() != "sqlite":
        try:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            raise UserError(f"no driver for {describe(url)} ({exc})", hint="pip install 'psycopg[binary]' for PostgreSQL") from exc
        return engine, engine
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise UserError("the folder of the annotation database does not exist", path=path.parent, hint="create it or pass another --db")
    return _sqlite_engine(url, immediate=True, busy_timeout_s=busy_timeout_s), _sqlite_engine(url, immediate=False, busy_timeout_s=busy_timeout_s)


def _sqlite_engine(url: str, *, immediate: bool, busy_timeout_s: float) -> Engine:
    engine = create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False}, pool_size=16, max_overflow=16)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy's begin event emit BEGIN itself (pysqlite's implicit BEGIN is DEFERRED).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses no committed row
        except Exception:  # a read-only file keeps its journal mode; reading still works
            pass
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def friendly_errors(url: str):
    """Turn the database errors a user can cause into one clear UserError."""
    try:
        yield
    except OperationalError as exc:
        raise _translate(exc, url) from exc
    except DBAPIError as exc:
        low = str(exc.orig).lower()
        if any(words in low for words in ("readonly", "read-only", "not a database", "malformed")):
            raise _translate(exc, url) from exc
        raise


def _translate(exc: DBAPIError, url: str) -> UserError:
    msg = str(exc.orig) if exc.orig is not None else str(exc)
    low = msg.lower()
    where = sqlite_path(url) or describe(url)
    if "locked" in low or "busy" in low:
        return UserError(
            f"the annotation database is locked by another process ({msg}); nothing was written",
            path=where,
            hint="wait until the other writer (a long export, a backup, a DB browser) finishes and retry",
        )
    if "readonly" in low or "read-only" in low or "read only" in low:
        return UserError(
            f"the annotation database is read-only ({msg}); nothing was written",
            path=where,
            hint="make the file and its folder writable (chmod u+w), or copy it and pass --db to the copy",
        )
    if "not a database" in low or "malformed" in low:
        return UserError(f"not an annotation database, or a damaged one ({msg}); nothing was written", path=where,
                         hint="pass --db the study's database file, or move this file aside to start a new one")
    if "unable to open" in low:
        return UserError(f"cannot open the annotation database ({msg})", path=where, hint="check that the file and its folder exist and are readable")
    return UserError(f"database error: {msg}", path=where, hint="check that the database server is running and the URL is right")

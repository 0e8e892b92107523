"""What the app serves: the annotation database and the run, passed by `stepeval annotate serve`
through the environment (Streamlit owns the script's command line)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_DB = "STEPEVAL_ANNOTATE_DB"
ENV_RUN = "STEPEVAL_ANNOTATE_RUN"


@dataclass(frozen=True)
class AppConfig:
    db_url: str
    run_root: Path | None


def from_env() -> AppConfig:
    from stepeval.human.db import resolve_url

    run = os.environ.get(ENV_RUN) or None
    db = os.environ.get(ENV_DB) or None
    if db is None and run is None:
        raise RuntimeError(f"set {ENV_RUN} (a run directory) or {ENV_DB} (a database URL); `stepeval annotate serve RUN` does this")
    return AppConfig(resolve_url(db, run), Path(run) if run else None)


def to_env(db_url: str, run_root: Path | None) -> dict[str, str]:
    env = {ENV_DB: db_url}
    if run_root is not None:
        env[ENV_RUN] = str(Path(run_root).resolve())
    return env

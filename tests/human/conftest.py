from __future__ import annotations

import os
import shutil

import pytest

from stepeval.human import AnnotationStore, create_study_from_run
from tests.human.helpers import MODEL_A, MODEL_B, make_run


@pytest.fixture(scope="session")
def base_run(tmp_path_factory, step_eval_root):
    """One run with videos, written once per session; tests copy it (videos are the slow part)."""
    root = tmp_path_factory.mktemp("human-runs")
    run, ids = make_run(root, step_eval_root, n_items=4)
    return run.root, ids


@pytest.fixture
def run_copy(base_run, tmp_path):
    src, ids = base_run
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    from stepeval.runs import Run

    return Run.open(dst), ids


@pytest.fixture
def study(run_copy):
    """A study on a fresh copy of the run: 4 items, overlap 2, one gold item each, two annotators."""
    run, ids = run_copy
    store = AnnotationStore.open(run_root=run.root)
    study_id, admin = create_study_from_run(store, run, MODEL_A, MODEL_B, study_id="s1", overlap=2, gold_per_annotator=1, seed=7)
    tokens = {name: store.add_annotator(study_id, name) for name in ("alice", "bob")}
    yield {"store": store, "run": run, "ids": ids, "study_id": study_id, "admin": admin, "tokens": tokens}
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh database: SQLite always, PostgreSQL when STEPEVAL_TEST_POSTGRES_URL is set (CI)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'annotations.sqlite'}"
        return
    url = os.environ.get("STEPEVAL_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server (set STEPEVAL_TEST_POSTGRES_URL, e.g. from scripts/start_postgres.sh)")
    pytest.importorskip("psycopg")
    from sqlalchemy import create_engine, text

    schema = f"t_{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}"
    eng = create_engine(url)
    with eng.begin() as c:
        c.execute(text(f"create schema {schema}"))
    sep = "&" if "?" in url else "?"
    yield f"{url}{sep}options=-csearch_path%3D{schema}"
    with eng.begin() as c:
        c.execute(text(f"drop schema {schema} cascade"))
    eng.dispose()

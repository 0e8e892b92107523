"""Judgments per second sustained by the app's submit path (`AnnotationStore.submit`).

    python benchmarks/annotation_store.py                         # SQLite (WAL) in a temp folder
    python benchmarks/annotation_store.py --postgres-url "$(bash scripts/start_postgres.sh)"

Each of W writer threads (one per simulated annotator, sharing one store as the Streamlit server
does) submits N judgments of 3 dimensions. Reference in the same run: the floor for a durable
SQLite commit, raw sqlite3 inserting the same 4 rows per judgment in one WAL transaction each.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from stepeval.human import DIMENSION_NAMES, AnnotationStore, ItemInfo


def run_store(url: str, writers: int, per_writer: int) -> dict:
    store = AnnotationStore(url)
    items = [ItemInfo(f"real/H/{i:03d}", "real", "H", "", None) for i in range(per_writer)]
    store.create_study("bench", run_name="bench", model_a="ma", model_b="mb", items=items, overlap=writers)
    idents = [store.authenticate(store.add_annotator("bench", f"a{n}")) for n in range(writers)]
    queues = [store.queue(i.annotator_id) for i in idents]
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(writers + 1)

    def work(ident, queue):
        mine = []
        barrier.wait()
        for n, task in enumerate(queue):
            labels = {d: ("left", "tie", "right")[(n + k) % 3] for k, d in enumerate(DIMENSION_NAMES)}
            t = time.perf_counter()
            store.submit(task.id, annotator_id=ident.annotator_id, labels=labels, submission_id=uuid.uuid4().hex, seconds=1.0)
            mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(i, q)) for i, q in zip(idents, queues)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    stored = store.count_judgments("bench")
    store.close()
    assert stored == writers * per_writer, (stored, writers * per_writer)
    lat = sorted(latencies)
    return {"judgments": stored, "seconds": wall, "per_s": stored / wall,
            "p50_ms": 1000 * statistics.median(lat), "p95_ms": 1000 * lat[int(0.95 * (len(lat) - 1))]}


def run_raw_sqlite(path: Path, total: int) -> dict:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE j (id INTEGER PRIMARY KEY, sub TEXT UNIQUE, task TEXT, rev INT, created TEXT)")
    con.execute("CREATE TABLE l (jid INT, dim TEXT, label TEXT, outcome TEXT, PRIMARY KEY (jid, dim))")
    t0 = time.perf_counter()
    for n in range(total):
        con.execute("BEGIN IMMEDIATE")
        cur = con.execute("INSERT INTO j (sub, task, rev, created) VALUES (?, ?, 1, ?)", (uuid.uuid4().hex, f"t{n}", "now"))
        for d in DIMENSION_NAMES:
            con.execute("INSERT INTO l VALUES (?, ?, 'left', 'A')", (cur.lastrowid, d))
        con.execute("COMMIT")
    wall = time.perf_counter() - t0
    con.close()
    return {"judgments": total, "seconds": wall, "per_s": total / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--per-writer", type=int, default=100)
    ap.add_argument("--postgres-url", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for writers in (1, args.writers):
            r = run_store(f"sqlite:///{Path(tmp) / f'w{writers}.sqlite'}", writers, args.per_writer)
            rows.append((f"stepeval submit, SQLite WAL, {writers} writer(s)", r))
        rows.append(("reference: raw sqlite3, WAL, 1 txn/judgment", run_raw_sqlite(Path(tmp) / "raw.sqlite", args.per_writer * args.writers)))
        if args.postgres_url:
            for writers in (1, args.writers):
                schema = f"bench_{uuid.uuid4().hex[:8]}"
                eng = create_engine(args.postgres_url)
                with eng.begin() as c:
                    c.execute(text(f"create schema {schema}"))
                try:
                    sep = "&" if "?" in args.postgres_url else "?"
                    r = run_store(f"{args.postgres_url}{sep}options=-csearch_path%3D{schema}", writers, args.per_writer)
                    rows.append((f"stepeval submit, PostgreSQL 127.0.0.1, {writers} writer(s)", r))
                finally:
                    with eng.begin() as c:
                        c.execute(text(f"drop schema {schema} cascade"))
                    eng.dispose()
    print("| path | judgments | seconds | judgments/s | p50 ms | p95 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        p50 = f"{r['p50_ms']:.1f}" if "p50_ms" in r else "-"
        p95 = f"{r['p95_ms']:.1f}" if "p95_ms" in r else "-"
        print(f"| {name} | {r['judgments']} | {r['seconds']:.2f} | {r['per_s']:.0f} | {p50} | {p95} |")


if __name__ == "__main__":
    main()

"""VBench weight files: the pinned table, verified downloads, `vbench check`, hashes in score records.

Downloads are real: each test serves its files from a local HTTP server on 127.0.0.1 and
`prefetch` fetches them through pooch exactly as it would from GitHub or Hugging Face. Tables other
than the shipped one are written by the tests, since no machine of the project has the real weights.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import re
import threading
import zipfile
from pathlib import Path

import pytest

from stepeval.cli.main import main
from stepeval.metrics.aggregate import DIMENSION_KEYS
from stepeval.metrics.vbench_t2v import DIMENSION_KEYS as T2V_DIMENSION_KEYS
from stepeval.metrics.testing import MARKER
from stepeval.metrics.vbench_env import VBenchEnv
from tests.metrics.vbench_support import require_vbench_env
from stepeval.metrics.vbench_weights import (
    HASH_CACHE_NAME,
    TABLE_ENV,
    fetch_plan,
    load_table,
    prefetch,
    weights_record,
    weights_status,
)

DINO_COMMIT = "7c446df5b9f45747937fb0d72314eb9f7b66930a"
COTRACKER_COMMIT = "9ed05317b794cd177674e681321780614a65e073"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def server(tmp_path):
    """(folder, base URL): files put in the folder are served over HTTP on 127.0.0.1 for the test."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.timeout = 10
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def write_table(path: Path, rows: list[dict]):
    full = [{"root": "cache", "what": r["path"], "dimensions": ["dynamic_degree"], "url": None, "sha256": None, **r} for r in rows]
    path.write_text(json.dumps({"schema": 1, "files": full}), encoding="utf-8")
    return load_table(path)


def statuses(report: dict) -> dict[str, str]:
    return {fs.spec.path: fs.status for rows in report.values() for fs in rows}


# -- the shipped table --------------------------------------------------------------------------------


def test_shipped_table_pins_every_download_and_names_its_hashes_sources(tmp_path):
    table = load_table()
    # VBench-I2V's nine and VBench's text-to-video dimensions; temporal_flickering reads no file
    assert set(table.dimensions()) == (set(DIMENSION_KEYS) | set(T2V_DIMENSION_KEYS)) - {"temporal_flickering"}
    for spec in table.files:
        assert spec.url and "refs/heads" not in spec.url, spec.key
        assert spec.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", spec.sha256), spec.key
        assert spec.hash_source and spec.pin, spec.key
        if spec.sha256 is None:
            assert spec.hash_source.startswith("unknown"), spec.key  # a gap is said, not hidden
        if "github.com" in spec.url and "/archive/" in spec.url:
            assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+/archive/[0-9a-f]{40}\.zip", spec.url), spec.url
            assert spec.archive == "github" and spec.sha256, spec.key  # hub code is verified file by file
        if "/raw/" in spec.url:
            assert re.search(r"/raw/[0-9a-f]{40}/", spec.url), spec.url
        if "openaipublic" in spec.url:
            assert spec.url.split("/")[-2] == spec.sha256  # OpenAI's URLs carry the file's sha256
    hub_code = [s for s in table.files if s.archive == "github"]
    assert {s.url for s in hub_code} == {f"https://github.com/facebookresearch/dino/archive/{DINO_COMMIT}.zip",
                                         f"https://github.com/facebookresearch/co-tracker/archive/{COTRACKER_COMMIT}.zip"}
    assert all(s.required == s.path.endswith("/hubconf.py") for s in hub_code)
    plan, _ = fetch_plan(DIMENSION_KEYS, tmp_path / "vb", tmp_path / "th")
    assert plan and not any("refs/heads" in f.url for f in plan)
    assert not (tmp_path / "vb").exists()  # planning writes nothing


# -- verified downloads ---------------------------------------------------------------------------------


def test_a_download_with_the_published_hash_is_verified_and_put_in_place(tmp_path, server):
    folder, base = server
    payload = b"checkpoint bytes " * 1000
    (folder / "raft-things.pth").write_bytes(payload)
    table = write_table(tmp_path / "table.json", [{"path": "raft_model/models/raft-things.pth", "url": f"{base}/raft-things.pth", "sha256": sha(payload)}])
    cache, thome = tmp_path / "vb", tmp_path / "th"
    assert statuses(weights_status(["dynamic_degree"], cache, thome, table=table)) == {"raft_model/models/raft-things.pth": "missing"}
    failed = prefetch(["dynamic_degree"], cache, thome, table=table, timeout=10)
    assert failed == {}
    assert (cache / "raft_model" / "models" / "raft-things.pth").read_bytes() == payload
    assert statuses(weights_status(["dynamic_degree"], cache, thome, table=table)) == {"raft_model/models/raft-things.pth": "verified"}
    assert prefetch(["dynamic_degree"], cache, thome, table=table, timeout=10) == {} and fetch_plan(["dynamic_degree"], cache, thome, table=table) == ([], [])


def test_a_download_with_other_bytes_is_refused_and_nothing_is_put_in_place(tmp_path, server):
    folder, base = server
    expected = sha(b"the published checkpoint")
    served = b"a replaced checkpoint"
    (folder / "amt-s.pth").write_bytes(served)
    url = f"{base}/amt-s.pth"
    table = write_table(tmp_path / "table.json", [{"path": "amt_model/amt-s.pth", "url": url, "sha256": expected, "dimensions": ["motion_smoothness"]}])
    cache = tmp_path / "vb"
    logged: list[str] = []
    failed = prefetch(["motion_smoothness"], cache, tmp_path / "th", table=table, timeout=10, log=logged.append)
    assert list(failed) == [url]
    msg = failed[url]
    assert url in msg and f"expected sha256 {expected}" in msg and f"got {sha(served)}" in msg and "nothing was put in place" in msg
    assert any("refused" in line for line in logged)
    # Neither the file nor a temporary download is left where vbench would look.
    assert not (cache / "amt_model" / "amt-s.pth").exists()
    assert list((cache / "amt_model").iterdir()) == []
    assert statuses(weights_status(["motion_smoothness"], cache, tmp_path / "th", table=table)) == {"amt_model/amt-s.pth": "missing"}


def _github_zip(files: dict[str, bytes], top: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(f"{top}/{name}", data)
    return buf.getvalue()


@pytest.mark.parametrize("tampered", [False, True])
def test_hub_code_archive_is_placed_only_when_every_listed_file_verifies(tmp_path, server, tampered):
    folder, base = server
    commit = "0123456789abcdef0123456789abcdef01234567"
    hubconf, model = b"from pkg.model import build\n", b"def build():\n    return 1\n"
    served = {"hubconf.py": hubconf, "pkg/model.py": model + (b"# changed upstream\n" if tampered else b""), "README.md": b"readme"}
    (folder / f"{commit}.zip").write_bytes(_github_zip(served, f"tracker-{commit}"))
    url = f"{base}/{commit}.zip"
    code = "facebookresearch_tracker_main"
    table = write_table(tmp_path / "table.json", [
        {"root": "hub", "path": f"{code}/hubconf.py", "url": url, "archive": "github", "unpack_to": code, "sha256": sha(hubconf),
         "dimensions": ["camera_motion"]},
        {"root": "hub", "path": f"{code}/pkg/model.py", "url": url, "archive": "github", "unpack_to": code, "sha256": sha(model),
         "required": False, "dimensions": ["camera_motion"]},
    ])
    cache, thome = tmp_path / "vb", tmp_path / "th"
    failed = prefetch(["camera_motion"], cache, thome, table=table, timeout=10)
    dest = thome / "hub" / code
    if tampered:
        assert f"expected sha256 {sha(model)}, got {sha(served['pkg/model.py'])}" in failed[url] and "pkg/model.py" in failed[url]
        assert not dest.exists() and sorted(p.name for p in dest.parent.iterdir()) == []  # no staging folder left either
    else:
        assert failed == {}
        assert (dest / "hubconf.py").read_bytes() == hubconf and (dest / "README.md").exists()  # the whole tree, top folder stripped
        assert set(statuses(weights_status(["camera_motion"], cache, thome, table=table)).values()) == {"verified"}


def test_an_archive_without_published_hashes_is_placed_and_reported_unverified(tmp_path, server):
    folder, base = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("models/raft-things.pth", b"raft")
        z.writestr("models/raft-small.pth", b"small")
    (folder / "models.zip").write_bytes(buf.getvalue())
    table = write_table(tmp_path / "table.json", [{"path": "raft_model/models/raft-things.pth", "url": f"{base}/models.zip", "archive": "zip",
                                                   "unpack_to": "raft_model", "sha256": None, "hash_source": "unknown: none published"}])
    cache = tmp_path / "vb"
    logged: list[str] = []
    assert prefetch(["dynamic_degree"], cache, tmp_path / "th", table=table, timeout=10, log=logged.append) == {}
    assert (cache / "raft_model" / "models" / "raft-things.pth").read_bytes() == b"raft"
    assert any(sha(b"raft") in line and "unverified" in line for line in logged)  # the digest to check against the publisher
    assert statuses(weights_status(["dynamic_degree"], cache, tmp_path / "th", table=table)) == {"raft_model/models/raft-things.pth": "unverified"}
    assert not (cache / ".stepeval-downloads").exists()


# -- check ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vbench_env():
    return require_vbench_env(verify=False)


def test_check_reports_each_file_verified_unverified_missing_or_wrong(tmp_path, vbench_env, monkeypatch, capsys):
    cache, thome = tmp_path / "vb", tmp_path / "th"
    good, wrong, unpublished = b"the published bytes", b"other bytes", b"no hash published"
    for name, data in (("good.pth", good), ("wrong.pth", wrong), ("nohash.pth", unpublished)):
        (cache / "raft_model").mkdir(parents=True, exist_ok=True)
        (cache / "raft_model" / name).write_bytes(data)
    table_path = tmp_path / "table.json"
    write_table(table_path, [
        {"path": "raft_model/good.pth", "url": "https://example.invalid/good.pth", "sha256": sha(good)},
        {"path": "raft_model/gone.pth", "url": "https://example.invalid/gone.pth", "sha256": sha(b"x")},
        {"path": "raft_model/wrong.pth", "url": "https://example.invalid/wrong.pth", "sha256": sha(b"what was published")},
        {"path": "raft_model/nohash.pth", "url": "https://example.invalid/nohash.pth", "sha256": None},
    ])
    monkeypatch.setenv(TABLE_ENV, str(table_path))
    args = ["vbench", "check", "--path", str(vbench_env.path), "--dims", "dynamic_degree", "--cache-dir", str(cache), "--torch-home", str(thome)]
    assert main([*args, "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    files = {Path(f["path"]).name: f for f in out["dimensions"]["dynamic_degree"]["files"]}
    assert {n: f["status"] for n, f in files.items()} == {"good.pth": "verified", "gone.pth": "missing", "wrong.pth": "wrong-hash",
                                                          "nohash.pth": "unverified"}
    assert files["wrong.pth"]["sha256"] == sha(wrong) and files["wrong.pth"]["expected_sha256"] == sha(b"what was published")
    assert files["nohash.pth"]["sha256"] == sha(unpublished) and files["gone.pth"]["sha256"] is None
    assert out["weights_table"]["path"] == str(table_path) and out["hash_cache"] == str(cache / HASH_CACHE_NAME)
    # Without the missing and the wrong file, an unverified file alone does not fail the check.
    (cache / "raft_model" / "wrong.pth").unlink()
    write_table(table_path, [{"path": "raft_model/good.pth", "url": "https://example.invalid/good.pth", "sha256": sha(good)},
                             {"path": "raft_model/nohash.pth", "url": "https://example.invalid/nohash.pth", "sha256": None}])
    assert main(args) == 0
    table_text = capsys.readouterr().out
    assert "unverified" in table_text and "wrong hash" not in table_text, table_text


def test_hashes_are_cached_by_path_size_and_mtime(tmp_path):
    cache, thome = tmp_path / "vb", tmp_path / "th"
    f = cache / "raft_model" / "models" / "raft-things.pth"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"A" * 4096)
    table = write_table(tmp_path / "table.json", [{"path": "raft_model/models/raft-things.pth", "url": "https://example.invalid/r.pth",
                                                   "sha256": sha(b"A" * 4096)}])
    assert statuses(weights_status(["dynamic_degree"], cache, thome, table=table)) == {"raft_model/models/raft-things.pth": "verified"}
    entry = json.loads((cache / HASH_CACHE_NAME).read_text())["files"][str(f.resolve())]
    st = f.stat()
    assert entry == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha(b"A" * 4096)}
    # Same size and mtime: the cached digest stands (that is what makes a repeated check fast) ...
    f.write_bytes(b"B" * 4096)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert statuses(weights_status(["dynamic_degree"], cache, thome, table=table)) == {"raft_model/models/raft-things.pth": "verified"}
    # ... a new mtime means the file changed: it is hashed again ...
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert statuses(weights_status(["dynamic_degree"], cache, thome, table=table)) == {"raft_model/models/raft-things.pth": "wrong-hash"}
    # ... and --rehash ignores the cache altogether.
    f.write_bytes(b"A" * 4096)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert statuses(weights_status(["dynamic_degree"], cache, thome, table=table)) == {"raft_model/models/raft-things.pth": "wrong-hash"}
    assert statuses(weights_status(["dynamic_degree"], cache, thome, table=table, rehash=True)) == {"raft_model/models/raft-things.pth": "verified"}


# -- the score record -------------------------------------------------------------------------------------


def test_score_env_record_carries_each_files_hash_and_state(tmp_path):
    rows = [{"path": "raft_model/models/raft-things.pth", "url": "https://example.invalid/raft.zip", "sha256": sha(b"raft")},
            {"path": "amt_model/amt-s.pth", "url": "https://example.invalid/amt-s.pth", "sha256": None, "dimensions": ["motion_smoothness"]}]
    table = write_table(tmp_path / "table.json", rows)
    for root, random_root in ((tmp_path / "real", False), (tmp_path / "random", True)):
        cache, thome = root / "vbench", root / "torch"
        (cache / "raft_model" / "models").mkdir(parents=True)
        (cache / "raft_model" / "models" / "raft-things.pth").write_bytes(b"raft" if not random_root else b"random raft")
        (cache / "amt_model").mkdir()
        (cache / "amt_model" / "amt-s.pth").write_bytes(b"amt")
        if random_root:
            (root / MARKER).write_text("{}")
        weights = weights_record(["dynamic_degree", "motion_smoothness"], cache, thome, table=table)
        env = VBenchEnv(tmp_path / "env", {"packages": {"vbench": "0.1.5"}}).record("cpu", weights=weights)
        assert env["weights"]["table_sha256"] == table.sha256 and env["packages"] == {"vbench": "0.1.5"}
        files = env["weights"]["files"]
        raft = files["dynamic_degree"]["$VBENCH_CACHE_DIR/raft_model/models/raft-things.pth"]
        amt = files["motion_smoothness"]["$VBENCH_CACHE_DIR/amt_model/amt-s.pth"]
        assert amt["sha256"] == sha(b"amt")
        if random_root:
            assert raft == {"sha256": sha(b"random raft"), "status": "random-weights"} and amt["status"] == "random-weights"
        else:
            assert raft == {"sha256": sha(b"raft"), "status": "verified"} and amt["status"] == "unverified"

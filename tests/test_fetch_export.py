import http.server
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

from stepeval.benchmark import load_step_eval
from stepeval.benchmark.fetch import fetch_benchmark
from stepeval.benchmark.manifest import load_manifest
from stepeval.cli.main import main as cli
from stepeval.errors import UserError

IDS = ["anime/H/001", "anime/S/048", "anime/H/007"]  # two with images, one prompt-only


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with HTTP Range support (what a real file host gives), counting requests."""

    requests: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        RangeHandler.requests.append((self.path, self.headers.get("Range")))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])


@pytest.fixture
def mirror(step_eval_root, tmp_path):
    """A local HTTP mirror holding a few benchmark files."""
    root = tmp_path / "mirror"
    m = load_manifest()
    for item_id in IDS:
        for suffix in (".txt", ".png"):
            src = step_eval_root / m[item_id].rel_path(suffix)
            if src.exists():
                (root / m[item_id].rel_path(suffix)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, root / m[item_id].rel_path(suffix))

    def handler(*a, **kw):
        return RangeHandler(*a, directory=str(root), **kw)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    RangeHandler.requests = []
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def entries():
    m = load_manifest()
    return [m[i] for i in IDS]


def test_fetch_verifies_and_resumes(mirror, tmp_path):
    root, url = mirror
    dest = tmp_path / "dest"
    m = load_manifest()
    # a half-downloaded image from an earlier, interrupted run
    png = m["anime/H/001"].rel_path(".png")
    full = (root / png).read_bytes()
    (dest / png).parent.mkdir(parents=True)
    (dest / (png + ".part")).write_bytes(full[:100_000])
    report = fetch_benchmark(dest, source=url, entries=entries(), workers=2)
    assert report.resumed == [png]
    assert ("/" + png, "bytes=100000-") in RangeHandler.requests
    assert (dest / png).read_bytes() == full and not (dest / (png + ".part")).exists()
    assert report.failed == {m["anime/H/007"].rel_path(".png"): "HTTP 404"}  # not on the mirror
    assert len(report.downloaded) == 4
    loaded = load_step_eval(dest, ids=set(IDS))
    assert all(loaded.verified.values()) and len(loaded.items) == 3
    # second run: everything present verifies and is skipped, nothing is downloaded again
    RangeHandler.requests = []
    again = fetch_benchmark(dest, source=url, entries=entries())
    assert len(again.skipped) == 5 and not again.downloaded
    assert [p for p, _ in RangeHandler.requests] == ["/" + m["anime/H/007"].rel_path(".png")]


def test_fetch_rejects_a_tampered_file(mirror, tmp_path):
    root, url = mirror
    txt = root / load_manifest()["anime/S/048"].rel_path(".txt")
    txt.write_bytes(txt.read_bytes() + b"!")
    report = fetch_benchmark(tmp_path / "d", source=url, entries=entries())
    assert "checksum mismatch" in report.failed[load_manifest()["anime/S/048"].rel_path(".txt")]
    assert not (tmp_path / "d" / load_manifest()["anime/S/048"].rel_path(".txt")).exists()


def test_fetch_from_file_url(step_eval_root, tmp_path):
    report = fetch_benchmark(tmp_path / "d", source=step_eval_root.as_uri(), entries=entries()[:2])
    assert report.ok and len(report.downloaded) == 4


def test_fetch_without_network_is_one_clear_error(tmp_path, capsys):
    with socket.socket() as s:  # a port nobody listens on: connection refused, like no network
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = cli(["data", "fetch", str(tmp_path / "d"), "--source", f"http://127.0.0.1:{port}/x", "--ids", "anime/H/001"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "cannot reach the benchmark source" in err and "file://" in err and "stepeval data validate" in err


def test_export_round_trip_offline(step_eval_root, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    assert cli(["data", "export", str(step_eval_root), str(out), "--domain", "anime", "--aspect", "H"]) == 0
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    ds = datasets.load_from_disk(str(out))
    loaded = load_step_eval(step_eval_root, verify=False)
    want = {it.id: it for it in loaded.items if it.domain == "anime" and it.aspect == "H"}
    assert sorted(ds["id"]) == sorted(want)
    for row in ds:
        it = want[row["id"]]
        assert row["prompt"].encode("utf-8") == (step_eval_root / load_manifest()[it.id].rel_path(".txt")).read_bytes()
        if it.has_image:
            from PIL import Image

            assert row["image"].size == Image.open(it.image_path).size
        else:
            assert row["image"] is None
    assert sum(r is not None for r in ds["image"]) == 4
    with pytest.raises(UserError, match="not empty"):
        from stepeval.benchmark.export import export_dataset

        export_dataset(loaded, out)

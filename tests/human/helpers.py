"""Run directories for human-evaluation tests: real benchmark items, real H.264 videos.

Unit tests of the human-evaluation room build the run themselves: a run.yaml pointing at the shared
benchmark copy, two model tags with one small mp4 per item (made from the item's image), and
generations.parquet rows per the contract. The cross-room path (generate -> create-study -> app ->
export -> report) is walked with the real commands in tests/test_user_paths.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from stepeval.benchmark import load_benchmark
from stepeval.generation.tags import parse_tag
from stepeval.images import prepare_image
from stepeval.runs import Run
from stepeval.video import write_video

# Distinctive names, so a blinding test can look for them anywhere in what a browser receives.
MODEL_A = "zebragen@motion_score=5"
MODEL_B = "yakbaseline"
RUN_NAME = "run-quokka-secret"
FPS = 8.0
SIZE = (96, 128)  # height, width: small, so videos are fast to write and to decode


def present_items(step_eval_root: Path, n: int):
    loaded = load_benchmark(step_eval_root, "step-video-ti2v-eval", verify=False)
    return [it for it in loaded.items if it.has_image][:n]


def _frames(image: np.ndarray, model: str, frames: int = 10) -> np.ndarray:
    out = np.empty((frames, *image.shape), dtype=np.uint8)
    for t in range(frames):
        if model == MODEL_A:  # a slow pan
            out[t] = np.roll(image, 3 * t, axis=1)
        else:  # a static clip that fades
            out[t] = (image.astype(np.float32) * (1.0 - 0.04 * t)).astype(np.uint8)
    return out


def make_run(root: Path, step_eval_root: Path, n_items: int = 4, *, tags=(MODEL_A, MODEL_B), skip: dict | None = None) -> tuple[Run, list[str]]:
    """A run at root/RUN_NAME with videos for `tags` on the first `n_items` items with an image.
    `skip` maps a tag to item ids whose video is left out."""
    items = present_items(step_eval_root, n_items)
    ids = [it.id for it in items]
    config = {
        "benchmark": {"path": str(step_eval_root), "kind": "step-video-ti2v-eval"},
        "subset": {"ids": ids},
        "models": [{"name": parse_tag(t)[0], "tag": t} for t in tags],
        "seed": 0,
    }
    run = Run.create(root / RUN_NAME, config, command="tests/human make_run", items=ids)
    rows = []
    for it in items:
        image = prepare_image(it.image_path, *SIZE)
        for tag in tags:
            if skip and it.id in skip.get(tag, ()):
                continue
            path = run.video_path(tag, it.id)
            if not path.exists():
                write_video(path, _frames(image, tag), FPS)
            rows.append({
                "model_tag": tag, "item_id": it.id, "sample": 0, "seed": 0, "generator": parse_tag(tag)[0],
                "parameters": json.dumps({}), "fps": FPS, "frames": 10, "width": SIZE[1], "height": SIZE[0],
                "seconds": 0.01, "peak_memory_bytes": None, "status": "ok", "error": None, "traceback": None,
                "video_path": str(path.relative_to(run.root)), "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "host": "test", "rank": 0,
            })
    run.generations.append(rows)
    return run, ids


# -- a real server -------------------------------------------------------------------------------

import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import urllib.request  # noqa: E402
from contextlib import contextmanager  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(run_root: Path | str, *, db: str | None = None, timeout_s: float = 60.0, cwd: Path | None = None,
            output: list[str] | None = None):
    """`stepeval annotate serve RUN` on a free port of 127.0.0.1, started in `cwd`; yields (base URL,
    seconds to healthy). After the server stops, what it printed is appended to `output`."""
    port = free_port()
    cmd = [sys.executable, "-m", "stepeval.cli.main", "annotate", "serve", str(run_root), "--port", str(port)]
    if db:
        cmd += ["--db", db]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd,
                            env={**os.environ, "COLUMNS": "200"})
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}: {proc.stdout.read().decode(errors='replace')}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() - t0 > timeout_s:
                raise RuntimeError("server did not become healthy")
            time.sleep(0.1)
        yield base, time.monotonic() - t0
    finally:
        os.killpg(proc.pid, 15)  # the session holds `stepeval` and its streamlit child
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            out, _ = proc.communicate()
        if output is not None:
            output.append(out.decode(errors="replace"))

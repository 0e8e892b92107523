import functools
import hashlib
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from stepeval.errors import UserError
from stepeval.video import iter_frames, probe, read_video, write_video
from tests.browser import chromium_page


def test_round_trip_17_frames_544x992(tmp_path, pattern):
    frames = pattern(17, 544, 992)
    path = write_video(tmp_path / "v.mp4", frames, fps=25)
    info = probe(path)
    assert (info.frames, info.width, info.height, info.fps) == (17, 992, 544, 25.0)
    assert info.codec == "h264" and info.pix_fmt == "yuv420p"
    assert info.duration == pytest.approx(17 / 25, abs=1e-3)
    back = read_video(path)
    assert back.shape == frames.shape
    mae = np.abs(back.astype(np.int16) - frames.astype(np.int16)).mean()
    assert mae < 3, mae


def test_faststart_moov_before_mdat(tmp_path, pattern):
    data = write_video(tmp_path / "v.mp4", pattern(5, 64, 64), fps=8).read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")


def test_every_kth_and_time_range(tmp_path, pattern):
    frames = pattern(30, 48, 64)
    path = write_video(tmp_path / "v.mp4", frames, fps=10)
    idx = [i for i, _ in iter_frames(path, every=12)]
    assert idx == [0, 12, 24]
    sampled = read_video(path, every=12)
    full = read_video(path)
    np.testing.assert_array_equal(sampled, full[::12])
    window = read_video(path, start=1.0, end=2.0)
    np.testing.assert_array_equal(window, full[10:20])
    gray = read_video(path, gray=True)
    assert gray.shape == (30, 48, 64)


_ENCODE = "import sys, numpy as np; from stepeval.video import write_video; write_video(sys.argv[2], np.load(sys.argv[1]), 25.0)"


def test_same_frames_give_the_same_file_whatever_the_heap_holds(tmp_path, pattern):
    """Regression: x264's AVX-512 mbtree code reads uninitialised heap memory, so a clip
    could encode to different bits in processes with different allocation histories (one process vs
    torchrun ranks). glibc's MALLOC_PERTURB_ fills fresh allocations with a chosen byte; without
    stepeval.video's fix this 48x64 clip gave three different files (fills 85, 170, none). A CPU
    without AVX-512, or a libc without MALLOC_PERTURB_, cannot show the fault."""
    frames = tmp_path / "frames.npy"
    np.save(frames, pattern(6, 48, 64))
    files = {"in-process": write_video(tmp_path / "here.mp4", np.load(frames), 25.0).read_bytes()}
    for fill in ("85", "170"):
        out = tmp_path / f"fill{fill}.mp4"
        env = {**os.environ, "MALLOC_PERTURB_": fill}
        subprocess.run([sys.executable, "-c", _ENCODE, str(frames), str(out)], env=env, check=True, timeout=120)
        files[f"MALLOC_PERTURB_={fill}"] = out.read_bytes()
    digests = {name: hashlib.sha1(data).hexdigest()[:12] for name, data in files.items()}
    assert len(set(digests.values())) == 1, f"the encoded bytes depend on heap contents: {digests}"


def test_odd_size_is_padded_not_cropped(tmp_path, pattern):
    frames = pattern(3, 51, 77)
    path = write_video(tmp_path / "odd.mp4", frames, fps=24)
    info = probe(path)
    assert (info.width, info.height) == (78, 52)
    back = read_video(path)
    assert np.abs(back[:, :51, :77].astype(int) - frames.astype(int)).mean() < 3


def test_fractional_fps(tmp_path, pattern):
    path = write_video(tmp_path / "v.mp4", pattern(10, 32, 32), fps=30000 / 1001)
    assert probe(path).fps == pytest.approx(29.97, abs=1e-2)


def test_failed_write_leaves_no_file(tmp_path, pattern):
    frames = pattern(4, 32, 32)

    def gen():
        yield frames[0]
        yield frames[1]
        raise RuntimeError("generator died mid-video")

    target = tmp_path / "v.mp4"
    with pytest.raises(RuntimeError):
        write_video(target, gen(), fps=8)
    assert list(tmp_path.iterdir()) == []


def test_bad_frames_rejected(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "v.mp4", np.zeros((2, 8, 8, 3), np.float32), fps=8)
    with pytest.raises(ValueError, match="at least one frame"):
        write_video(tmp_path / "v.mp4", np.zeros((0, 8, 8, 3), np.uint8), fps=8)
    assert not (tmp_path / "v.mp4").exists()


def test_directory_path_is_clear_error(tmp_path):
    d = tmp_path / "folder.mp4"
    d.mkdir()
    with pytest.raises(UserError, match="is a directory") as exc:
        probe(d)
    assert str(d) in str(exc.value)
    with pytest.raises(UserError, match="is a directory"):
        read_video(d)


def test_zero_frame_video_is_clear_error(tmp_path):
    path = tmp_path / "empty.mp4"
    # A valid mp4 with a video stream and no frames (what a crashed encoder can leave behind).
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        c.start_encoding()
        for packet in s.encode():
            c.mux(packet)
    assert path.stat().st_size > 0
    with pytest.raises(UserError, match="zero frames") as exc:
        probe(path)
    assert str(path) in str(exc.value)
    with pytest.raises(UserError):
        read_video(path)


def test_corrupt_and_missing_files(tmp_path, pattern):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(UserError, match="cannot open as a video"):
        probe(junk)
    with pytest.raises(UserError, match="not found"):
        probe(tmp_path / "nope.mp4")
    good = write_video(tmp_path / "good.mp4", pattern(17, 64, 64), fps=8).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good[: len(good) // 3])
    with pytest.raises(UserError, match=str(cut.name)):
        read_video(cut)


@pytest.mark.browser
def test_chromium_plays_written_video(tmp_path, pattern, artifacts_dir):
    write_video(tmp_path / "clip.mp4", pattern(17, 544, 992), fps=25)
    (tmp_path / "index.html").write_text('<video id="v" src="clip.mp4" muted playsinline preload="auto"></video>')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with chromium_page() as page:
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
            page.wait_for_function("document.getElementById('v').readyState >= 2", timeout=20000)
            state = page.evaluate("(() => { const v = document.getElementById('v'); return {rs: v.readyState, w: v.videoWidth, h: v.videoHeight, err: v.error && v.error.code}; })()")
            page.screenshot(path=str(artifacts_dir / "video_playback.png"))
    finally:
        server.shutdown()
    assert state["rs"] >= 2 and state["err"] is None
    assert (state["w"], state["h"]) == (992, 544)

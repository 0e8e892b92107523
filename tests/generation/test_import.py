"""Importing videos made elsewhere: validation, refusals, missing items, provenance, re-encoding."""

from __future__ import annotations

import json

import av
import numpy as np

from stepeval.runs import Run
from stepeval.video import probe, read_video, write_video
from tests.conftest import smooth_pattern
from tests.generation.helpers import make_folder_benchmark, stepeval


def _mpeg4_video(path, frames, fps=10):
    """A video in a codec browsers do not play (MPEG-4 part 2 in an .avi): import must re-encode it."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.height, s.width, s.pix_fmt = frames.shape[1], frames.shape[2], "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def test_import_keeps_the_good_reports_corrupt_and_missing_and_records_refusals(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 5)
    engine_out = tmp_path / "engine"
    engine_out.mkdir()
    clip = smooth_pattern(8, 48, 64)
    write_video(engine_out / "a.mp4", clip, 24)
    (engine_out / "b.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)  # corrupt
    _mpeg4_video(engine_out / "e.avi", clip)
    mapping = tmp_path / "map.csv"
    mapping.write_text(
        "item_id,file,status,note\nitem00,a.mp4,,\nitem01,b.mp4,,\nitem03,,refused,content policy\nitem04,e.avi,,\nitem99,a.mp4,,\n",
        encoding="utf-8",
    )  # item02 has no video at all
    run_dir = tmp_path / "run"
    res = stepeval("generate", "import", bench, engine_out, "--engine", "kling-1.6", "--mapping", mapping, "--date", "2025-03-01",
                   "--setting", "mode=pro", "--run-dir", run_dir)  # fmt: skip
    assert res.returncode == 1, res.stderr  # something failed or is missing
    out = res.stderr
    assert "imported 2 (1 re-encoded), refused 1, failed 1, missing 1" in out
    assert "item01" in out and "item02" in out and "item99" in out

    rows = Run.open(run_dir).generations.read().set_index("item_id")
    assert sorted(rows.index) == ["item00", "item01", "item03", "item04"]
    assert set(rows["model_tag"]) == {"kling-1.6"} and set(rows["generator"]) == {"external"}
    assert rows.loc["item00", "status"] == "ok" and rows.loc["item04", "status"] == "ok"
    assert rows.loc["item01", "status"] == "failed" and rows.loc["item01", "error"]
    assert rows.loc["item03", "status"] == "refused" and rows.loc["item03", "error"] == "content policy"
    prov = json.loads(rows.loc["item00", "parameters"])
    assert prov["engine"] == "kling-1.6" and prov["date"] == "2025-03-01" and prov["settings"] == {"mode": "pro"}
    assert len(prov["sha256"]) == 64 and prov["reencoded"] is False
    assert (rows.loc["item00", "frames"], rows.loc["item00", "width"], rows.loc["item00", "height"]) == (8, 64, 48)
    # The copied video is byte-identical; the MPEG-4 one was re-encoded to browser-playable H.264.
    assert (run_dir / rows.loc["item00", "video_path"]).read_bytes() == (engine_out / "a.mp4").read_bytes()
    info = probe(run_dir / rows.loc["item04", "video_path"])
    assert (info.codec, info.pix_fmt, info.frames) == ("h264", "yuv420p", 8) and json.loads(rows.loc["item04", "parameters"])["reencoded"]
    assert np.abs(read_video(run_dir / rows.loc["item04", "video_path"]).astype(int) - clip).mean() < 6

    # Rerun: the good ones are not re-imported; the fixed corrupt file is.
    write_video(engine_out / "b.mp4", clip, 24)
    res = stepeval("generate", "import", bench, engine_out, "--engine", "kling-1.6", "--mapping", mapping, "--run-dir", run_dir)
    assert "imported 1 (0 re-encoded), refused 0, failed 0, missing 1, already imported 3" in res.stderr
    latest = Run.open(run_dir).generations.latest(["model_tag", "item_id", "sample"]).set_index("item_id")
    assert latest.loc["item01", "status"] == "ok"


def test_import_without_mapping_finds_files_by_item_id(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 2)
    folder = tmp_path / "videos"
    write_video(folder / "item00.mp4", smooth_pattern(4, 32, 32), 8)
    write_video(folder / "item01.mp4", smooth_pattern(4, 32, 32), 8)
    res = stepeval("generate", "import", bench, folder, "--engine", "other", "--run-dir", tmp_path / "run")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "run" / "videos" / "other" / "item01.mp4").exists()


def test_external_generator_serves_mapped_videos_through_the_runner(tmp_path):
    import os

    from rich.console import Console

    from stepeval.generation.runner import GenerateConfig, generate_run
    from stepeval.generation.tags import ModelSpec

    bench = make_folder_benchmark(tmp_path / "bench", 3)
    folder = tmp_path / "videos"
    clip = smooth_pattern(5, 32, 48)
    write_video(folder / "x.mp4", clip, 12)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("item00: x.mp4\nitem01: null\n", encoding="utf-8")  # item01 refused, item02 absent
    spec = ModelSpec("external", {"folder": str(folder), "mapping": str(mapping)}, tag="ext")
    summary = generate_run(GenerateConfig(benchmark=bench, models=[spec], run_dir=tmp_path / "run"), console=Console(file=open(os.devnull, "w")), show_progress=False)
    assert {k: summary["models"]["ext"][k] for k in ("ok", "refused", "failed")} == {"ok": 1, "refused": 1, "failed": 1}
    video = read_video(tmp_path / "run" / "videos" / "ext" / "item00.mp4")
    assert video.shape == clip.shape and np.abs(video.astype(int) - clip).mean() < 6

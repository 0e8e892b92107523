"""The motion score on synthetic videos with a known translation, bad inputs, and a whole run."""

from __future__ import annotations

import json
import socket
import time
import zlib

import cv2
import numpy as np
import pytest

from stepeval.errors import UserError
from stepeval.metrics.motion import METRIC, MotionSettings, motion_score, score_run_motion, top_fraction_mean, working_size
from stepeval.runs import Run
from stepeval.video import write_video

# Re-encoding at half resolution may change the score by at most this fraction (documented in
# benchmarks/RESULTS.md): the flow runs at the same working size, only detail lost to downscaling differs.
HALF_RES_TOLERANCE = 0.10
# A static clip is 0 up to H.264 coding noise between its frames (a few thousandths of a pixel).
STATIC_TOLERANCE = 0.01


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture (blurred noise): trackable by optical flow, compresses well."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height, width, 3)).astype(np.float32)
    img = cv2.GaussianBlur(noise, (0, 0), 3)
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255).astype(np.uint8)


def translating(frames: int, height: int, width: int, speed: float, seed: int = 0) -> np.ndarray:
    """The texture moving right by `speed` pixels per frame (sub-pixel shifts by affine warp)."""
    base = texture(height + 64, width + 64 + int(speed * frames) + 8, seed)
    out = []
    for t in range(frames):
        m = np.float32([[1, 0, -speed * t], [0, 1, 0]])
        shifted = cv2.warpAffine(base, m, (base.shape[1], base.shape[0]), flags=cv2.INTER_LINEAR)
        out.append(shifted[32:32 + height, 32:32 + width])
    return np.stack(out)


def half(frames: np.ndarray) -> np.ndarray:
    h, w = frames.shape[1:3]
    return np.stack([cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for f in frames])


@pytest.fixture(scope="module")
def speed_videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("motion")
    out = {}
    for speed in (0.0, 0.5, 1.0, 2.0):
        frames = translating(25, 256, 448, speed)
        out[speed] = (write_video(d / f"s{speed}.mp4", frames, 24), write_video(d / f"s{speed}-half.mp4", half(frames), 24))
    return out


def test_static_video_scores_zero(speed_videos):
    res = motion_score(speed_videos[0.0][0])
    assert 0.0 <= res.value < STATIC_TOLERANCE
    assert res.sample_indices == [0, 12, 24]
    assert len(res.pair_values) == 2


def test_score_is_monotonic_in_speed_and_measures_the_shift(speed_videos):
    values = [motion_score(speed_videos[s][0]).value for s in (0.0, 0.5, 1.0, 2.0)]
    assert values == sorted(values) and len(set(values)) == 4, values
    # The working short side equals the video's (256), so the score is the shift per 12 frames in pixels.
    for speed, value in zip((0.5, 1.0, 2.0), values[1:]):
        assert value == pytest.approx(12 * speed, rel=0.15), (speed, value)


def test_half_resolution_reencode_scores_the_same(speed_videos):
    for speed in (0.5, 1.0, 2.0):
        full, halfres = (motion_score(p) for p in speed_videos[speed])
        assert halfres.size == (128, 224) and full.working_size == (256, 448)
        assert halfres.working_size == (128, 224)  # never upscaled; measured in the same unit
        assert halfres.value == pytest.approx(full.value, rel=HALF_RES_TOLERANCE), (speed, full.value, halfres.value)


def test_settings_are_recorded_and_validated(speed_videos):
    res = motion_score(speed_videos[1.0][0], MotionSettings(top_fraction=0.5, short_side=128))
    details = res.details()
    assert details["settings"]["top_fraction"] == 0.5 and details["working_size"] == [128, 224]
    assert "short side 128" in details["unit"]
    # Half the working resolution, half the pixels moved.
    assert res.value == pytest.approx(6.0, rel=0.15)
    with pytest.raises(ValueError, match="top_fraction"):
        MotionSettings(top_fraction=0)
    assert MotionSettings().key != MotionSettings(top_fraction=0.2).key


def test_working_size_and_top_fraction():
    assert working_size(544, 992, 256) == (256, 467)
    assert working_size(992, 544, 256) == (467, 256)
    assert top_fraction_mean(np.arange(100, dtype=np.float32), 0.1) == pytest.approx(np.mean(np.arange(90, 100)))
    assert top_fraction_mean(np.array([3.0], dtype=np.float32), 0.1) == 3.0


def test_short_videos_are_refused_with_the_reason(tmp_path, pattern):
    one = write_video(tmp_path / "one.mp4", pattern(1, 64, 64), 24)
    twelve = write_video(tmp_path / "twelve.mp4", pattern(12, 64, 64), 24)
    thirteen = write_video(tmp_path / "thirteen.mp4", pattern(13, 64, 64), 24)
    for path, n in ((one, 1), (twelve, 12)):
        with pytest.raises(UserError, match=rf"has {n} frame\(s\); the motion score needs two samples 12 frames apart \(at least 13 frames\)") as info:
            motion_score(path)
        assert str(path) in str(info.value)
    assert len(motion_score(thirteen).pair_values) == 1


def test_undecodable_and_missing_videos_are_user_errors(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    with pytest.raises(UserError, match="bad.mp4"):
        motion_score(bad)
    with pytest.raises(UserError, match="not found"):
        motion_score(tmp_path / "absent.mp4")


def _gen_row(run: Run, tag: str, item: str, frames: int) -> dict:
    return {"model_tag": tag, "item_id": item, "sample": 0, "seed": 0, "generator": "test", "parameters": {}, "fps": 24.0,
            "frames": frames, "width": 96, "height": 64, "seconds": 0.0, "peak_memory_bytes": None, "status": "ok", "error": None,
            "traceback": None, "video_path": run.video_path(tag, item).relative_to(run.root).as_posix(),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "host": socket.gethostname(), "rank": 0}


@pytest.fixture
def motion_run(tmp_path):
    run = Run.create(tmp_path / "run", {"benchmark": "none"})
    rows = []
    for tag, speed in (("still", 0.0), ("moving", 0.5)):
        for item in ("real/H/001", "real/V/002"):  # seeded by crc32: str hash() differs per process
            write_video(run.video_path(tag, item), translating(25, 64, 96, speed, seed=zlib.crc32(item.encode()) % 100), 24)
            rows.append(_gen_row(run, tag, item, 25))
    # One that does not decode and one too short: recorded as failed, the others still scored.
    broken = run.video_path("moving", "anime/S/003")
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_bytes(b"not a video at all")
    rows.append(_gen_row(run, "moving", "anime/S/003", 25))
    write_video(run.video_path("moving", "anime/S/004"), translating(5, 64, 96, 1.0), 24)
    rows.append(_gen_row(run, "moving", "anime/S/004", 5))
    run.generations.append(rows)
    return run


@pytest.mark.parametrize("workers", [0, 2])
def test_run_batch_isolates_failures_and_resumes(motion_run, workers):
    run = motion_run
    rep = score_run_motion(run, workers=workers)
    assert (rep.scored, rep.failed, rep.skipped) == (4, 2, 0)
    df = run.scores.latest(("model_tag", "item_id", "sample", "metric"))
    per_video = df[df["item_id"] != "*"].set_index(["model_tag", "item_id"])
    assert set(per_video["metric"]) == {METRIC}
    assert per_video.loc[("still", "real/H/001"), "value"] < 0.1  # codec noise, x4 for the 64 px short side
    # 0.5 px/frame at short side 64 = 6 px per 12 frames = 24 px at the 256 unit.
    assert per_video.loc[("moving", "real/H/001"), "value"] == pytest.approx(24, rel=0.2)
    assert per_video.loc[("moving", "anime/S/003"), "status"] == "failed"
    assert "anime/S/003" in per_video.loc[("moving", "anime/S/003"), "error"]
    assert "two samples 12 frames apart" in per_video.loc[("moving", "anime/S/004"), "error"]
    details = json.loads(per_video.loc[("moving", "real/H/001"), "details"])
    assert details["settings"]["every"] == 12 and details["working_size"] == [64, 96] and details["unit_scale"] == 4
    assert json.loads(per_video.loc[("moving", "real/H/001"), "env"])["opencv"] == cv2.__version__
    model = df[df["item_id"] == "*"].set_index("model_tag")
    assert model.loc["moving", "sample"] == -1
    ok_moving = per_video.loc["moving"]
    assert model.loc["moving", "value"] == pytest.approx(ok_moving[ok_moving["status"] == "ok"]["value"].mean())
    assert json.loads(model.loc["moving", "details"])["n_failed"] == 2

    again = score_run_motion(run, workers=workers)
    assert (again.scored, again.skipped) == (0, 4)  # ok ones kept; the two failures are retried
    assert again.failed == 2
    # Regenerating a video (new file) re-scores it; other settings re-score everything.
    write_video(run.video_path("still", "real/H/001"), translating(25, 64, 96, 1.0), 24)
    assert score_run_motion(run).scored == 1
    assert score_run_motion(run, settings=MotionSettings(top_fraction=0.2)).scored == 4

"""The motion score's valid range: a texture translating at 0.5 to 8 px per frame (448x256, 49 frames)
is read within 10% of the definition (px per 12 frames at short side 256) by the extended setting,
and by the default one where it is inside its validated range; outside it, the reading is marked, in
the score's details and in the report. Default readings (and their settings key) stay as they were."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from reports import build_report
from stepeval.cli.main import main
from stepeval.metrics.motion import MotionSettings, motion_score
from stepeval.runs import SCORE_KEYS, Run
from stepeval.video import write_video
from tests.generation.helpers import make_folder_benchmark
from tests.metrics.test_motion import translating

SPEEDS = (0.5, 1.0, 2.0, 3.0, 6.0, 8.0)  # px per frame at short side 256
TOLERANCE = 0.10


def truth(speed: float) -> float:
    return 12 * speed


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("range")
    return {s: write_video(d / f"s{s}.mp4", translating(49, 256, 448, s), 24) for s in SPEEDS}


@pytest.fixture(scope="module")
def readings(videos):
    return {s: (motion_score(p), motion_score(p, MotionSettings.extended())) for s, p in videos.items()}


def test_the_extended_setting_reads_0_5_to_8_px_per_frame_within_10_percent(readings):
    for speed, (_, ext) in readings.items():
        assert ext.value == pytest.approx(truth(speed), rel=TOLERANCE), (speed, ext.value)
        assert ext.in_range, speed
        assert ext.details()["chain"] == 4 and ext.details()["range"]["validated_max"] == pytest.approx(100.0)


def test_the_default_is_right_inside_its_range_and_marked_outside_it(readings):
    for speed, (std, _) in readings.items():
        close = std.value == pytest.approx(truth(speed), rel=TOLERANCE)
        assert close or std.in_range is False, (speed, std.value)
        if std.in_range:
            assert close, (speed, std.value)
    # The definition's own reach: up to 2 px per frame (24 px per 12 frames); beyond it Farneback's
    # 3-level pyramid under-reads, e.g. 6 px per frame reads far below 72.
    assert [s for s, (std, _) in readings.items() if std.in_range] == [0.5, 1.0, 2.0]
    assert readings[6.0][0].value < 0.5 * truth(6.0)


def test_small_motions_read_the_same_in_both_settings(readings):
    for speed in (0.5, 1.0, 2.0):
        std, ext = readings[speed]
        assert ext.value == pytest.approx(std.value, rel=0.02), speed


def test_default_settings_keep_their_key():
    """Scores made before `chain` and `range_check` existed are still recognised on resume."""
    assert MotionSettings().key == "33216d31de9e" == MotionSettings(range_check=False).key
    assert MotionSettings.extended().key != MotionSettings().key
    with pytest.raises(ValueError, match="chain must divide"):
        MotionSettings(chain=5)
    assert MotionSettings().check_chain == 2 and MotionSettings.extended().check_chain == 6
    assert MotionSettings(chain=12).check_chain is None


def test_imported_and_scored_through_the_cli_then_marked_in_the_report(tmp_path, capsys):
    bench = make_folder_benchmark(tmp_path / "bench", 3, size=(448, 256))
    folder = tmp_path / "videos"
    speeds = {"item00": 1.0, "item01": 3.0, "item02": 6.0}  # the three of the field report: 12, 36 and 72
    for item, speed in speeds.items():
        write_video(folder / f"{item}.mp4", translating(49, 256, 448, speed, seed=1), 24)
    run_dir = tmp_path / "run"
    assert main(["generate", "import", str(bench), str(folder), "--engine", "texture", "--run-dir", str(run_dir)]) == 0
    assert main(["score", str(run_dir), "--metrics", "motion_score"]) == 0

    def values() -> pd.DataFrame:
        df = Run.open(run_dir).scores.latest(SCORE_KEYS)
        df = df[(df["metric"] == "motion_score") & (df["item_id"] != "*")].set_index("item_id")
        df["in_range"] = [json.loads(d)["range"]["in_range"] for d in df["details"]]
        return df

    std = values()
    assert std.loc["item00", "value"] == pytest.approx(12, rel=TOLERANCE) and std.loc["item00", "in_range"]
    assert not std.loc["item01", "in_range"] and not std.loc["item02", "in_range"]
    build_report(run_dir, tmp_path / "r1", bootstrap=0, formats=["csv", "md"], media="none")
    marked = pd.read_csv(tmp_path / "r1" / "tables" / "motion-range.csv").set_index("model_tag")
    assert marked.loc["texture", "outside"] == 2 and marked.loc["texture", "outside_items"] == "item01 item02"
    md = (tmp_path / "r1" / "tables" / "motion-range.md").read_text(encoding="utf-8")
    assert "2 of 3 video(s) read outside the validated range" in md

    assert main(["score", str(run_dir), "--metrics", "motion_score", "--set", "motion_score.chain=4", "--rescore"]) == 0
    ext = values()
    for item, speed in speeds.items():
        assert ext.loc[item, "value"] == pytest.approx(truth(speed), rel=TOLERANCE) and ext.loc[item, "in_range"], item
    build_report(run_dir, tmp_path / "r2", bootstrap=0, formats=["csv"], media="none")
    assert pd.read_csv(tmp_path / "r2" / "tables" / "motion-range.csv")["outside"].tolist() == [0]
    capsys.readouterr()

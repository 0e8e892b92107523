"""The tiny model's floors catch what its older checks let through."""

from __future__ import annotations

import json
from pathlib import Path

from generators.stepvideo.tiny import acceptance

PURPLE = Path(__file__).resolve().parents[1] / "fixtures" / "tiny-purple-subjects-summary.json"


def _summary(colour=1.0, shape=1.0, direction=0.9, psnr=26.0, rho=0.85, motion=(4.0, 7.0, 12.0), held=1.0) -> dict:
    s = {f"{acceptance.FAMILY}/motion_spearman": rho}
    for tag, m in zip(acceptance.setting_tags(), motion):
        s.update({f"{tag}/synthetic/first_frame_psnr": psnr, f"{tag}/synthetic/subject_colour_kept": colour,
                  f"{tag}/synthetic/subject_shape_kept": shape, f"{tag}/synthetic/direction_match": direction,
                  f"{tag}/synthetic/subject_colour_held": held,
                  f"{tag}/motion_score": m})
    return s


def test_a_model_that_keeps_the_picture_and_its_motion_passes():
    assert acceptance.floor_failures(_summary()) == []


def test_losing_the_subject_colour_fails_even_when_psnr_direction_and_motion_pass():
    # the previous shipped checkpoint: PSNR 25.7, direction 0.83-0.94, Spearman 0.81, but red and
    # blue subjects purple (about 0.6 of items kept their colour)
    failures = acceptance.floor_failures(_summary(colour=0.6))
    assert len(failures) == 3 and all("subject_colour_kept" in f for f in failures)


def test_each_floor_is_enforced():
    assert any("subject_shape_kept" in f for f in acceptance.floor_failures(_summary(shape=0.5)))
    # frame 0 right, later frames another colour (the checkpoint before the clip-level decoder term)
    assert [f for f in acceptance.floor_failures(_summary(held=0.75)) if "subject_colour_held" in f]
    assert any("direction" in f for f in acceptance.floor_failures(_summary(direction=0.7)))
    assert any("first_frame_psnr" in f for f in acceptance.floor_failures(_summary(psnr=24.0)))
    assert any("motion_spearman" in f for f in acceptance.floor_failures(_summary(rho=0.5)))
    assert any("not increasing" in f for f in acceptance.floor_failures(_summary(motion=(5.0, 4.0, 12.0))))
    missing = _summary()
    del missing[f"{acceptance.setting_tags()[0]}/synthetic/subject_colour_kept"]
    assert any("None" in f for f in acceptance.floor_failures(missing))


def test_the_checkpoint_that_turned_red_and_blue_purple_fails_on_the_subject_and_passes_the_motion_floors():
    # Its real smoke-run summary: the older checks (PSNR, motion control) pass, the subject floors do not.
    summary = json.loads(PURPLE.read_text(encoding="utf-8"))["metrics"]
    assert acceptance.motion_floor_failures(summary) == []
    failures = acceptance.subject_floor_failures(summary)
    assert sum("subject_colour_kept" in f for f in failures) == 3

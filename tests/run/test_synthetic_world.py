"""The synthetic TI2V world: seeded scenes, bilingual prompts, ground truth; and the `synthetic` metric on it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stepeval.benchmark import load_benchmark
from stepeval.benchmark import synthetic as world
from stepeval.benchmark.camera import camera_motion
from stepeval.metrics import judge
from stepeval.metrics import synthetic as metric
from stepeval.metrics.motion import motion_score
from stepeval.video import read_video, write_video


def test_same_seed_same_clip_and_different_seeds_differ():
    a, b = world.render(world.training_scene(7)), world.render(world.training_scene(7))
    assert a.shape == (world.FRAMES, world.SIZE, world.SIZE, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a[0], world.render(world.training_scene(8))[0])


def test_prompts_name_direction_speed_and_camera_in_both_languages():
    s = world.sample_scene(3, motion="subject", direction="left", speed=0.05)
    assert "向左移动" in s.prompt_zh and "固定镜头" in s.prompt_zh and "缓缓" in s.prompt_zh
    assert "left" in s.prompt_en and "slowly" in s.prompt_en and "static camera" in s.prompt_en
    c = world.sample_scene(3, motion="camera", camera="zoom_in", speed=0.6)
    assert "镜头快速推进" in c.prompt_zh and "pushes in" in c.prompt_en
    assert c.expected_flow == "in"
    # Camera moving left makes the picture move right (the camera baseline's convention too).
    assert world.sample_scene(3, motion="camera", camera="pan_left").expected_flow == "right"


def test_camera_weights_set_the_mix_of_camera_moves_and_leave_the_rest_of_the_scene():
    zooms_only = (0.0, 0.0, 0.0, 0.0, 0.5, 0.5)
    scenes = [world.training_scene(i, camera_weights=zooms_only) for i in range(200)]
    cameras = {s.camera for s in scenes}
    assert cameras == {"static", "zoom_in", "zoom_out"}  # static: the subject-motion scenes
    # The weights change only the camera draw: everything drawn before it (shape, colour, size,
    # whether the subject or the camera moves) is the default scene's.
    for i, s in enumerate(scenes[:20]):
        d = world.training_scene(i)
        assert (s.shape, s.colour, s.radius, s.motion) == (d.shape, d.colour, d.radius, d.motion)


def test_subject_moves_in_its_direction_and_stays_in_frame():
    s = world.sample_scene(11, motion="subject", direction="down", speed=world.SPEED_RANGE[1])
    clip = world.render(s).astype(np.float32)
    colour = np.array(world.COLOURS[s.colour][0]) * 255
    ys = []
    for frame in (clip[0], clip[-1]):
        mask = np.abs(frame - colour).sum(-1) < 40
        assert mask.sum() > 30, "the subject must be fully visible at the start and the end"
        ys.append(np.nonzero(mask)[0].mean())
    assert ys[1] - ys[0] == pytest.approx(world.SPEED_RANGE[1] * (world.FRAMES - 1), abs=2.0)


def test_smoke_set_is_balanced_and_held_out_from_training():
    scenes = world.smoke_scenes(16)
    assert len({name for name, _ in scenes}) == 16
    assert all(s.seed >= world.SMOKE_SEED_BASE for _, s in scenes)
    flows = [s.expected_flow for _, s in scenes]
    for d in world.DIRECTIONS:
        assert flows.count(d) >= 3
    assert {"in", "out"} <= set(flows)
    with pytest.raises(ValueError):
        world.training_scene(world.SMOKE_SEED_BASE)


def test_smoke_benchmark_folder_reads_with_the_folder_loader(tmp_path):
    out = world.write_smoke_benchmark(tmp_path / "smoke", n=8)
    loaded = load_benchmark(out)
    assert len(loaded.items) == 8
    labels = world.load_labels(out)
    assert set(labels) == set(loaded.ids)
    for item in loaded.items:
        assert item.prompt == labels[item.id]["prompt_zh"]
        assert item.image_path.suffix == ".png"
    meta = json.loads((out / world.LABELS_FILE).read_text(encoding="utf-8"))
    assert meta["seed"] == world.SMOKE_SEED and meta["frames"] == world.FRAMES
    # Deterministic: writing it again gives the same bytes.
    again = world.write_smoke_benchmark(tmp_path / "again", n=8)
    assert (out / "s003.png").read_bytes() == (again / "s003.png").read_bytes()


def test_further_sets_share_the_folder_under_their_own_names(tmp_path):
    out = world.write_smoke_benchmark(tmp_path / "two", n=4, also=((3, 777001, "h"),))
    loaded = load_benchmark(out)
    assert sorted(loaded.ids) == ["h000", "h001", "h002", "s000", "s001", "s002", "s003"]
    meta = json.loads((out / world.LABELS_FILE).read_text(encoding="utf-8"))
    assert meta["sets"] == [{"n": 4, "seed": world.SMOKE_SEED, "prefix": "s"}, {"n": 3, "seed": 777001, "prefix": "h"}]
    # The main set is the same scenes as on its own; the further set is other scenes.
    alone = world.write_smoke_benchmark(tmp_path / "one", n=4)
    assert (out / "s002.png").read_bytes() == (alone / "s002.png").read_bytes()
    assert meta["items"]["h000"]["seed"] != meta["items"]["s000"]["seed"]
    with pytest.raises(ValueError, match="distinct"):
        world.write_smoke_benchmark(tmp_path / "clash", n=2, also=((2, 1, "s"),))


def test_camera_parser_reads_the_world_camera_phrases():
    expected = {"pan_left": "pan_left", "pan_right": "pan_right", "pan_up": "tilt_up", "pan_down": "tilt_down",
                "zoom_in": "zoom_in", "zoom_out": "zoom_out", "static": "static"}
    for camera, parsed in expected.items():
        kw = {"motion": "subject"} if camera == "static" else {"motion": "camera", "camera": camera}
        assert camera_motion(world.sample_scene(5, **kw).prompt_zh) == parsed


def test_judge_recovers_ground_truth_direction_through_h264(tmp_path):
    for name, scene in world.smoke_scenes(16):
        clip = read_video(write_video(tmp_path / f"{name}.mp4", world.render(scene), world.FPS))
        assert metric.judge_direction(clip).label == scene.expected_flow, name
    still = np.repeat(world.render(world.smoke_scenes(16)[0][1])[:1], world.FRAMES, axis=0)
    assert metric.judge_direction(still).label == "none"


def test_motion_score_rises_with_speed(tmp_path):
    """The world's speed range stays where the report's motion score is monotone."""
    values = []
    for speed in (0.05, 0.15, 0.3, 0.6):
        scene = world.sample_scene(2, motion="subject", direction="right", speed=speed)
        values.append(motion_score(write_video(tmp_path / "m.mp4", world.render(scene), world.FPS)).value)
    assert all(a < b for a, b in zip(values, values[1:])), values
    assert values[-1] > 3 * values[0] and values[-1] > 12


def test_clip_metrics_and_pairwise_judgments():
    import pandas as pd

    scene = world.smoke_scenes(16)[1][1]
    clip = world.render(scene)
    values, details = metric.clip_metrics(clip, clip[0], scene.labels())
    assert values[metric.METRIC_DIRECTION] == 1.0 and values[metric.METRIC_PSNR] == 99.0
    still = np.repeat(clip[:1], len(clip), axis=0)
    noisy = np.clip(clip.astype(int) + np.random.default_rng(0).integers(-60, 60, clip.shape), 0, 255).astype(np.uint8)
    v_still, _ = metric.clip_metrics(still, clip[0], scene.labels())
    v_noisy, _ = metric.clip_metrics(noisy, clip[0], scene.labels())
    assert v_still[metric.METRIC_DIRECTION] == 0.0
    assert v_noisy[metric.METRIC_FIDELITY] < values[metric.METRIC_FIDELITY]
    assert v_noisy[metric.METRIC_CONSISTENCY] < values[metric.METRIC_CONSISTENCY] < 1.0
    rows = []
    for tag, vals in (("good", values), ("still", v_still), ("noisy", v_noisy)):
        rows += [{"model_tag": tag, "item_id": "s001", "sample": 0, "metric": m, "value": v, "status": "ok"} for m, v in vals.items()]
    judged = judge.pairwise_judgments(pd.DataFrame(rows), metric.JUDGE_METRICS, models=["good", "still", "noisy"], run_name="r",
                                      margin=metric.JUDGE_MARGIN, study_id=metric.JUDGE_STUDY_ID, item_info=metric.judge_item_info)
    one = judged[(judged.model_a == "good") & (judged.model_b == "still")].set_index("dimension")["outcome"]
    assert one["instruction_adherence"] == "A"
    two = judged[(judged.model_a == "good") & (judged.model_b == "noisy")].set_index("dimension")["outcome"]
    assert two["consistency"] == "A"
    assert set(judged["source"]) == {"auto"}

"""The subject checks see what whole-frame PSNR and the flow judge cannot: a subject that changed
colour, lost its shape, vanished, or went the wrong way, and content that was never in the picture."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stepeval.benchmark import synthetic as world
from stepeval.metrics import synthetic as metric
from stepeval.metrics.subject import COLOUR_TOLERANCE, IOU_FLOOR


def _scene(colour="red", shape="square", **kw):
    base = world.sample_scene(5, motion="subject", direction="right", speed=0.3, **kw)
    scene = world.scene_from_dict({**base.to_dict(), "colour": colour, "shape": shape})
    return scene


def _repaint(scene, frames, colour=None, shape=None, erase=False):
    """The same clip with the subject recoloured, reshaped or removed (everything else identical)."""
    changed = world.scene_from_dict({**scene.to_dict(), "colour": colour or scene.colour, "shape": shape or scene.shape})
    out = []
    for t in range(len(frames)):
        if erase:
            out.append(world.to_uint8(world.render_background(scene, t)))
        else:
            out.append(world.to_uint8(world.render_frame(changed, t)))
    return np.stack(out)


def test_the_ground_truth_clip_keeps_everything():
    scene = _scene()
    clip = world.render(scene)
    f = metric.scene_subject_fidelity(clip, scene)
    assert f.colour_delta_e < 1.0 and f.iou == pytest.approx(1.0) and f.stray_fraction == 0.0
    assert f.presence > 0.9 and f.follows("right") and not f.follows("left")
    values, _ = metric.clip_metrics(clip, clip[0], scene.labels())
    assert values[metric.METRIC_COLOUR_KEPT] == 1.0 and values[metric.METRIC_DIRECTION] == 1.0
    assert values[metric.METRIC_CLEAN] == 1.0


def test_a_red_subject_turned_purple_fails_the_colour_check_while_psnr_barely_notices():
    scene = _scene("red")
    clip = world.render(scene)
    purple = _repaint(scene, clip, colour="purple")
    values, details = metric.clip_metrics(purple, clip[0], scene.labels())
    assert details["subject"]["colour_delta_e"] > COLOUR_TOLERANCE
    assert values[metric.METRIC_COLOUR_KEPT] == 0.0
    assert values[metric.METRIC_PSNR] > 20  # the whole frame still looks close
    assert values[metric.METRIC_IOU] > IOU_FLOOR  # same place and shape


def test_a_square_that_became_round_fails_the_shape_check():
    scene = _scene("green", "diamond")
    clip = world.render(scene)
    round_ = _repaint(scene, clip, shape="circle")
    f = metric.scene_subject_fidelity(round_, scene)
    assert f.colour_kept and f.iou < metric.scene_subject_fidelity(clip, scene).iou - 0.15


def test_a_vanished_subject_fails_direction_even_when_the_flow_judge_is_fooled():
    scene = world.sample_scene(9, motion="camera", camera="pan_left", speed=0.4)
    clip = world.render(scene)
    erased = _repaint(scene, clip, erase=True)
    assert metric.judge_direction(erased).label == scene.expected_flow  # the background still pans
    values, details = metric.clip_metrics(erased, clip[0], scene.labels())
    assert details["subject"]["presence"] < 0.1
    assert values[metric.METRIC_DIRECTION] == 0.0


def test_a_subject_going_the_other_way_fails_direction():
    scene = _scene()
    backwards = world.render(scene)[::-1].copy()
    f = metric.scene_subject_fidelity(backwards, scene)
    assert not f.follows("right")


def test_a_stray_blob_is_stray_content():
    scene = _scene("yellow", "circle")
    clip = world.render(scene).copy()
    yy, xx = np.mgrid[0:world.SIZE, 0:world.SIZE]
    far = (xx - 6) ** 2 + (yy - 56) ** 2 < 5**2  # a magenta blob in a corner, every frame
    clip[:, far] = (230, 20, 230)
    f = metric.scene_subject_fidelity(clip, scene)
    assert f.stray_fraction == pytest.approx(far.mean(), rel=0.3)
    assert f.colour_kept


def test_the_consistency_judgment_prefers_the_clip_that_kept_the_colour():
    import pandas as pd

    from stepeval.metrics import judge

    scene = _scene("blue", "circle")
    clip = world.render(scene)
    rows = []
    for tag, frames in (("kept", clip), ("purple", _repaint(scene, clip, colour="purple"))):
        values, _ = metric.clip_metrics(frames, clip[0], scene.labels())
        rows += [{"model_tag": tag, "item_id": "s0", "sample": 0, "metric": m, "value": v, "status": "ok"} for m, v in values.items()]
    judged = judge.pairwise_judgments(pd.DataFrame(rows), metric.JUDGE_METRICS, models=["kept", "purple"], run_name="r",
                                      margin=metric.JUDGE_MARGIN, item_info=metric.judge_item_info)
    assert judged.set_index("dimension").at["consistency", "outcome"] == "A"


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6))
def test_every_ground_truth_clip_passes_every_subject_check(seed):
    scene = world.training_scene(seed)
    clip = world.render(scene)
    f = metric.scene_subject_fidelity(clip, scene)
    assert f.colour_kept and f.shape_kept, f
    assert f.stray_fraction < 0.002, f
    assert f.follows(scene.expected_flow), f
    assert metric.scene_named_subject(clip, scene).presence >= 0.3


def test_the_fastest_pull_out_keeps_its_shrinking_subject_present():
    for seed in range(6):
        scene = world.sample_scene(seed, motion="camera", camera="zoom_out", speed=world.SPEED_RANGE[1])
        f = metric.scene_subject_fidelity(world.render(scene), scene)
        assert f.follows("out") and f.presence < 0.7, f  # it did shrink, and still counts as present


def test_labels_without_a_scene_keep_the_older_checks():
    scene = _scene()
    clip = world.render(scene)
    label = {k: v for k, v in scene.labels().items() if k != "scene"}
    values, details = metric.clip_metrics(clip, clip[0], label)
    assert metric.METRIC_COLOUR_KEPT not in values and "subject" not in details
    assert values[metric.METRIC_DIRECTION] == 1.0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6))
def test_a_softened_edge_keeps_the_shape_whatever_the_colours(seed):
    """A 1 px blur changes no shape a person sees; the mask must not grow or shrink with how the
    subject's colour mixes into the background (CIEDE2000's nearer-colour rule did, to IoU 0.8)."""
    import cv2

    scene = world.training_scene(seed)
    clip = world.render(scene)
    soft = np.stack([cv2.GaussianBlur(f, (0, 0), 1.0) for f in clip])
    assert metric.scene_subject_fidelity(soft, scene).iou >= 0.85


def test_a_subject_that_turns_purple_after_frame_0_fails_colour_held_only():
    """What a person sees over the clip: frame 0 right, later frames another colour."""
    scene = _scene("blue", "circle")
    clip = world.render(scene)
    drifted = clip.copy()
    drifted[6:] = _repaint(scene, clip, colour="purple")[6:]
    values, _ = metric.clip_metrics(drifted, clip[0], scene.labels())
    assert values[metric.METRIC_COLOUR_KEPT] == 1.0 and values[metric.METRIC_SHAPE_KEPT] == 1.0
    assert values[metric.METRIC_COLOUR_HELD] == 0.0
    kept, _ = metric.clip_metrics(clip, clip[0], scene.labels())
    assert kept[metric.METRIC_COLOUR_HELD] == 1.0

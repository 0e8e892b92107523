"""The text-to-video smoke config end to end (`stepeval run configs/smoke-t2v.yaml`): the synthetic
world's prompts alone, Step-Video-T2V with seeded random weights from a checkpoint it writes in the
official layout, the text-only baselines, the world's text checks, automatic judgments on the T2V
protocol's dimensions and the HTML report; and the text checks themselves, which the world's own
clips must pass and a person's rejects must fail."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stepeval.benchmark import synthetic as world
from stepeval.cli.main import main
from stepeval.human.dimensions import PROTOCOLS, dimension_label
from stepeval.metrics import synthetic
from stepeval.metrics.synthetic import METRIC_DIRECTION, METRIC_NAMED_COLOUR, METRIC_SMOOTHNESS, text_clip_metrics

REPO = Path(__file__).resolve().parents[2]


def _label(scene: world.Scene) -> dict:
    return {**scene.labels(), "scene": scene.to_dict()}


def test_the_worlds_own_clips_pass_the_text_checks():
    scenes = world.smoke_scenes(16) + world.smoke_scenes(40, seed=777001, prefix="h")
    for name, scene in scenes:
        values, details = text_clip_metrics(world.render(scene), _label(scene))
        assert values[METRIC_NAMED_COLOUR] == 1.0, (name, details)
        assert values[METRIC_DIRECTION] == 1.0, (name, details)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), other=st.integers(1, 4))
def test_a_subject_of_another_colour_or_none_fails(seed, other):
    scene = world.sample_scene(seed)
    colours = sorted(world.COLOURS)
    wrong = colours[(colours.index(scene.colour) + other) % len(colours)]
    recoloured = world.scene_from_dict({**scene.to_dict(), "colour": wrong})
    values, _ = text_clip_metrics(world.render(recoloured), _label(scene))
    assert values[METRIC_NAMED_COLOUR] == 0.0 and values[METRIC_DIRECTION] == 0.0
    background = np.stack([world.to_uint8(world.render_background(scene, t)) for t in range(world.FRAMES)])
    values, _ = text_clip_metrics(background, _label(scene))  # the subject vanished, the camera still moves
    assert values[METRIC_NAMED_COLOUR] == 0.0 and values[METRIC_DIRECTION] == 0.0


def test_speckled_noise_holds_no_subject():
    rng = np.random.default_rng(0)
    scene = world.sample_scene(3)
    noise = rng.integers(0, 256, (world.FRAMES, world.SIZE, world.SIZE, 3), dtype=np.uint8)
    values, _ = text_clip_metrics(noise, _label(scene))
    assert values[METRIC_NAMED_COLOUR] == 0.0 and values[METRIC_DIRECTION] == 0.0


@pytest.fixture(scope="module")
def t2v_smoke(tmp_path_factory):
    import os

    cache = tmp_path_factory.mktemp("cache")
    run_dir = tmp_path_factory.mktemp("smoke-t2v") / "run"
    err = io.StringIO()
    old = os.environ.get("STEPEVAL_CACHE")
    os.environ["STEPEVAL_CACHE"] = str(cache)
    try:
        with contextlib.redirect_stderr(err):
            code = main(["run", str(REPO / "configs" / "smoke-t2v.yaml"), "--run-dir", str(run_dir), "--no-progress"])
    finally:
        if old is None:
            os.environ.pop("STEPEVAL_CACHE")
        else:
            os.environ["STEPEVAL_CACHE"] = old
    return run_dir, code, err.getvalue(), cache


def test_the_t2v_smoke_config_runs_end_to_end(t2v_smoke):
    run_dir, code, err, cache = t2v_smoke
    assert code == 0, err[-3000:]
    # the random-weight model was written once in the official layout, then loaded like a download
    config = json.loads((cache / "stepvideo-random" / "tiny-t2v-seed0" / "transformer" / "config.json").read_text())
    assert config["use_additional_conditions"] is False
    gens = pd.read_parquet(run_dir / "generations.parquet")
    assert set(gens["status"]) == {"ok"} and len(gens) == 3 * 16
    scores = pd.read_parquet(run_dir / "scores.parquet")
    videos = scores[(scores["item_id"] != "*") & scores["metric"].str.startswith("synthetic/")]
    assert set(videos["metric"]) == set(synthetic.TEXT_METRICS)  # no image, so no first-frame checks
    means = videos.groupby(["model_tag", "metric"])["value"].mean()
    assert means[("still", METRIC_SMOOTHNESS)] == 1.0 and means[("still", METRIC_DIRECTION)] == 0.0
    # random weights draw no subject: the floor a trained model must rise above
    assert means[("stepvideo-t2v-random", METRIC_NAMED_COLOUR)] == 0.0
    judgments = pd.read_json(run_dir / "auto-judgments.jsonl", lines=True)
    assert set(judgments["dimension"]) == set(synthetic.TEXT_JUDGE_METRICS) <= set(PROTOCOLS["t2v"].dimension_names)
    html = (run_dir / "report" / "index.html").read_text(encoding="utf-8")
    assert dimension_label("instruction_following") in html and "stepvideo-t2v-random" in html
    assert "Step-Video-T2V-Eval style" in html and "VBench-I2V needs input images" in html
    gallery = (run_dir / "report" / "gallery.html").read_text(encoding="utf-8")
    assert "Each item's prompt and every model's video" in gallery and '"text_only":true' in gallery  # no image tiles
    summary = json.loads((run_dir / "metrics-summary.json").read_text())
    assert f"stepvideo-t2v-random/{METRIC_NAMED_COLOUR}" in summary

"""End to end on CPU with the tiny preset and random weights: image + Chinese prompt -> mp4;
determinism; the no-guidance path; offload equivalence; clear errors for bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from generators.stepvideo import memory
from generators.stepvideo.generator import StepVideoTI2V
from generators.stepvideo.pipeline import StepVideoPipeline, TI2VSettings
from stepeval.errors import UserError
from stepeval.generation.memory import reset_rss_peak
from stepeval.generation.protocol import GenerationRequest
from stepeval.video import probe, read_video, write_video

from .conftest import TINY

PROMPT = "一位宇航员在月球表面缓缓行走，地球在背景中升起"


def _request(image, seed=3, **kw):
    base = dict(num_frames=TINY["frames"], height=TINY["height"], width=TINY["width"])
    base.update(kw)
    params = base.pop("params", {})
    return GenerationRequest("real/H/001", PROMPT, image, seed, params=params, **base)


def test_end_to_end_writes_a_valid_mp4(tiny_generator, first_image, tmp_path):
    result = tiny_generator.generate(_request(first_image, num_frames=34, fps=12.0))
    assert result.frames.shape == (34, TINY["height"], TINY["width"], 3)
    assert result.frames.dtype == np.uint8 and result.frames.std() > 0
    assert set(result.info["timings"]) == {"text_encode", "vae_encode", "denoise", "decode"}
    assert result.seconds > 0
    # A per-video peak where the platform can measure one (Linux: clear_refs), never a lifetime one.
    assert result.peak_memory_bytes > 0 if reset_rss_peak() else result.peak_memory_bytes is None
    path = write_video(tmp_path / "out.mp4", result.frames, result.fps)
    info = probe(path)
    assert (info.frames, info.height, info.width, info.fps) == (34, TINY["height"], TINY["width"], 12.0)
    assert info.codec == "h264" and read_video(path).shape == (34, TINY["height"], TINY["width"], 3)


def test_same_seed_same_frames_different_seed_different_frames(tiny_generator, first_image):
    a = tiny_generator.generate(_request(first_image, seed=5)).frames
    b = tiny_generator.generate(_request(first_image, seed=5)).frames
    c = tiny_generator.generate(_request(first_image, seed=6)).frames
    assert np.array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 1.0


def test_motion_score_reaches_the_model(tiny_generator, first_image):
    tiny_generator.generate(_request(first_image, params={"motion_score": 2.0}))
    low = tiny_generator.pipeline.last_output.latents
    tiny_generator.generate(_request(first_image, params={"motion_score": 20.0}))
    assert (tiny_generator.pipeline.last_output.latents - low).abs().max() > 1e-3


def test_cfg_scale_one_runs_the_conditional_branch_only(tiny_generator, first_image):
    pipe = tiny_generator.pipeline
    batches, prompts = [], []
    hook = pipe.dit.pos_embed.register_forward_hook(lambda m, a, out: batches.append(out.shape[0]))
    encode = pipe.encode_text
    pipe.encode_text = lambda p: (prompts.append(list(p)), encode(p))[1]
    try:
        settings = TI2VSettings(frames=17, height=TINY["height"], width=TINY["width"], steps=1,
                                cfg_scale=1.0, seed=2)
        out = pipe(PROMPT, first_image, settings)
    finally:
        hook.remove()
        pipe.encode_text = encode
    assert batches == [1]  # one step, batch of one: no unconditional half
    assert len(prompts) == 1 and len(prompts[0]) == 1 and prompts[0][0].startswith(PROMPT)
    # ... and equals noise + the conditional prediction (one Euler step from sigma 0 to 1).
    y, mask, clip = encode([settings.prompts(PROMPT)[0]])
    from generators.stepvideo import conditioning, sampler

    first = conditioning.load_first_frame(first_image, TINY["height"], TINY["width"])
    cond = conditioning.image_condition(pipe.vae, first, 3,
                                        generator=torch.Generator().manual_seed(3))
    noise = sampler.initial_noise(tuple(out.latents.shape), 2)
    with torch.no_grad():
        v = pipe.dit(noise, y, clip, timestep=0.0, encoder_attention_mask=mask,
                     motion_score=5.0, condition_hidden_states=cond)
    assert (out.latents - (noise + v)).abs().max().item() < 1e-5


def test_model_offload_and_block_streaming_give_the_same_latents(tiny_model_dir, tiny_generator,
                                                                 first_image):
    tiny_generator.generate(_request(first_image, seed=9))
    ref = tiny_generator.pipeline.last_output.latents
    for mode in ("model", "blocks"):
        gen = StepVideoTI2V(tiny_model_dir, dtype="fp32", offload=mode, steps=TINY["steps"],
                            verbose=False)
        gen.load("cpu")
        gen.generate(_request(first_image, seed=9))
        assert gen.pipeline.offload == mode
        assert torch.equal(gen.pipeline.last_output.latents, ref)


def test_sizes_are_rounded_like_upstream_and_said(tiny_generator, first_image):
    result = tiny_generator.generate(_request(first_image, height=50, width=90))
    assert result.frames.shape[1:3] == (48, 80)
    assert any("rounded down to 48x80" in n for n in result.info["notes"])


@pytest.mark.parametrize(
    "change,match",
    [
        (dict(num_frames=20), "not a multiple of 17"),
        (dict(params={"motion_score": math.nan}), "motion_score"),
        (dict(params={"motion_score": -1.0}), "motion_score"),
        (dict(params={"steps": 0}), "steps must be a positive integer"),
        (dict(height=8), "smaller than the 16-pixel unit"),
        (dict(params={"frames": 17}), "cannot change"),
    ],
)
def test_bad_requests_are_clear_user_errors(tiny_generator, first_image, change, match):
    with pytest.raises(UserError, match=match):
        tiny_generator.generate(_request(first_image, **change))


def test_unreadable_image_is_a_clear_error(tiny_generator, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(UserError, match="broken.png") as err:
        tiny_generator.generate(_request(bad))
    assert "fix:" in str(err.value)


def test_official_crop_needs_the_official_size(tiny_generator, first_image):
    with pytest.raises(UserError, match="540x960"):
        tiny_generator.generate(_request(first_image, params={"official_crop": True}))


def test_missing_model_dir_and_weights_are_clear_errors(tmp_path):
    with pytest.raises(UserError, match="model_dir"):
        StepVideoTI2V()
    with pytest.raises(UserError):
        StepVideoTI2V(tmp_path / "nowhere", verbose=False).load("cpu")


def test_a_video_that_cannot_fit_is_refused_before_loading(tiny_model_dir):
    gen = StepVideoTI2V(tiny_model_dir, verbose=False, offload="none")
    gen.config = __import__("generators.stepvideo.config", fromlist=["x"]).get_preset("official")
    plan = gen.plan(TI2VSettings(), torch.device("cpu"), torch.bfloat16)
    plan.free_bytes = 80 * 10**9
    with pytest.raises(UserError, match="does not fit") as err:
        memory.choose_offload(plan, "none")
    assert "offload" in str(err.value)
    assert memory.choose_offload(plan, "auto") in ("model", "blocks")


def test_official_crop_geometry():
    from generators.stepvideo.conditioning import resolve_geometry
    from generators.stepvideo.pipeline import center_crop

    crop = StepVideoPipeline._crop_size
    assert crop(resolve_geometry(102, 544, 992)) == (540, 960)
    assert crop(resolve_geometry(102, 992, 544)) == (960, 540)
    assert crop(resolve_geometry(17, 768, 768)) is None  # square: left as is (upstream)
    frames = np.arange(2 * 544 * 992 * 3, dtype=np.int64).reshape(2, 544, 992, 3).astype(np.uint8)
    out = center_crop(frames, 540, 960)
    assert out.shape == (2, 540, 960, 3) and np.array_equal(out, frames[:, 2:542, 16:976])

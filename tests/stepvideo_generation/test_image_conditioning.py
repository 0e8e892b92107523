"""Image conditioning by channel concatenation (official) or frame replacement (STIV), and text or
joint (image + text) classifier-free guidance, through the one DiT and pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from generators.stepvideo import conditioning, image_conditioning
from generators.stepvideo.checkpoint import dit_config_from_json, dit_config_to_json
from generators.stepvideo.config import DiTConfig
from generators.stepvideo.dit import StepVideoModel
from generators.stepvideo.pipeline import StepVideoPipeline, TI2VSettings, to_uint8
from generators.stepvideo.tiny.train import tiny_dit_config
from generators.stepvideo.tiny.weights import load_tiny_checkpoint
from stepeval.benchmark import synthetic as world
from stepeval.errors import UserError


@pytest.fixture(scope="module")
def shipped_parts():
    return load_tiny_checkpoint()


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return world.write_smoke_benchmark(tmp_path_factory.mktemp("fr") / "bench", n=1)


def _settings(**kw) -> TI2VSettings:
    base = dict(frames=17, height=64, width=64, steps=4, cfg_scale=2.0, time_shift=3.0, magic_prompts=False,
                negative_prompt="", image_latent="mean")
    return TI2VSettings(**{**base, **kw})


def _pipeline(parts, mode: str, seed: int = 0) -> StepVideoPipeline:
    torch.manual_seed(seed)
    dit = StepVideoModel(tiny_dit_config(mode))  # untrained: the pinning must not depend on what the DiT predicts
    return StepVideoPipeline(dit, parts.vae, parts.encode_text, text_module=parts.text_encoder)


def test_an_official_config_without_the_field_loads_as_concat():
    official = {k: v for k, v in dit_config_to_json(DiTConfig()).items() if k != "image_conditioning"}
    cfg = dit_config_from_json(official)
    assert cfg.image_conditioning == "concat" and cfg.patch_in_channels == 2 * cfg.in_channels
    fr = dit_config_from_json({**official, "image_conditioning": "frame_replace"})
    assert fr.patch_in_channels == fr.in_channels and fr.concatenates_image is False
    with pytest.raises(UserError, match="image_conditioning must be one of"):
        DiTConfig(image_conditioning="prefix").validate()


def test_a_frame_replacement_dit_refuses_a_concat_condition():
    dit = StepVideoModel(tiny_dit_config("frame_replace"))
    x = torch.zeros(1, 3, 8, 8, 8)
    y, clip, mask = torch.zeros(1, 4, 64), torch.zeros(1, 1, 32), torch.ones(1, 5)
    dit(x, y, clip, encoder_attention_mask=mask)  # frame 0 of x carries the image
    with pytest.raises(UserError, match="frame_replace"):
        dit(x, y, clip, encoder_attention_mask=mask, condition_hidden_states=x)


@pytest.mark.parametrize("mode", ["frame_replace", "both"])
@pytest.mark.parametrize("guidance", ["text", "joint"])
def test_frame_replacement_pins_the_first_frame_to_the_images_round_trip(shipped_parts, bench, mode, guidance):
    pipe = _pipeline(shipped_parts, mode)
    out = pipe("red circle", bench / "s000.png", _settings(guidance=guidance))
    first = conditioning.load_first_frame(bench / "s000.png", 64, 64)
    z = conditioning.image_latent(shipped_parts.vae, first, use_mean=True)
    assert (out.latents[:, :1] - z).abs().max().item() < 1e-5
    # The causal decoder makes frame 0 from latent 0 alone: the video's first frame is the VAE's own
    # round trip of the image, whatever the (here untrained) DiT put in the later latents.
    # Equal up to float noise: the pinned latent is z within 1e-5, so a value may land on the other
    # side of an 8-bit rounding step (seen: 1 of 12288 values, by 1).
    round_trip = to_uint8(shipped_parts.vae.decode(z)[0])[0]
    off = np.abs(out.frames[0].astype(int) - round_trip.astype(int))
    assert off.max() <= 1 and (off > 0).mean() < 1e-3
    assert not np.array_equal(out.frames[-1], round_trip)


def test_concat_does_not_pin_the_first_frame(shipped_parts, bench):
    out = _pipeline(shipped_parts, "concat")("red circle", bench / "s000.png", _settings())
    z = conditioning.image_latent(shipped_parts.vae, conditioning.load_first_frame(bench / "s000.png", 64, 64), use_mean=True)
    assert (out.latents[:, :1] - z).abs().max().item() > 0.1


def _captured_rows(parts, bench, mode: str, guidance: str):
    pipe = _pipeline(parts, mode)
    calls = []
    embed = pipe.dit.embed

    def recording_embed(**kwargs):  # every DiT evaluation goes through embed (one process or sequence-parallel)
        calls.append((kwargs["hidden_states"], kwargs["condition_hidden_states"]))
        return embed(**kwargs)

    pipe.dit.embed = recording_embed
    pipe("red circle", bench / "s000.png", _settings(steps=2, guidance=guidance))
    assert len(calls) == 2  # two steps, conditional and unconditional rows batched
    z = conditioning.image_latent(parts.vae, conditioning.load_first_frame(bench / "s000.png", 64, 64), use_mean=True)
    return calls, z


@pytest.mark.parametrize("guidance", ["text", "joint"])
def test_concat_guidance_drops_the_image_only_when_joint(shipped_parts, bench, guidance):
    calls, z = _captured_rows(shipped_parts, bench, "concat", guidance)
    for hidden, cond in calls:
        assert cond.shape[0] == 2 and torch.equal(cond[0, :1], z[0]) and not cond[0, 1:].any()
        if guidance == "text":
            assert torch.equal(cond[1], cond[0])  # official: the negative prompt keeps the image
        else:
            assert not cond[1].any()  # joint: no image in the unconditional branch


def test_joint_guidance_shows_the_unconditional_branch_a_noised_first_frame(shipped_parts, bench):
    calls, z = _captured_rows(shipped_parts, bench, "frame_replace", "joint")
    assert all(cond is None for _, cond in calls)
    for step, (hidden, _) in enumerate(calls):
        assert torch.allclose(hidden[0, :1], z[0], atol=1e-6)  # the conditional branch: the clean image latent
        if step == 0:  # sigma 0: the unconditional branch sees pure noise in frame 0
            noise0 = hidden[1, :1]
            assert not torch.allclose(noise0, z[0], atol=1e-2)
        else:  # on the straight path from that noise to the image, never the image itself before sigma 1
            direction = (hidden[1, :1] - noise0).flatten()
            target = (z[0] - noise0).flatten()
            coef = float(direction @ target / (target @ target))
            assert 0 < coef < 1 and torch.allclose(direction, coef * target, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=5), st.sampled_from(image_conditioning.MODES))
def test_branch_inputs_give_each_row_the_image_or_nothing(keep, mode):
    b = len(keep)
    x = torch.randn(b, 3, 2, 4, 4)
    image = torch.randn(1, 1, 2, 4, 4)
    hidden, cond = image_conditioning.branch_inputs(x, image, mode, torch.tensor(keep))
    assert torch.equal(hidden[:, 1:], x[:, 1:])  # later frames are never touched
    for row, k in enumerate(keep):
        replaced = image_conditioning.replaces_frame(mode) and k
        assert torch.equal(hidden[row, :1], image[0] if replaced else x[row, :1])
        if image_conditioning.concatenates(mode):
            assert torch.equal(cond[row, :1], image[0] if k else torch.zeros_like(image[0]))
            assert not cond[row, 1:].any()
        else:
            assert cond is None
    weight = image_conditioning.frame_zero_loss_weight(mode, torch.tensor(keep))
    expected = [0.0 if image_conditioning.replaces_frame(mode) and k else 1.0 for k in keep]
    assert weight.tolist() == expected


def test_unknown_guidance_is_refused_before_any_work():
    with pytest.raises(UserError, match="guidance must be one of"):
        _settings(guidance="image").validated()

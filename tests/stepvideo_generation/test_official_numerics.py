"""`numerics="official"` mirrors the upstream code's casts, so a run equals one computed the upstream
way bit for bit: the reference below is written from the official pipeline's description
(docs/stepvideo-architecture.md section 4: the sigma grid in fp32, the timestep rounded through the
model dtype inside the DiT, cond and uncond batched and combined in the model dtype, the Euler update
in fp32, the noise and the image latent handed over in bf16), for TI2V and T2V, fp32 and bf16."""

from __future__ import annotations

import pytest
import torch

from generators.stepvideo import conditioning, image_conditioning, sampler
from generators.stepvideo.pipeline import TI2VSettings
from generators.stepvideo.vae import official_norm_rounding
from stepeval.errors import UserError

PROMPT = "一只橘猫在窗台上伸懒腰"
SETTINGS = dict(frames=17, height=48, width=80, steps=4, cfg_scale=7.0, time_shift=13.0, motion_score=5.0, seed=5)


def upstream_latents(pipeline, image, settings: TI2VSettings) -> torch.Tensor:
    """The official sampling loop, written from its description, on the pipeline's own networks."""
    dit, dtype = pipeline.dit, pipeline.dtype
    settings, geo = settings.validated(pipeline.spatial_unit, pipeline.vae.config.spatial_compression)
    cond, uncond = settings.prompts(PROMPT, pipeline.task)
    y, mask, clip = pipeline.encode_text([cond, uncond])
    shape = (1, geo.latent_frames, dit.config.in_channels, geo.latent_height, geo.latent_width)
    # the noise is drawn in bf16 (its seed is stepeval's: upstream's generator is unseeded)
    x = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(settings.seed)).to(torch.bfloat16)
    condition = None
    if image is not None:
        first = conditioning.load_first_frame(image, geo.height, geo.width)
        with official_norm_rounding():
            latent = conditioning.image_latent(pipeline.vae, first, generator=torch.Generator("cpu").manual_seed(settings.seed + 1))
        condition = image_conditioning.padded_condition(latent.to(torch.bfloat16), geo.latent_frames).to(dtype)
        condition = torch.cat([condition, condition])
    k, n = settings.time_shift, settings.steps
    u = 1.0 - torch.arange(n + 1, dtype=torch.float32) / n
    sigmas = 1.0 - k * u / (1.0 + (k - 1.0) * u)
    for i in range(n):
        xin = x.to(dtype)
        v = dit(torch.cat([xin, xin]), y.to(dtype), clip.to(dtype), timestep=sigmas[i].to(dtype),
                encoder_attention_mask=mask, motion_score=settings.motion_score, condition_hidden_states=condition)
        v_cond, v_uncond = v.chunk(2)
        v = v_uncond + settings.cfg_scale * (v_cond - v_uncond)  # in the model dtype
        x = x.float() + v.float() * (sigmas[i + 1] - sigmas[i])
    return x


def _pipeline_latents(pipeline, image, numerics: str) -> torch.Tensor:
    return pipeline(PROMPT, image, TI2VSettings(**SETTINGS, numerics=numerics), decode=False).latents


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_official_numerics_equal_the_upstream_loop_bit_for_bit(tiny_model_dir, first_image, dtype):
    from generators.stepvideo.generator import StepVideoTI2V

    gen = StepVideoTI2V(tiny_model_dir, dtype=dtype, offload="none", verbose=False)  # its own copy: the weights in `dtype`
    gen.load("cpu")
    pipeline = gen.pipeline
    official = _pipeline_latents(pipeline, first_image, "official")
    reference = upstream_latents(pipeline, first_image, TI2VSettings(**SETTINGS))
    assert torch.equal(official, reference)
    ours = _pipeline_latents(pipeline, first_image, "stepeval")
    gap = ((ours - reference).abs().max() / reference.abs().max()).item()
    print(f"{dtype}: max |stepeval - official| / max |official| = {gap:.2e}")
    assert 0 < gap < (5e-2 if dtype == "bf16" else 1e-2)  # the casts matter, and only a little


def test_official_numerics_for_text_to_video(tmp_path):
    from generators.stepvideo.generator import StepVideoT2V
    from generators.stepvideo.testing import write_random_checkpoint

    gen = StepVideoT2V(write_random_checkpoint(tmp_path / "t2v", preset="tiny-t2v"), dtype="fp32", offload="none", verbose=False)
    gen.load("cpu")
    official = _pipeline_latents(gen.pipeline, None, "official")
    assert torch.equal(official, upstream_latents(gen.pipeline, None, TI2VSettings(**SETTINGS)))


def test_the_vae_rounds_its_norms_only_when_asked(tiny_generator):
    vae = tiny_generator.pipeline.vae
    latents = torch.randn(1, 3, vae.config.z_channels, 3, 5, generator=torch.Generator().manual_seed(0))
    plain = vae.decode(latents)
    with official_norm_rounding():
        rounded = vae.decode(latents)
    assert torch.equal(vae.decode(latents), plain)  # the context ended
    assert 0 < (plain - rounded).abs().max().item() < 5e-2


def test_numerics_is_a_checked_setting(tiny_generator):
    with pytest.raises(UserError, match="numerics must be one of"):
        TI2VSettings(numerics="upstream").validated()
    assert "numerics" in tiny_generator.capabilities.request_params

"""Step-Video-T2V's DiT is a preset of the one in-repo DiT: at the official sizes on the meta device
it has the spec's T2V parameter count and keys (../shared/spec/stepvideo-architecture.md 1.1-1.2),
and at the tiny sizes it computes what the TI2V network computes with its image path switched off."""

from __future__ import annotations

import pytest
import torch

from generators.stepvideo.config import get_preset
from generators.stepvideo.dit import StepVideoModel
from generators.stepvideo.testing import write_random_checkpoint
from stepeval.errors import UserError

T2V_PARAMETERS = 29_342_478_400  # spec 1.1
BLOCK_PARAMETERS = 604_041_728
MOTION_KEYS = {f"adaln_single.emb.motion_score_embedder.linear_{i}.{p}" for i in (1, 2) for p in ("weight", "bias")}


def _meta(cfg) -> StepVideoModel:
    with torch.device("meta"):
        return StepVideoModel(cfg)


def test_official_t2v_preset_has_the_spec_count_and_keys():
    cfg = get_preset("official-t2v")
    assert cfg.dit.task == "t2v" and get_preset("official").dit.task == "ti2v"
    t2v, ti2v = _meta(cfg.dit), _meta(get_preset("official").dit)
    assert sum(p.numel() for p in t2v.parameters()) == T2V_PARAMETERS
    assert sum(p.numel() for p in t2v.transformer_blocks[0].parameters()) == BLOCK_PARAMETERS
    t2v_sd, ti2v_sd = t2v.state_dict(), ti2v.state_dict()
    # The T2V keys are the TI2V keys without the motion-score embedder, each of the same shape
    # except the patch embed, which sees the 64 latent channels alone.
    assert set(t2v_sd) == set(ti2v_sd) - MOTION_KEYS and MOTION_KEYS <= set(ti2v_sd)
    assert list(t2v_sd["pos_embed.proj.weight"].shape) == [6144, 64, 1, 1]
    assert list(ti2v_sd["pos_embed.proj.weight"].shape) == [6144, 128, 1, 1]
    for key, tensor in t2v_sd.items():
        if key != "pos_embed.proj.weight":
            assert tensor.shape == ti2v_sd[key].shape, key
    # The VAE and text encoders are the TI2V ones
    assert cfg.vae == get_preset("official").vae and cfg.llm == get_preset("official").llm


def test_random_weights_of_the_official_sizes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="refusing to materialise"):
        write_random_checkpoint(tmp_path / "ckpt", preset="official-t2v")
    assert not (tmp_path / "ckpt").exists()


def _inputs(cfg, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 2, cfg.in_channels, 4, 6, generator=g)
    y = torch.randn(1, 5, cfg.caption_channels[0], generator=g)
    clip = torch.randn(1, 3, cfg.caption_channels[1], generator=g)
    return x, y, clip


def test_t2v_is_the_ti2v_network_with_its_image_path_off():
    """Copy a tiny T2V DiT into a TI2V DiT whose image-latent weights and motion embedder output are
    zero: both give the same velocity, so T2V runs through the one shared forward."""
    torch.manual_seed(0)
    t2v = StepVideoModel(get_preset("tiny-t2v").dit).eval()
    ti2v = StepVideoModel(get_preset("tiny").dit).eval()
    sd = t2v.state_dict()
    c = t2v.config.in_channels
    ti2v_sd = dict(ti2v.state_dict())
    for key, value in sd.items():
        if key == "pos_embed.proj.weight":
            ti2v_sd[key] = torch.cat([value, torch.zeros_like(value)], dim=1)  # the image half does nothing
        else:
            ti2v_sd[key] = value
    for key in MOTION_KEYS:
        if "linear_2" in key:
            ti2v_sd[key] = torch.zeros_like(ti2v_sd[key])  # e_m = 0, so c = e_t as in T2V
    ti2v.load_state_dict(ti2v_sd)
    x, y, clip = _inputs(t2v.config)
    cond = torch.randn_like(x)
    with torch.no_grad():
        out_t2v = t2v(x, y, clip, timestep=0.3)
        out_ti2v = ti2v(x, y, clip, timestep=0.3, motion_score=7.0, condition_hidden_states=cond)
        assert out_t2v.shape == x.shape and x.shape[2] == c
        assert torch.allclose(out_t2v, out_ti2v, atol=1e-6)
        # no motion embedder: the motion score changes nothing
        assert torch.equal(t2v(x, y, clip, timestep=0.3, motion_score=1.0), out_t2v)


def test_t2v_dit_refuses_an_image_latent():
    t2v = StepVideoModel(get_preset("tiny-t2v").dit)
    x, y, clip = _inputs(t2v.config)
    with pytest.raises(UserError, match="text-to-video.*takes no condition_hidden_states"):
        t2v(x, y, clip, timestep=0.5, condition_hidden_states=torch.zeros_like(x))

"""Hub-layout checkpoint I/O: sharded round trips, the VAE naming quirk, strict errors, dtypes."""

import json
import shutil

import pytest
import torch
from safetensors import safe_open

from generators.stepvideo.checkpoint import (
    load_dit, load_model_dir, load_vae, parse_dtype, save_dit, save_vae,
)
from generators.stepvideo.config import get_preset
from generators.stepvideo.dit import StepVideoModel
from generators.stepvideo.vae import StepVideoVAE
from stepeval.errors import UserError


def _dit_inputs(cfg, b=2):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(b, 2, cfg.in_channels, 4, 4, generator=g)
    mask = torch.cat([torch.ones(b, 77), torch.zeros(b, 320)], 1)
    mask[:, 77:90] = 1
    return dict(hidden_states=x, encoder_hidden_states=torch.randn(b, 320, cfg.caption_channels[0], generator=g),
                encoder_hidden_states_2=torch.randn(b, 77, cfg.caption_channels[1], generator=g),
                timestep=torch.tensor([0.3, 0.9]), encoder_attention_mask=mask, motion_score=5.0,
                condition_hidden_states=torch.randn(x.shape, generator=g))


def test_dit_sharded_round_trip_is_bit_exact(tmp_path):
    cfg = get_preset("tiny").dit
    model = StepVideoModel(cfg).eval()
    save_dit(model, tmp_path / "transformer", max_shard_size="100KB")
    index = json.loads((tmp_path / "transformer/diffusion_pytorch_model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    assert set(index["weight_map"]) == set(model.state_dict())
    loaded = load_dit(tmp_path / "transformer", dtype="fp32")
    assert loaded.config == cfg
    assert all(not p.is_meta and p.dtype == torch.float32 for p in loaded.parameters())
    with torch.no_grad():
        assert torch.equal(loaded(**_dit_inputs(cfg)), model(**_dit_inputs(cfg)))


def test_dit_dtype_control(tmp_path):
    save_dit(StepVideoModel(get_preset("tiny").dit), tmp_path)
    assert {p.dtype for p in load_dit(tmp_path, dtype="bf16").parameters()} == {torch.bfloat16}
    assert {p.dtype for p in load_dit(tmp_path, dtype=torch.float16).parameters()} == {torch.float16}
    with pytest.raises(UserError, match="unsupported dtype"):
        load_dit(tmp_path, dtype="int8")
    with pytest.raises(UserError, match="unsupported dtype"):
        parse_dtype(torch.int32)


def test_vae_file_uses_official_conv_out_name_and_round_trips(tmp_path):
    vae = StepVideoVAE(get_preset("tiny").vae).eval()
    save_vae(vae, tmp_path)
    with safe_open(str(tmp_path / "vae_v2.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert "decoder.conv_out.weight" in keys and "decoder.conv_out.bias" in keys
    assert "decoder.conv_out.conv.weight" not in keys
    assert "encoder.conv_out.conv.weight" in keys
    loaded = load_vae(tmp_path, dtype="fp32")
    z = torch.randn(1, 1, 4, 2, 2)
    assert torch.equal(loaded.decode(z), vae.decode(z))


def test_mismatched_shapes_give_one_readable_error(tmp_path):
    save_dit(StepVideoModel(get_preset("tiny").dit), tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["num_layers"] = 3  # one block more than the weights
    cfg["in_channels"] = 8  # and a wider patch embed
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError) as err:
        load_dit(tmp_path)
    msg = str(err.value)
    assert "missing (16)" in msg and "transformer_blocks.2." in msg
    assert "wrong shape" in msg and "pos_embed.proj.weight" in msg and "[64, 8, 1, 1]" in msg
    assert str(tmp_path) in msg


def test_unexpected_keys_are_reported(tmp_path):
    from safetensors.torch import save_file

    vae = StepVideoVAE(get_preset("tiny").vae)
    save_vae(vae, tmp_path)
    sd = {k.replace("decoder.conv_out.conv.", "decoder.conv_out."): v for k, v in vae.state_dict().items()}
    sd["decoder.extra.weight"] = torch.zeros(2)
    save_file(sd, str(tmp_path / "vae_v2.safetensors"))
    with pytest.raises(UserError, match=r"unexpected \(1\): decoder.extra.weight"):
        load_vae(tmp_path)


def test_missing_shard_and_wrong_folders(tiny_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dir, broken)
    shard = sorted((broken / "transformer").glob("*-00002-of-*.safetensors"))[0]
    shard.unlink()
    with pytest.raises(UserError, match="shards are missing") as err:
        load_dit(broken / "transformer")
    assert shard.name in str(err.value)
    with pytest.raises(UserError, match="model folder not found"):
        load_model_dir(tmp_path / "nope")
    with pytest.raises(UserError, match="missing step_llm/, hunyuan_clip/"):
        (tmp_path / "partial" / "transformer").mkdir(parents=True)
        (tmp_path / "partial" / "vae").mkdir()
        load_model_dir(tmp_path / "partial")
    with pytest.raises(UserError, match="config file not found"):
        load_dit(tmp_path / "partial" / "transformer")
    shutil.copy(tiny_dir / "transformer" / "config.json", tmp_path / "partial" / "transformer")
    with pytest.raises(UserError, match="no .safetensors"):
        load_dit(tmp_path / "partial" / "transformer")
    with pytest.raises(UserError, match="vae_v2.safetensors not found"):
        load_vae(tmp_path / "partial" / "vae")


def test_load_model_dir_components(tiny_dir):
    parts = load_model_dir(tiny_dir, dtype="fp32")
    cfg = get_preset("tiny")
    assert parts.config.dit == cfg.dit and parts.config.vae == cfg.vae and parts.config.llm == cfg.llm
    assert parts.dit.config.in_channels == parts.vae.config.z_channels
    y, mask, clip = parts.encode_text(["一只猫", ""])
    assert y.shape == (2, 320, 64) and mask.shape == (2, 397) and clip.shape == (2, 77, 32)
    # One DiT step end to end with what the conditioner returns.
    x = torch.randn(2, 1, 4, 2, 2)
    with torch.no_grad():
        v = parts.dit(x, y, clip, torch.tensor([0.5, 0.5]), mask, 5.0, torch.zeros_like(x))
    assert v.shape == x.shape and torch.isfinite(v).all()

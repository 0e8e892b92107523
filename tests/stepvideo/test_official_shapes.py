"""The official preset built on the meta device has exactly the released keys, shapes and counts."""

import re

import torch

from generators.stepvideo.checkpoint import _vae_model_to_file
from generators.stepvideo.config import get_preset
from generators.stepvideo.dit import StepVideoModel
from generators.stepvideo.step_llm import StepLLM
from generators.stepvideo.vae import StepVideoVAE

D = 6144

DIT_PATTERNS = {
    r"pos_embed\.proj\.weight": [D, 128, 1, 1],
    r"pos_embed\.proj\.bias": [D],
    r"transformer_blocks\.\d+\.norm[12]\.(weight|bias)": [D],
    r"transformer_blocks\.\d+\.attn1\.wqkv\.weight": [3 * D, D],
    r"transformer_blocks\.\d+\.attn[12]\.wo\.weight": [D, D],
    r"transformer_blocks\.\d+\.attn[12]\.[qk]_norm\.weight": [128],
    r"transformer_blocks\.\d+\.attn2\.wq\.weight": [D, D],
    r"transformer_blocks\.\d+\.attn2\.wkv\.weight": [2 * D, D],
    r"transformer_blocks\.\d+\.ff\.net\.0\.proj\.weight": [4 * D, D],
    r"transformer_blocks\.\d+\.ff\.net\.2\.weight": [D, 4 * D],
    r"transformer_blocks\.\d+\.scale_shift_table": [6, D],
    r"scale_shift_table": [2, D],
    r"proj_out\.weight": [64, D],
    r"proj_out\.bias": [64],
    r"adaln_single\.emb\.(timestep|motion_score)_embedder\.linear_1\.weight": [D, 256],
    r"adaln_single\.emb\.(timestep|motion_score)_embedder\.linear_2\.weight": [D, D],
    r"adaln_single\.emb\.(timestep|motion_score)_embedder\.linear_[12]\.bias": [D],
    r"adaln_single\.linear\.weight": [6 * D, D],
    r"adaln_single\.linear\.bias": [6 * D],
    r"caption_projection\.linear_1\.weight": [D, 6144],
    r"caption_projection\.linear_2\.weight": [D, D],
    r"caption_projection\.linear_[12]\.bias": [D],
    r"clip_projection\.weight": [D, 1024],
    r"clip_projection\.bias": [D],
}


def _meta(factory):
    with torch.device("meta"):
        return factory()


def test_dit_official_keys_shapes_and_count():
    model = _meta(lambda: StepVideoModel(get_preset("official").dit))
    sd = model.state_dict()
    assert sum(p.numel() for p in model.parameters()) == 29_382_205_504
    assert sum(p.numel() for p in model.transformer_blocks[0].parameters()) == 604_041_728
    used = set()
    for key, t in sd.items():
        hits = [p for p in DIT_PATTERNS if re.fullmatch(p, key)]
        assert len(hits) == 1, f"{key} matches {hits}"
        assert list(t.shape) == DIT_PATTERNS[hits[0]], key
        used.add(hits[0])
    assert used == set(DIT_PATTERNS)
    assert len([k for k in sd if k.startswith("transformer_blocks.")]) == 48 * 16
    # The parameter-free modules have no keys.
    assert not any(k.startswith(("norm_out", "caption_norm", "ff.net.1")) for k in sd)


def test_dit_t2v_variant_count():
    cfg = get_preset("official").dit
    cfg.use_additional_conditions = False
    model = _meta(lambda: StepVideoModel(cfg))
    assert sum(p.numel() for p in model.parameters()) == 29_342_478_400
    assert not any("motion_score" in k for k in model.state_dict())


def test_vae_official_keys_shapes_and_count():
    model = _meta(lambda: StepVideoVAE(get_preset("official").vae))
    sd = model.state_dict()
    assert sum(p.numel() for p in model.parameters()) == 498_818_819
    assert sum(p.numel() for p in model.encoder.parameters()) == 109_885_696
    assert sum(p.numel() for p in model.decoder.parameters()) == 388_933_123
    assert len(sd) == 262
    shapes = {
        "encoder.conv_in.conv.weight": [32, 3, 3, 3, 3],
        "encoder.down.0.downsample.conv.weight": [128, 128, 3, 3],
        "encoder.down.1.downsample.conv.conv.weight": [256, 256, 3, 3, 3],
        "encoder.down.2.downsample.conv.conv.weight": [512, 512, 3, 3, 3],
        "encoder.down.0.block.0.nin_shortcut.conv.weight": [128, 32, 1, 1, 1],
        "encoder.mid.attn_1.q.conv.weight": [512, 512, 1, 1, 1],
        "encoder.conv_patchify.conv.conv.weight": [256, 512, 3, 3, 3],
        "encoder.conv_out.conv.weight": [128, 2048, 3, 3, 3],
        "decoder.conv_in.conv.weight": [2048, 64, 3, 3, 3],
        "decoder.conv_unpatchify.conv.conv.weight": [4096, 2048, 3, 3, 3],
        "decoder.up.3.upsample.conv3d.conv1.conv.weight": [512, 512, 3, 3, 3],
        "decoder.up.2.upsample.conv3d.norm2.weight": [512],
        "decoder.up.1.upsample.conv.weight": [256, 256, 3, 3],
        "decoder.up.0.block.2.conv2.conv.weight": [128, 128, 3, 3, 3],
        "decoder.norm_out.weight": [128],
        "decoder.conv_out.conv.weight": [3, 128, 3, 3, 3],
    }
    for k, s in shapes.items():
        assert list(sd[k].shape) == s, k
    assert not any(k.startswith("encoder.down.3.downsample") or k.startswith("decoder.up.0.upsample")
                   for k in sd)
    assert {len(model.encoder.down[i].block) for i in range(4)} == {2}
    assert {len(model.decoder.up[i].block) for i in range(4)} == {3}
    # Every norm is a 32-group GroupNorm with the PyTorch default eps.
    norms = [m for m in model.modules() if type(m).__name__ == "GroupNormPerFrame"]
    assert norms and all(m.groups == 32 and m.eps == 1e-5 for m in norms)
    # The file stores the decoder's last conv without the wrapper's `.conv.`.
    assert _vae_model_to_file("decoder.conv_out.conv.weight") == "decoder.conv_out.weight"
    assert _vae_model_to_file("encoder.conv_out.conv.weight") == "encoder.conv_out.conv.weight"


def test_step_llm_official_shapes():
    model = _meta(lambda: StepLLM(get_preset("official").llm))
    sd = model.state_dict()
    assert list(sd["tok_embeddings.word_embeddings.weight"].shape) == [65536, 6144]
    assert list(sd["transformer.layers.0.attention.wqkv.weight"].shape) == [8192, 6144]
    assert list(sd["transformer.layers.47.feed_forward.w1.weight"].shape) == [2 * 16896, 6144]
    assert list(sd["transformer.layers.47.feed_forward.w2.weight"].shape) == [6144, 16896]
    assert len(sd) == 1 + 48 * 6
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - 19.58e9) < 0.01e9

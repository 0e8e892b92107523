"""The tiny Step-Video-TI2V: training writes a hub-layout checkpoint the generator loads and runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from generators.stepvideo.tiny.generator import StepVideoTI2VTiny
from generators.stepvideo.tiny.text import UNK, PhraseTokenizer, phrase_book
from generators.stepvideo.tiny.train import TinyRecipe, reconstruction_loss, sample_t, train_tiny, validation_scenes
from generators.stepvideo.tiny.weights import DEFAULT_DIR
from stepeval.benchmark import synthetic as world
from stepeval.errors import UserError
from stepeval.generation.protocol import GenerationRequest


def test_tokenizer_reads_both_languages_and_marks_unknown_text():
    tok = PhraseTokenizer(phrase_book())
    zh = tok.tokenize("红色的圆形缓缓向左移动，固定镜头。")
    en = tok.tokenize("A red circle moves slowly left, static camera.")
    assert UNK not in zh and UNK not in en
    # Subject motion and camera motion use different tokens for the same direction word in Chinese.
    assert tok.index["向左移动"] in zh and tok.index["左移"] not in zh
    assert tok.tokenize("一只猫") == [UNK]
    ids, mask = tok(["", "red"])
    assert mask[0].sum() == 2 and mask[1].sum() == 3


def test_training_time_convention_puts_more_samples_near_noise():
    t = sample_t(20000, 3.0, torch.Generator().manual_seed(0))
    assert 0 <= float(t.min()) and float(t.max()) <= 1
    # shift 3 (as sampling): t = 1 - 3u / (1 + 2u) has median 0.25, below uniform's 0.5 (t = 0 is noise).
    assert float(t.median()) == pytest.approx(0.25, abs=0.02)


def test_lag_term_penalises_a_slow_drift_the_motion_score_would_count():
    # A decoder output drifting 0.01 per frame: each consecutive difference is off by 0.01, the
    # 12-frame difference the motion score compares by 0.12; the lag term adds exactly its MSE.
    x = torch.rand(1, 3, 17, 8, 8)
    y = x + 0.01 * torch.arange(17, dtype=torch.float32).view(1, 1, 17, 1, 1)
    recipe = TinyRecipe()
    with_lag = reconstruction_loss(y, x, recipe, lag_weight=1.0)
    without = reconstruction_loss(y, x, recipe)
    assert float(with_lag - without) == pytest.approx(0.12**2, rel=1e-4)
    # Clips shorter than the lag (single frames) are unaffected.
    assert float(reconstruction_loss(y[:, :, :5], x[:, :, :5], recipe, lag_weight=1.0)) == pytest.approx(
        float(reconstruction_loss(y[:, :, :5], x[:, :, :5], recipe)))


def test_subject_term_weighs_a_wrong_subject_colour_by_the_subject_area_not_the_frame():
    # A 4 x 4 subject (1/16 of an 16 x 16 frame) decoded 0.5 off in one channel: the whole-frame MSE
    # sees 1/48 of the error, the subject term its full MSE over the subject's pixels, x the weight.
    x = torch.zeros(1, 3, 1, 16, 16)
    subject = torch.zeros(1, 1, 1, 16, 16)
    subject[..., 6:10, 6:10] = 1.0
    y = x.clone()
    y[:, 0:1] += 0.5 * subject
    recipe = TinyRecipe(vae_subject_weight=10.0)
    plain = reconstruction_loss(y, x, recipe)
    weighted = reconstruction_loss(y, x, recipe, subject=subject)
    subject_mse = 0.25 * 16 / (16 * 3 + 1.0)  # the term's normalisation: area x channels (+1 against an empty mask)
    assert float(weighted - plain) == pytest.approx(10.0 * subject_mse, rel=1e-5)
    assert float(reconstruction_loss(y, x, TinyRecipe(vae_subject_weight=0.0), subject=subject)) == pytest.approx(float(plain))


def test_vae_batches_carry_the_worlds_subject_mask():
    from generators.stepvideo.tiny.train import _vae_batch

    recipe = TinyRecipe(vae_batch=2, vae_clip_batch=1, vae_clip_every=2)
    rng = np.random.default_rng(0)
    frames, masks, nxt = _vae_batch(recipe, rng, 0, 0)
    assert frames.shape == (2, 1, 3, 64, 64) and masks.shape == (2, 1, 1, 64, 64) and nxt == 2
    clips, clip_masks, _ = _vae_batch(recipe, rng, nxt, 1)
    assert clips.shape == (1, 17, 3, 64, 64) and clip_masks.shape == (1, 17, 1, 64, 64)
    # the mask covers exactly the pixels painted in the subject's colour
    scene = world.training_scene(nxt, speed_word_noise=0.0, camera_weights=recipe.camera_weights)
    colour = torch.tensor(world.COLOURS[scene.colour][0]) * 2 - 1
    inside = clip_masks[0, 0, 0] > 0.99
    assert inside.any()
    assert torch.allclose(clips[0, 0][:, inside].T, colour.expand(int(inside.sum()), 3), atol=0.01)


@pytest.fixture(scope="module")
def mini_checkpoint(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "ckpt"
    recipe = TinyRecipe(threads=1, vae_steps=2, vae_batch=2, vae_clip_batch=1, vae_clip_every=2, train_clips=3, dit_steps=2,
                        dit_batch=2, eval_every=1000, steps=2, final_eval_items=1, validation_items=1,
                        cfg_candidates=(1.0, 2.0), vae_finetune_steps=1, vae_subject_weight=1.0)
    report = train_tiny(out, recipe, log=lambda m: None)
    assert set(report["final_eval"]) >= {"first_frame_psnr", "motion_spearman", "direction_accuracy"}
    return out


def test_guidance_is_chosen_on_validation_scenes_and_shipped(mini_checkpoint):
    report = json.loads((mini_checkpoint / "training.json").read_text())
    selection = report["guidance_selection"]
    assert [r["cfg_scale"] for r in selection["results"]] == [1.0, 2.0]
    shipped = json.loads((mini_checkpoint / "model_index.json").read_text())["stepeval"]["cfg_scale"]
    assert shipped == selection["chosen"] == report["final_eval"]["cfg_scale"] in (1.0, 2.0)
    # Validation scenes come from their own seed range: none is a smoke (test) scene or a training scene.
    smoke = {s.seed for _, s in world.smoke_scenes(16)}
    validation = {s.seed for _, s in validation_scenes(TinyRecipe(), 16)}
    assert not smoke & validation and min(validation) >= world.SMOKE_SEED_BASE


def test_a_checkpoint_gets_a_new_decoder_without_retraining_its_dit(mini_checkpoint, tmp_path):
    """--vae-from + --dit-from + --vae-finetune-steps: the DiT, text encoder and VAE encoder are the
    source's (every latent the DiT learned stays valid), the decoder is fine-tuned, the guidance
    scale chosen again, and training.json says which stages were reused."""
    from safetensors.torch import load_file

    out = tmp_path / "refined"
    recipe = TinyRecipe(threads=1, vae_batch=2, vae_clip_batch=1, vae_clip_every=2, steps=2, final_eval_items=1,
                        validation_items=1, cfg_candidates=(1.0, 2.0), vae_finetune_steps=2)
    report = train_tiny(out, recipe, log=lambda m: None, vae_from=mini_checkpoint, dit_from=mini_checkpoint,
                        finetune_reused_decoder=True)
    dit_file = "transformer/diffusion_pytorch_model.safetensors"
    before, after = load_file(str(mini_checkpoint / dit_file)), load_file(str(out / dit_file))
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert (out / "tiny_text/model.safetensors").read_bytes() == (mini_checkpoint / "tiny_text/model.safetensors").read_bytes()
    vae_before, vae_after = load_file(str(mini_checkpoint / "vae/vae_v2.safetensors")), load_file(str(out / "vae/vae_v2.safetensors"))
    encoder = [k for k in vae_before if k.startswith("encoder.")]
    decoder = [k for k in vae_before if k.startswith("decoder.")]
    assert encoder and all(torch.equal(vae_before[k], vae_after[k]) for k in encoder)
    assert any(not torch.equal(vae_before[k], vae_after[k]) for k in decoder)
    source = json.loads((mini_checkpoint / "training.json").read_text())
    assert report["dit"]["from"] == str(mini_checkpoint) and report["dit"]["history"] == source["dit"]["history"]
    assert report["vae"]["from"] == str(mini_checkpoint) and report["vae_decoder_finetune"]["history"]
    assert [r["cfg_scale"] for r in report["guidance_selection"]["results"]] == [1.0, 2.0]


def test_checkpoint_has_the_hub_layout(mini_checkpoint):
    for rel in ("model_index.json", "transformer/config.json", "transformer/diffusion_pytorch_model.safetensors",
                "vae/vae_v2.safetensors", "vae/config.json", "scheduler/scheduler_config.json",
                "tiny_text/tokenizer.json", "tiny_text/model.safetensors", "training.json"):
        assert (mini_checkpoint / rel).is_file(), rel
    cfg = json.loads((mini_checkpoint / "transformer" / "config.json").read_text())
    assert cfg["use_additional_conditions"] is True and cfg["in_channels"] == 8
    from safetensors import safe_open

    with safe_open(str(mini_checkpoint / "vae" / "vae_v2.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert "decoder.conv_out.weight" in keys and "decoder.conv_out.conv.weight" not in keys  # official file naming
    with safe_open(str(mini_checkpoint / "transformer" / "diffusion_pytorch_model.safetensors"), "pt") as f:
        assert list(f.get_tensor("pos_embed.proj.weight").shape) == [128, 16, 1, 1]  # [x_t ; image latent]


def test_generator_is_deterministic_and_follows_the_motion_request(mini_checkpoint, tmp_path):
    bench = world.write_smoke_benchmark(tmp_path / "b", n=2)
    gen = StepVideoTI2VTiny(mini_checkpoint)
    assert gen.capabilities.sizes == ((64, 64),) and gen.capabilities.frame_counts == (17,)
    gen.load("cpu")

    def make(seed, motion):
        req = GenerationRequest("s000", (bench / "s000.txt").read_text(encoding="utf-8"), bench / "s000.png",
                                seed=seed, params={"motion_score": motion})
        return gen.generate(req)

    a, b, c = make(1, 5.0), make(1, 5.0), make(1, 10.0)
    assert a.frames.shape == (17, 64, 64, 3) and a.fps == 8.0
    assert np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)


def test_missing_checkpoint_is_a_user_error(tmp_path):
    gen = StepVideoTI2VTiny(tmp_path / "nowhere")
    with pytest.raises(UserError, match="checkpoint"):
        gen.load("cpu")


def test_shipped_checkpoint_is_small_and_records_its_training():
    assert DEFAULT_DIR.is_dir(), "the trained tiny checkpoint is committed under generators/stepvideo/weights/tiny"
    size = sum(p.stat().st_size for p in DEFAULT_DIR.rglob("*") if p.is_file())
    assert size < 16 * 2**20
    report = json.loads((DEFAULT_DIR / "training.json").read_text())
    assert report["final_eval"]["items"] == 16

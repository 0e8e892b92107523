"""Tiny, randomly initialised diffusers image-to-video and text-to-video pipelines, built locally (no download).

Every part is the real class of the real pipeline (diffusers' transformer, VAE and scheduler,
transformers' text and vision encoders) with a toy config, and the tokenizers are made here from a
hand-written word-level vocabulary, so the adapters run end to end in CI on a CPU in seconds.
"""

from __future__ import annotations

import torch

VOCAB = ["<pad>", "</s>", "<unk>", "<s>", "a", "the", "camera", "pans", "left", "cat", "zooms", "in", "static", "image", "video"]


def tiny_tokenizer(**special):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    kwargs = {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>", "bos_token": "<s>", **special}
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=512, **kwargs)


def tiny_t5(d_model: int = 32):
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    return T5EncoderModel(T5Config(vocab_size=len(VOCAB), d_model=d_model, d_kv=8, d_ff=64, num_layers=1, num_heads=2, pad_token_id=0, eos_token_id=1))


def cogvideox_i2v():
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXImageToVideoPipeline, CogVideoXTransformer3DModel

    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16, in_channels=8, out_channels=4, time_embed_dim=8, text_embed_dim=32,
        num_layers=1, sample_width=6, sample_height=4, sample_frames=49, patch_size=2, temporal_compression_ratio=4,
        max_text_seq_length=226, use_rotary_positional_embeddings=True, use_learned_positional_embeddings=False,
    )  # fmt: skip
    vae = AutoencoderKLCogVideoX(
        down_block_types=("CogVideoXDownBlock3D",) * 4, up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8),
        latent_channels=4, layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4,
    )  # fmt: skip
    return CogVideoXImageToVideoPipeline(tokenizer=tiny_tokenizer(), text_encoder=tiny_t5(32), vae=vae, transformer=transformer, scheduler=CogVideoXDDIMScheduler())


def ltx_video_i2v():
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXImageToVideoPipeline, LTXVideoTransformer3DModel

    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=2, attention_head_dim=8,
        cross_attention_dim=16, num_layers=1, caption_channels=32,
    )  # fmt: skip
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5, upsample_residual=(False,) * 4,
        upsample_factor=(1,) * 4, timestep_conditioning=False, patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )  # fmt: skip
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    return LTXImageToVideoPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=tiny_t5(32), tokenizer=tiny_tokenizer(), transformer=transformer)


def wan_i2v():
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline, WanTransformer3DModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection, UMT5Config, UMT5EncoderModel

    try:
        from transformers import CLIPImageProcessorPil as ImageProcessor  # no torchvision needed
    except ImportError:
        from transformers import CLIPImageProcessor as ImageProcessor

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True])
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=len(VOCAB), d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=2, pad_token_id=0, eos_token_id=1))
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36, out_channels=16, text_dim=32,
        freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
        image_dim=4,
    )  # fmt: skip
    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2, image_size=32, intermediate_size=16, patch_size=1))
    image_processor = ImageProcessor(crop_size=32, size=32)
    return WanImageToVideoPipeline(
        tokenizer=tiny_tokenizer(), text_encoder=text_encoder, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        image_processor=image_processor, image_encoder=image_encoder, transformer=transformer,
    )  # fmt: skip


# HunyuanVideo-I2V's text encoder is a LLaVA (CLIP vision tower + Llama) reading a chat template
# with an <image> slot; the tiny one gets a tiny template with the same markers.
HUNYUAN_SPECIAL = ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<image>"]
HUNYUAN_IMAGE_TOKENS = 16  # (32 px / patch 8)^2 patches, CLS dropped
HUNYUAN_TEMPLATE = {
    "template": "<|start_header_id|> system <|end_header_id|> <image> video <|eot_id|> <|start_header_id|> user <|end_header_id|> {} <|eot_id|> <|start_header_id|> assistant <|end_header_id|>",
    "crop_start": 9,  # tokens before the user's prompt
    "image_emb_start": 3,
    "image_emb_end": 3 + HUNYUAN_IMAGE_TOKENS,
    "image_emb_len": HUNYUAN_IMAGE_TOKENS,
    "double_return_token_id": 0,
}


def hunyuanvideo_i2v():
    from diffusers import AutoencoderKLHunyuanVideo, FlowMatchEulerDiscreteScheduler, HunyuanVideoImageToVideoPipeline, HunyuanVideoTransformer3DModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    try:
        from transformers import CLIPImageProcessorPil as ImageProcessor
    except ImportError:
        from transformers import CLIPImageProcessor as ImageProcessor

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer(additional_special_tokens=HUNYUAN_SPECIAL)
    for word in ("system", "user", "assistant"):
        tokenizer.add_tokens([word])
    image_token = tokenizer.convert_tokens_to_ids("<image>")
    llava = LlavaForConditionalGeneration(LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8, projection_dim=8),
        text_config=LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=3, num_attention_heads=2, num_key_value_heads=2, pad_token_id=0),
        image_token_index=image_token, vision_feature_layer=-2, vision_feature_select_strategy="default", pad_token_id=0,
    ))  # fmt: skip
    clip = CLIPTextModel(CLIPTextConfig(vocab_size=len(VOCAB), hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=77, pad_token_id=0, bos_token_id=3, eos_token_id=1))
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=10, num_layers=1, num_single_layers=1,
        num_refiner_layers=1, patch_size=1, patch_size_t=1, guidance_embeds=True, text_embed_dim=16, pooled_projection_dim=8,
        rope_axes_dim=(2, 4, 4), image_condition_type="token_replace",
    )  # fmt: skip
    vae = AutoencoderKLHunyuanVideo(latent_channels=4, block_out_channels=(8, 8, 8, 8), layers_per_block=1, norm_num_groups=4, mid_block_add_attention=True)
    return HunyuanVideoImageToVideoPipeline(
        text_encoder=llava, tokenizer=tokenizer, transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder_2=clip, tokenizer_2=tiny_tokenizer(), image_processor=ImageProcessor(size={"shortest_edge": 32}, crop_size=32),
    )  # fmt: skip


# Wan 2.2 layouts (Wan-AI/Wan2.2-I2V-A14B-Diffusers, Wan-AI/Wan2.2-TI2V-5B-Diffusers) and Wan's
# text-to-video pipeline: the same parts at toy sizes, arranged as those folders arrange them.


def _wan_text_parts():
    from transformers import UMT5Config, UMT5EncoderModel

    return tiny_tokenizer(), UMT5EncoderModel(UMT5Config(vocab_size=len(VOCAB), d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=2, pad_token_id=0, eos_token_id=1))


def _wan_transformer(in_channels: int, out_channels: int, image_dim: int | None = None):
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=in_channels, out_channels=out_channels,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32, image_dim=image_dim,
    )  # fmt: skip


def wan22_i2v_a14b():
    """Two transformers (high noise, low noise) switched at boundary_ratio; no CLIP image encoder."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True])
    tokenizer, text_encoder = _wan_text_parts()
    return WanImageToVideoPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),
        transformer=_wan_transformer(36, 16), transformer_2=_wan_transformer(36, 16), boundary_ratio=0.9,
    )  # fmt: skip


def wan22_ti2v_5b():
    """The Wan 2.2 VAE (residual, 2x2 patchified pixels: 16x spatial compression) and the image as the
    first latent frame (expand_timesteps); one transformer over latents alone."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline

    torch.manual_seed(0)
    z = 8
    vae = AutoencoderKLWan(
        base_dim=4, decoder_base_dim=4, z_dim=z, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True],
        is_residual=True, in_channels=12, out_channels=12, patch_size=2, scale_factor_spatial=16,
        latents_mean=[0.0] * z, latents_std=[1.0] * z,
    )  # fmt: skip
    tokenizer, text_encoder = _wan_text_parts()
    return WanImageToVideoPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),
        transformer=_wan_transformer(z, z), expand_timesteps=True,
    )  # fmt: skip


def wan_t2v():
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True])
    tokenizer, text_encoder = _wan_text_parts()
    return WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),
                       transformer=_wan_transformer(16, 16))  # fmt: skip


def wan22_t2v_a14b():
    """Wan's text-to-video pipeline with the Wan 2.2 A14B pair of experts."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True])
    tokenizer, text_encoder = _wan_text_parts()
    return WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=12.0),
                       transformer=_wan_transformer(16, 16), transformer_2=_wan_transformer(16, 16), boundary_ratio=0.875)  # fmt: skip


def cogvideox_t2v():
    from diffusers import CogVideoXPipeline

    i2v = cogvideox_i2v()  # the same parts with a transformer over the noisy latent alone
    from diffusers import CogVideoXTransformer3DModel

    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=4, time_embed_dim=8, text_embed_dim=32,
        num_layers=1, sample_width=6, sample_height=4, sample_frames=49, patch_size=2, temporal_compression_ratio=4,
        max_text_seq_length=226, use_rotary_positional_embeddings=True, use_learned_positional_embeddings=False,
    )  # fmt: skip
    return CogVideoXPipeline(tokenizer=i2v.tokenizer, text_encoder=i2v.text_encoder, vae=i2v.vae, transformer=transformer, scheduler=i2v.scheduler)


def ltx_video_t2v():
    from diffusers import LTXPipeline

    i2v = ltx_video_i2v()  # LTX's transformer takes the same latents for both tasks
    return LTXPipeline(scheduler=i2v.scheduler, vae=i2v.vae, text_encoder=i2v.text_encoder, tokenizer=i2v.tokenizer, transformer=i2v.transformer)


# HunyuanVideo's text encoder is a Llama reading a chat template; the tiny one gets a tiny template.
HUNYUAN_T2V_TEMPLATE = {
    "template": "<|start_header_id|> system <|end_header_id|> video <|eot_id|> <|start_header_id|> user <|end_header_id|> {} <|eot_id|>",
    "crop_start": 8,  # tokens before the user's prompt
}


def hunyuanvideo_t2v():
    from diffusers import AutoencoderKLHunyuanVideo, FlowMatchEulerDiscreteScheduler, HunyuanVideoPipeline, HunyuanVideoTransformer3DModel
    from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer(additional_special_tokens=HUNYUAN_SPECIAL[:3])
    for word in ("system", "user"):
        tokenizer.add_tokens([word])
    llama = LlamaModel(LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=3,
                                   num_attention_heads=2, num_key_value_heads=2, pad_token_id=0))
    clip = CLIPTextModel(CLIPTextConfig(vocab_size=len(VOCAB), hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=77, pad_token_id=0, bos_token_id=3, eos_token_id=1))
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=10, num_layers=1, num_single_layers=1,
        num_refiner_layers=1, patch_size=1, patch_size_t=1, guidance_embeds=True, text_embed_dim=16, pooled_projection_dim=8,
        rope_axes_dim=(2, 4, 4),
    )  # fmt: skip
    vae = AutoencoderKLHunyuanVideo(latent_channels=4, block_out_channels=(8, 8, 8, 8), layers_per_block=1, norm_num_groups=4, mid_block_add_attention=True)
    return HunyuanVideoPipeline(text_encoder=llama, tokenizer=tokenizer, transformer=transformer, vae=vae,
                                scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), text_encoder_2=clip, tokenizer_2=tiny_tokenizer())  # fmt: skip


def saved(build, folder) -> str:
    """`build()` written as a diffusers folder (model_index.json + one folder per part), as the Hub has it."""
    build().save_pretrained(folder)
    return str(folder)

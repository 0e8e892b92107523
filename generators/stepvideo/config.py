"""Configuration dataclasses and presets for the Step-Video-TI2V and Step-Video-T2V networks.

The defaults of every dataclass are the official released TI2V sizes (see
docs/stepvideo-architecture.md). Smaller presets keep every structural feature (fused
layouts, 3D RoPE split proportions, causal VAE with 16x spatial / 17->3 temporal compression,
GQA, ...) so tests exercise the same code paths as the 30B model.

Step-Video-T2V is the same DiT without the image condition (`use_additional_conditions=False`: the
patch embed sees the noisy latent alone and there is no motion-score embedder); its VAE and text
encoders are the TI2V ones. So a `-t2v` preset is its TI2V preset with that one switch off, and
both run through the one DiT implementation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from stepeval.benchmark.items import T2V, TI2V
from stepeval.errors import UserError


@dataclass
class DiTConfig:
    """StepVideoModel hyperparameters (official TI2V defaults)."""

    num_attention_heads: int = 48
    attention_head_dim: int = 128
    in_channels: int = 64
    out_channels: int = 64
    num_layers: int = 48
    patch_size: int = 1
    norm_eps: float = 1e-6
    # TI2V: the patch embed sees [noisy latent ; image latent] and a motion-score embedder exists.
    # False is Step-Video-T2V: latent channels only, no motion embedder.
    use_additional_conditions: bool = True
    # (LLM width, CLIP width).
    caption_channels: tuple[int, int] = (6144, 1024)
    # Head-dim split of the 3D RoPE over (frame, height, width); official 64/32/32 of 128.
    rope_split: tuple[int, int, int] = (64, 32, 32)
    rope_theta: float = 10000.0
    ffn_mult: int = 4
    time_step_rescale: float = 1000.0
    sinusoid_dim: int = 256
    # How a TI2V DiT takes the first image (`image_conditioning.MODES`): "concat" (official: the
    # image latent on extra input channels), "frame_replace" (STIV: latent frame 0 of the noisy
    # input is the clean image latent; no extra channels) or "both".
    image_conditioning: str = "concat"

    @property
    def inner_dim(self) -> int:
        return self.num_attention_heads * self.attention_head_dim

    @property
    def concatenates_image(self) -> bool:
        return self.use_additional_conditions and self.image_conditioning in ("concat", "both")

    @property
    def patch_in_channels(self) -> int:
        return self.in_channels * (2 if self.concatenates_image else 1)

    @property
    def task(self) -> str:
        """What the DiT is conditioned on: "ti2v" (text and the first image) or "t2v" (text alone)."""
        return TI2V if self.use_additional_conditions else T2V

    def validate(self) -> None:
        if sum(self.rope_split) != self.attention_head_dim or any(s % 2 for s in self.rope_split):
            raise UserError(
                f"rope_split {self.rope_split} must be three even numbers summing to "
                f"attention_head_dim={self.attention_head_dim}"
            )
        from .image_conditioning import check_mode

        check_mode(self.image_conditioning)


@dataclass
class VAEConfig:
    """Video-VAE version 2. The official code hard-codes the widths; here they are fields."""

    z_channels: int = 64
    in_channels: int = 3
    enc_ch: int = 32
    enc_ch_mult: tuple[int, ...] = (4, 8, 16, 16)
    enc_num_res_blocks: int = 2
    dec_ch: int = 128
    dec_ch_mult: tuple[int, ...] = (1, 2, 4, 4)
    dec_num_res_blocks: int = 3
    norm_groups: int = 32
    # Frames per encode chunk and latents per decode chunk; fixed by the architecture (two
    # temporal stride-2 stages plus a 2x temporal patchify), kept here for readability.
    frames_per_chunk: int = 17
    latents_per_chunk: int = 3
    # 16 = official. 8 = the small-preset variant with one level fewer spatially: level 0 keeps
    # full resolution (no Downsample2D) and the decoder's level 1 no Upsample2D; every other
    # module, name and the temporal path are unchanged.
    spatial_compression: int = 16

    @property
    def enc_out_width(self) -> int:
        return self.enc_ch * self.enc_ch_mult[-1]

    @property
    def dec_in_width(self) -> int:
        return self.dec_ch * self.dec_ch_mult[-1]

    def validate(self) -> None:
        if len(self.enc_ch_mult) != 4 or len(self.dec_ch_mult) != 4:
            raise UserError("VAE needs exactly 4 levels (enc_ch_mult and dec_ch_mult of length 4)")
        if self.spatial_compression not in (8, 16):
            raise UserError(f"VAE spatial_compression must be 16 (official) or 8, got {self.spatial_compression}")
        # The v2 patchify/unpatchify shortcuts average/repeat channels between the last-level
        # width and 32 * z_channels by integer factors.
        if self.enc_out_width % (4 * self.z_channels) or self.dec_in_width % (4 * self.z_channels):
            raise UserError(
                f"VAE last-level widths (enc {self.enc_out_width}, dec {self.dec_in_width}) must be "
                f"multiples of 4 * z_channels = {4 * self.z_channels}"
            )
        widths = [self.enc_ch] + [self.enc_ch * m for m in self.enc_ch_mult]
        widths += [self.dec_ch * m for m in self.dec_ch_mult]
        if any(w % self.norm_groups for w in widths):
            raise UserError(f"norm_groups={self.norm_groups} must divide every VAE width {widths}")


@dataclass
class StepLLMConfig:
    """Step-1 text encoder (names follow the checkpoint's step_llm/config.json)."""

    hidden_size: int = 6144
    num_layers: int = 48
    num_attention_heads: int = 48
    kv_channels: int = 128
    num_attention_groups: int = 8
    ffn_hidden_size: int = 16896
    padded_vocab_size: int = 65536
    layernorm_epsilon: float = 1e-5
    max_length: int = 320

    def validate(self) -> None:
        if self.num_attention_heads % self.num_attention_groups:
            raise UserError("num_attention_heads must be a multiple of num_attention_groups")

    def to_hub_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("max_length")
        d["seq_length"] = 16384
        d["params_dtype"] = "bf16"
        return d

    @classmethod
    def from_hub_dict(cls, d: dict) -> "StepLLMConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class CLIPConfig:
    """HunyuanCLIP text tower: a BERT encoder. Only used to write random checkpoints; loading
    reads the checkpoint's own transformers config."""

    hidden_size: int = 1024
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    intermediate_size: int = 4096
    vocab_size: int = 47020
    max_position_embeddings: int = 512
    max_length: int = 77


@dataclass
class StepVideoConfig:
    """All four networks of one preset, kept mutually consistent."""

    dit: DiTConfig = field(default_factory=DiTConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)
    llm: StepLLMConfig = field(default_factory=StepLLMConfig)
    clip: CLIPConfig = field(default_factory=CLIPConfig)

    def validate(self) -> None:
        self.dit.validate()
        self.vae.validate()
        self.llm.validate()
        if self.dit.in_channels != self.vae.z_channels:
            raise UserError("dit.in_channels must equal vae.z_channels")
        if tuple(self.dit.caption_channels) != (self.llm.hidden_size, self.clip.hidden_size):
            raise UserError("dit.caption_channels must be (llm.hidden_size, clip.hidden_size)")


def _official() -> StepVideoConfig:
    return StepVideoConfig()


def _small() -> StepVideoConfig:
    # Mid-size: width 1024 (8 heads of 128, so the official 64/32/32 RoPE split), 4 blocks.
    return StepVideoConfig(
        dit=DiTConfig(num_attention_heads=8, attention_head_dim=128, in_channels=16,
                      out_channels=16, num_layers=4, caption_channels=(512, 256)),
        vae=VAEConfig(z_channels=16, enc_ch=16, enc_ch_mult=(2, 4, 8, 8), dec_ch=32,
                      dec_ch_mult=(1, 2, 4, 4), norm_groups=8),
        llm=StepLLMConfig(hidden_size=512, num_layers=4, num_attention_heads=8, kv_channels=64,
                          num_attention_groups=2, ffn_hidden_size=1408, padded_vocab_size=4096),
        clip=CLIPConfig(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                        intermediate_size=1024, vocab_size=1024, max_position_embeddings=128),
    )


def _tiny() -> StepVideoConfig:
    # A few MB; every structural feature kept (2 CFG-able conditions, GQA with 2 groups,
    # 4-level causal VAE with the v2 patchify shortcuts).
    return StepVideoConfig(
        dit=DiTConfig(num_attention_heads=2, attention_head_dim=32, in_channels=4, out_channels=4,
                      num_layers=2, caption_channels=(64, 32), rope_split=(16, 8, 8)),
        vae=VAEConfig(z_channels=4, enc_ch=4, enc_ch_mult=(1, 2, 4, 4), enc_num_res_blocks=1,
                      dec_ch=4, dec_ch_mult=(1, 2, 4, 4), dec_num_res_blocks=2, norm_groups=4),
        llm=StepLLMConfig(hidden_size=64, num_layers=2, num_attention_heads=4, kv_channels=16,
                          num_attention_groups=2, ffn_hidden_size=128, padded_vocab_size=512),
        clip=CLIPConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, vocab_size=1000, max_position_embeddings=128),
    )


def _t2v(ti2v_preset: Callable[[], StepVideoConfig]) -> Callable[[], StepVideoConfig]:
    """Step-Video-T2V at a TI2V preset's sizes: the DiT without the image condition."""

    def preset() -> StepVideoConfig:
        cfg = ti2v_preset()
        cfg.dit.use_additional_conditions = False
        return cfg

    return preset


PRESETS = {
    "official": _official,
    "small": _small,
    "tiny": _tiny,
    "official-t2v": _t2v(_official),
    "small-t2v": _t2v(_small),
    "tiny-t2v": _t2v(_tiny),
}
# Presets of the released sizes (about 30B parameters): never materialised with random weights.
OFFICIAL_PRESETS = frozenset({"official", "official-t2v"})


def get_preset(name: str) -> StepVideoConfig:
    """A fresh (mutable) copy of a named preset."""
    if name not in PRESETS:
        raise UserError(f"unknown Step-Video preset {name!r}", hint=f"use one of {sorted(PRESETS)}")
    cfg = PRESETS[name]()
    cfg.validate()
    return cfg

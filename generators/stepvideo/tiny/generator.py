"""`stepvideo-ti2v-tiny`: the tiny Step-Video-TI2V trained on the synthetic world, behind the
Generator protocol.

It is the in-repo `StepVideoTI2V` (same pipeline, sampler, image conditioning and per-request
parameters) with the shipped checkpoint folder as its default `model_dir`, the preset's own text
encoder instead of Step-LLM + HunyuanCLIP, and the native geometry of the world it was trained on:
64x64, 17 frames, 8 fps. Magic prompts are off by default: they are Chinese prose the tiny
tokenizer has never seen. The image latent defaults to the posterior mean (the tiny VAE's posterior
is narrow; the mean makes a video depend on the seed through the noise only).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from stepeval.benchmark import synthetic as world
from stepeval.generation.protocol import Capabilities

from ..generator import PER_REQUEST, StepVideoTI2V
from ..parallel import SINGLE
from ..pipeline import StepVideoPipeline
from .weights import DEFAULT_DIR, load_tiny_checkpoint


def _shipped_defaults(model_dir: Path) -> dict:
    try:
        return json.loads((model_dir / "model_index.json").read_text(encoding="utf-8")).get("stepeval", {})
    except (OSError, ValueError):
        return {}  # load() reports a missing or broken checkpoint with a clear error


class StepVideoTI2VTiny(StepVideoTI2V):
    name = "stepvideo-ti2v-tiny"
    default_dir = DEFAULT_DIR
    # The synthetic world it was trained on; a checkpoint's model_index.json may refine it.
    capabilities = Capabilities(
        sizes=((world.SIZE, world.SIZE),), frame_counts=(world.FRAMES,), fps=world.FPS, request_params=PER_REQUEST,
        notes="the shipped tiny checkpoint (synthetic world); CPU, no memory plan")

    def __init__(self, model_dir: str | Path | None = None, *, steps: int | None = None,
                 cfg_scale: float | None = None, time_shift: float | None = None, motion_score: float = 5.0,
                 magic_prompts: bool = False, negative_prompt: str = "", image_latent: str = "mean",
                 official_crop: bool = False, vae_tile: int | None = None, guidance: str = "text",
                 numerics: str = "stepeval", verbose: bool = False):
        root = Path(model_dir) if model_dir else self.default_dir
        shipped = _shipped_defaults(root)
        super().__init__(
            model_dir=root, dtype="float32", offload="none",
            sizes=((int(shipped.get("height", world.SIZE)), int(shipped.get("width", world.SIZE))),),
            frame_counts=(int(shipped.get("frames", world.FRAMES)),), fps=float(shipped.get("fps", world.FPS)),
            steps=int(steps if steps is not None else shipped.get("steps", 20)),
            cfg_scale=float(cfg_scale if cfg_scale is not None else shipped.get("cfg_scale", 3.0)),
            time_shift=float(time_shift if time_shift is not None else shipped.get("time_shift", 3.0)),
            motion_score=motion_score, negative_prompt=negative_prompt, magic_prompts=magic_prompts,
            official_crop=official_crop, vae_tile=vae_tile, image_latent=image_latent, guidance=guidance,
            numerics=numerics, verbose=verbose)

    def load(self, device: str = "auto") -> None:
        if self.pipeline is not None:
            return
        parts = load_tiny_checkpoint(self.model_dir)
        dev = torch.device("cpu" if device in ("auto", None) else device)
        self.parallel = SINGLE
        self.pipeline = StepVideoPipeline(parts.dit, parts.vae, parts.encode_text,
                                              text_module=parts.text_encoder, device=dev)

    def _check_fits(self, settings) -> None:
        # A few MB of weights and 48 tokens: no memory plan needed (the official planner assumes
        # the Step-LLM/CLIP text stack this preset does not have).
        return None


# The concat model trained with the design variants' recipe (same data, seed and step budget): the
# ablation's like-for-like reference (configs/ablation-stiv.yaml). The shipped model was retrained
# since with more zooms and DiT steps.
ABLATION_CONCAT_DIR = DEFAULT_DIR.parent / "tiny-concat-4k"


class StepVideoTI2VTinyFrameReplace(StepVideoTI2VTiny):
    """The tiny model with STIV's frame replacement instead of channel concatenation (same VAE, data,
    seed and steps as the shipped one; `stepeval train-tiny --variant frame_replace`)."""

    name = "stepvideo-ti2v-tiny-frame-replace"
    default_dir = DEFAULT_DIR.parent / "tiny-frame-replace"


class StepVideoTI2VTinyBoth(StepVideoTI2VTiny):
    """The tiny model with channel concatenation and frame replacement together
    (`stepeval train-tiny --variant both`)."""

    name = "stepvideo-ti2v-tiny-both"
    default_dir = DEFAULT_DIR.parent / "tiny-both"

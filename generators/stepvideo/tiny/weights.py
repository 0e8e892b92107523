"""The tiny checkpoint folder, in the official hub layout.

    model_index.json            pipeline class, component classes, and stepeval's sampling defaults
    transformer/config.json     official StepVideoModel arguments (+ rope_split, a stepeval field)
    transformer/diffusion_pytorch_model.safetensors
    vae/config.json             VAEConfig fields (the official code hard-codes its widths)
    vae/vae_v2.safetensors      official key names (decoder.conv_out.* stored without `.conv.`)
    scheduler/scheduler_config.json
    tiny_text/                  the preset's own text encoder (tokenizer.json, config.json,
                                model.safetensors) in place of step_llm/ + hunyuan_clip/
    training.json               the recipe and the training/evaluation history

Weights are stored in fp16 (the folder is committed; a few MB) and loaded as fp32.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from stepeval.errors import UserError
from stepeval.runs import atomic_write_text

from ..checkpoint import load_dit, load_vae, save_dit, save_vae
from ..dit import StepVideoModel
from ..vae import StepVideoVAE
from .text import PhraseTokenizer, TinyTextEncoder

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "weights" / "tiny"
TEXT_DIR = "tiny_text"


def _half(sd: dict) -> dict:
    return {k: v.detach().to(torch.float16).contiguous() for k, v in sd.items()}


def save_tiny_checkpoint(out_dir: str | Path, *, dit: StepVideoModel, vae: StepVideoVAE, text, recipe, report: dict) -> Path:
    out = Path(out_dir)
    for sub in ("transformer", "vae", "scheduler", TEXT_DIR):
        (out / sub).mkdir(parents=True, exist_ok=True)
    # The project's checkpoint writers: official file names and key layout, fp16 to keep it small.
    save_dit(dit, out / "transformer", dtype=torch.float16)
    save_vae(vae, out / "vae", dtype=torch.float16)
    atomic_write_text(out / "scheduler" / "scheduler_config.json", json.dumps(
        {"_class_name": "FlowMatchDiscreteScheduler", "num_train_timesteps": 1, "reverse": False,
         "solver": "euler", "shift": recipe.time_shift}, indent=1))
    atomic_write_text(out / TEXT_DIR / "tokenizer.json", json.dumps(text.tokenizer.to_json(), ensure_ascii=False, indent=1))
    atomic_write_text(out / TEXT_DIR / "config.json", json.dumps(text.encoder.config, indent=1))
    save_file(_half(text.encoder.state_dict()), str(out / TEXT_DIR / "model.safetensors"))
    from stepeval.benchmark import synthetic as world

    index = {"_class_name": "StepVideoPipeline", "scheduler": ["stepvideo", "FlowMatchDiscreteScheduler"],
             "transformer": ["stepvideo", "StepVideoModel"], "vae": ["stepvideo", "AutoencoderKL"],
             "text_encoder": ["stepeval", "TinyTextEncoder"],
             "stepeval": {"preset": "tiny-synthetic", "height": world.SIZE, "width": world.SIZE,
                          "frames": world.FRAMES, "fps": world.FPS, "steps": recipe.steps,
                          "time_shift": recipe.time_shift, "cfg_scale": recipe.cfg_scale,
                          "world": "stepeval.benchmark.synthetic", "world_version": world.WORLD_VERSION}}
    atomic_write_text(out / "model_index.json", json.dumps(index, indent=1))
    atomic_write_text(out / "training.json", json.dumps(report, indent=1, default=float))
    return out


@dataclasses.dataclass
class TinyParts:
    dit: StepVideoModel
    vae: StepVideoVAE
    text_encoder: TinyTextEncoder
    tokenizer: PhraseTokenizer
    defaults: dict

    def encode_text(self, prompts: list[str]):
        """The pipeline's TextEncodeFn: (y [B, L, 64], mask [B, 1 + L], clip [B, 1, 32])."""
        ids, mask = self.tokenizer(prompts)
        with torch.no_grad():
            y, clip, full_mask = self.text_encoder(ids, mask)
        return y, full_mask, clip


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("tiny Step-Video checkpoint file missing", path=path,
                        hint="rebuild the checkpoint with `stepeval train-tiny`, or pass the right model_dir") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read checkpoint file ({exc})", path=path, hint="rebuild it with `stepeval train-tiny`") from exc


def _load_weights(path: Path) -> dict:
    if not path.is_file():
        raise UserError("tiny Step-Video weights missing", path=path, hint="rebuild the checkpoint with `stepeval train-tiny`")
    return {k: v.float() for k, v in load_file(str(path)).items()}


def load_vae_folder(model_dir: str | Path) -> StepVideoVAE:
    """The VAE of a tiny checkpoint folder alone (fp32), e.g. to train a DiT variant on it."""
    root = Path(model_dir)
    if not (root / "vae").is_dir():
        raise UserError("no vae/ folder: not a tiny checkpoint", path=root,
                        hint="pass a folder written by `stepeval train-tiny` (e.g. generators/stepvideo/weights/tiny)")
    return load_vae(root / "vae", torch.float32).eval()


def load_tiny_checkpoint(model_dir: str | Path | None = None) -> TinyParts:
    root = Path(model_dir) if model_dir else DEFAULT_DIR
    if not root.is_dir():
        raise UserError("tiny Step-Video checkpoint folder not found", path=root,
                        hint="train it with `stepeval train-tiny --out PATH` or pass model_dir")
    index = _read_json(root / "model_index.json")
    dit = load_dit(root / "transformer", torch.float32)
    vae = load_vae(root / "vae", torch.float32)
    tok = PhraseTokenizer.from_json(_read_json(root / TEXT_DIR / "tokenizer.json"))
    enc = TinyTextEncoder(**_read_json(root / TEXT_DIR / "config.json"))
    enc.load_state_dict(_load_weights(root / TEXT_DIR / "model.safetensors"))
    return TinyParts(dit.eval(), vae.eval(), enc.eval(), tok, dict(index.get("stepeval", {})))

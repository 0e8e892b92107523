"""Checkpoint I/O in the official hub layout.

    model_dir/
      model_index.json
      transformer/  config.json + diffusion_pytorch_model.safetensors (or -0000i-of-0000n shards
                    with diffusion_pytorch_model.safetensors.index.json)
      vae/          vae_v2.safetensors (stores decoder.conv_out.weight/bias without `.conv.`)
                    [+ config.json for non-official sizes: our addition]
      step_llm/     config.json + *.safetensors (single or sharded) + step1_chat_tokenizer.model
      hunyuan_clip/ clip_text_encoder/ (transformers BertModel) + tokenizer/ (BertTokenizer)
      scheduler/    scheduler_config.json

Loading builds each model on the meta device and assigns tensors shard by shard (cast per
tensor), so peak RAM is about one model plus one shard, never twice a 30B model. Keys and shapes
are checked against the file headers before anything is read; every mismatch is reported in one
UserError.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from stepeval.errors import UserError

from .config import CLIPConfig, DiTConfig, StepLLMConfig, StepVideoConfig, VAEConfig
from .dit import StepVideoModel
from .step_llm import LLM_TOKENIZER_NAME, Step1Tokenizer, StepLLM
from .vae import StepVideoVAE

DTYPES = {
    "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
    "fp16": torch.float16, "float16": torch.float16, "half": torch.float16,
    "fp32": torch.float32, "float32": torch.float32, "float": torch.float32,
}
DIT_WEIGHTS = "diffusion_pytorch_model"
VAE_FILE = "vae_v2.safetensors"
LLM_WEIGHTS = "model"
LLM_TOKENIZER = LLM_TOKENIZER_NAME


def parse_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype in (torch.bfloat16, torch.float16, torch.float32):
            return dtype
    elif isinstance(dtype, str) and dtype.lower() in DTYPES:
        return DTYPES[dtype.lower()]
    raise UserError(f"unsupported dtype {dtype!r}", hint="use bf16, fp16 or fp32")


def parse_size(size: int | str) -> int:
    if isinstance(size, int):
        return size
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?B?)\s*", str(size).upper())
    if not m:
        raise UserError(f"cannot read shard size {size!r}", hint="e.g. 5GB, 500MB or a byte count")
    unit = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "M": 2**20, "MB": 2**20, "G": 2**30, "GB": 2**30}
    return int(float(m.group(1)) * unit[m.group(2)])


# ------------------------------------------------------------------------------------------------
# safetensors folders
# ------------------------------------------------------------------------------------------------


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a folder: the shards named by an index json, or the single file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError("checkpoint folder not found", path=folder,
                        hint="point --model-dir at a Step-Video-TI2V download (hub layout)")
    indexes = sorted(folder.glob("*.safetensors.index.json"))
    if indexes:
        try:
            weight_map = json.loads(indexes[0].read_text())["weight_map"]
        except (ValueError, KeyError) as exc:
            raise UserError(f"unreadable shard index ({exc})", path=indexes[0]) from exc
        files = [folder / name for name in sorted(set(weight_map.values()))]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise UserError(
                f"{len(missing)} of {len(files)} shards are missing: {', '.join(missing[:5])}",
                path=folder, hint="re-download the missing shard files",
            )
        return files
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise UserError("no .safetensors weights in the folder", path=folder,
                        hint="expected a single *.safetensors file or shards with an index json")
    return files


def read_shapes(files: list[Path], rename: Callable[[str], str] = lambda k: k) -> dict:
    """Key -> (shape, file) from the safetensors headers, without reading tensor data."""
    from safetensors import safe_open  # noqa: PLC0415

    shapes = {}
    for f in files:
        try:
            with safe_open(str(f), framework="pt", device="cpu") as handle:
                for key in handle.keys():
                    shapes[rename(key)] = (tuple(handle.get_slice(key).get_shape()), f)
        except Exception as exc:  # safetensors raises its own error types for corrupt headers
            raise UserError(f"unreadable safetensors file ({exc})", path=f) from exc
    return shapes


def _listing(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def check_state_dict(expected: dict[str, tuple], found: dict[str, tuple], what: str,
                     path: Path) -> None:
    """One readable UserError listing missing, unexpected and mis-shaped keys."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shaped = sorted(k for k in set(expected) & set(found) if tuple(expected[k]) != tuple(found[k]))
    if not (missing or unexpected or shaped):
        return
    lines = [f"{what} checkpoint does not match the model"]
    if missing:
        lines.append(f"  missing ({len(missing)}): {_listing(missing)}")
    if unexpected:
        lines.append(f"  unexpected ({len(unexpected)}): {_listing(unexpected)}")
    if shaped:
        lines.append(f"  wrong shape ({len(shaped)}): " + _listing(
            [f"{k} file {list(found[k])} vs model {list(expected[k])}" for k in shaped]))
    raise UserError("\n".join(lines), path=path,
                    hint="check the folder is the right model and its config.json matches the weights")


def load_weights(model_factory: Callable[[], nn.Module], folder: Path, dtype: torch.dtype,
                 device: str | torch.device = "cpu", what: str = "model",
                 rename: Callable[[str], str] = lambda k: k) -> nn.Module:
    """Build on meta, check keys/shapes, then assign tensors shard by shard, cast per tensor."""
    from safetensors import safe_open  # noqa: PLC0415

    files = weight_files(folder)
    with torch.device("meta"):
        model = model_factory()
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = read_shapes(files, rename)
    check_state_dict(expected, {k: v[0] for k, v in found.items()}, what, Path(folder))
    for f in files:
        part = {}
        with safe_open(str(f), framework="pt", device="cpu") as handle:
            for key in handle.keys():
                part[rename(key)] = handle.get_tensor(key).to(device=device, dtype=dtype)
        model.load_state_dict(part, strict=False, assign=True)
        del part
    for name, p in list(model.named_parameters()) + list(model.named_buffers()):
        if p.is_meta:  # pragma: no cover - guarded by the key check above
            raise RuntimeError(f"{what}: {name} was not loaded")
    return model.eval().requires_grad_(False)


def save_weights(state_dict: dict[str, torch.Tensor], folder: Path, prefix: str,
                 max_shard_size: int | str = "10GB") -> list[Path]:
    """Write `prefix.safetensors`, or `prefix-0000i-of-0000n.safetensors` + index json."""
    from safetensors.torch import save_file  # noqa: PLC0415

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    limit = parse_size(max_shard_size)
    shards: list[dict] = [{}]
    size = 0
    for key, t in state_dict.items():
        nbytes = t.numel() * t.element_size()
        if shards[-1] and size + nbytes > limit:
            shards.append({})
            size = 0
        shards[-1][key] = t.detach().contiguous().cpu()
        size += nbytes
    if len(shards) == 1:
        path = folder / f"{prefix}.safetensors"
        save_file(shards[0], str(path), metadata={"format": "pt"})
        return [path]
    paths, weight_map = [], {}
    total = sum(t.numel() * t.element_size() for t in state_dict.values())
    for i, shard in enumerate(shards, 1):
        path = folder / f"{prefix}-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(path), metadata={"format": "pt"})
        paths.append(path)
        weight_map.update({k: path.name for k in shard})
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / f"{prefix}.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return paths


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise UserError("config file not found", path=path,
                        hint="the model folder must follow the hub layout (see docs)")
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise UserError(f"invalid JSON ({exc})", path=path) from exc


def _cast_state(model: nn.Module, dtype: torch.dtype | None) -> dict:
    sd = model.state_dict()
    return {k: (v.to(dtype) if dtype is not None else v) for k, v in sd.items()}


# ------------------------------------------------------------------------------------------------
# DiT
# ------------------------------------------------------------------------------------------------


def dit_config_from_json(d: dict) -> DiTConfig:
    names = {f.name for f in dataclasses.fields(DiTConfig)}
    kwargs = {k: v for k, v in d.items() if k in names}
    for key in ("caption_channels", "rope_split"):
        if key in kwargs and isinstance(kwargs[key], list):
            kwargs[key] = tuple(kwargs[key])
    if isinstance(kwargs.get("caption_channels"), int):  # T2V-style single width: no CLIP
        raise UserError("a caption_channels list [llm, clip] is required for TI2V")
    head_dim = kwargs.get("attention_head_dim", DiTConfig.attention_head_dim)
    kwargs.setdefault("rope_split", (head_dim // 2, head_dim // 4, head_dim // 4))
    return DiTConfig(**kwargs)


def checkpoint_task(model_dir: str | Path) -> str:
    """"ti2v" or "t2v": what a hub-layout folder's DiT was built for, read from its config alone."""
    return dit_config_from_json(_read_json(Path(model_dir) / "transformer" / "config.json")).task


def dit_config_to_json(cfg: DiTConfig) -> dict:
    d = {"_class_name": "StepVideoModel"}
    d.update(dataclasses.asdict(cfg))
    d.update({"dropout": 0.0, "norm_type": "ada_norm_single", "norm_elementwise_affine": False,
              "attention_type": "torch"})
    d["caption_channels"] = list(cfg.caption_channels)
    d["rope_split"] = list(cfg.rope_split)
    return d


def load_dit(folder: str | Path, dtype: str | torch.dtype = "bf16",
             device: str | torch.device = "cpu") -> StepVideoModel:
    folder = Path(folder)
    dtype = parse_dtype(dtype)
    cfg = dit_config_from_json(_read_json(folder / "config.json"))
    return load_weights(lambda: StepVideoModel(cfg), folder, dtype, device, "transformer")


def save_dit(model: StepVideoModel, folder: str | Path, max_shard_size: int | str = "10GB",
             dtype: str | torch.dtype | None = None) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(dit_config_to_json(model.config), indent=2))
    save_weights(_cast_state(model, dtype and parse_dtype(dtype)), folder, DIT_WEIGHTS,
                 max_shard_size)


# ------------------------------------------------------------------------------------------------
# VAE
# ------------------------------------------------------------------------------------------------


def _vae_file_to_model(key: str) -> str:
    # The released file names the decoder's last conv without the CausalConv wrapper.
    if key.startswith("decoder.conv_out.") and ".conv." not in key:
        return key.replace("decoder.conv_out.", "decoder.conv_out.conv.")
    return key


def _vae_model_to_file(key: str) -> str:
    return key.replace("decoder.conv_out.conv.", "decoder.conv_out.")


def load_vae(folder: str | Path, dtype: str | torch.dtype = "bf16",
             device: str | torch.device = "cpu") -> StepVideoVAE:
    folder = Path(folder)
    dtype = parse_dtype(dtype)
    cfg = VAEConfig()
    if (folder / "config.json").is_file():
        d = _read_json(folder / "config.json")
        names = {f.name for f in dataclasses.fields(VAEConfig)}
        cfg = VAEConfig(**{k: tuple(v) if isinstance(v, list) else v
                           for k, v in d.items() if k in names})
    if not (folder / VAE_FILE).is_file():
        raise UserError(f"{VAE_FILE} not found", path=folder,
                        hint="the Video-VAE v2 weights live in vae/vae_v2.safetensors")
    # Only the v2 file: a folder may also hold the unused v1 `vae.safetensors`.
    from safetensors import safe_open  # noqa: PLC0415

    files = [folder / VAE_FILE]
    with torch.device("meta"):
        model = StepVideoVAE(cfg)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = read_shapes(files, _vae_file_to_model)
    check_state_dict(expected, {k: v[0] for k, v in found.items()}, "VAE", folder)
    part = {}
    with safe_open(str(files[0]), framework="pt", device="cpu") as handle:
        for key in handle.keys():
            part[_vae_file_to_model(key)] = handle.get_tensor(key).to(device=device, dtype=dtype)
    model.load_state_dict(part, strict=True, assign=True)
    return model.eval().requires_grad_(False)


def save_vae(model: StepVideoVAE, folder: str | Path, dtype: str | torch.dtype | None = None,
             write_config: bool = True) -> None:
    from safetensors.torch import save_file  # noqa: PLC0415

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sd = {_vae_model_to_file(k): v.contiguous() for k, v in
          _cast_state(model, dtype and parse_dtype(dtype)).items()}
    save_file(sd, str(folder / VAE_FILE), metadata={"format": "pt"})
    if write_config:
        (folder / "config.json").write_text(json.dumps(dataclasses.asdict(model.config), indent=2))


# ------------------------------------------------------------------------------------------------
# Text encoders
# ------------------------------------------------------------------------------------------------


def load_step_llm(folder: str | Path, dtype: str | torch.dtype = "bf16",
                  device: str | torch.device = "cpu") -> tuple[StepLLM, Step1Tokenizer]:
    folder = Path(folder)
    dtype = parse_dtype(dtype)
    cfg = StepLLMConfig.from_hub_dict(_read_json(folder / "config.json"))
    tokenizer = Step1Tokenizer(folder / LLM_TOKENIZER, cfg.max_length)
    if tokenizer.vocab_size > cfg.padded_vocab_size:
        raise UserError(f"tokenizer has {tokenizer.vocab_size} pieces but the model only "
                        f"{cfg.padded_vocab_size} embeddings", path=folder / LLM_TOKENIZER)
    model = load_weights(lambda: StepLLM(cfg), folder, dtype, device, "step_llm")
    return model, tokenizer


def save_step_llm(model: StepLLM, folder: str | Path, max_shard_size: int | str = "10GB",
                  dtype: str | torch.dtype | None = None) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(model.config.to_hub_dict(), indent=2))
    save_weights(_cast_state(model, dtype and parse_dtype(dtype)), folder, LLM_WEIGHTS,
                 max_shard_size)


def load_clip(folder: str | Path, dtype: str | torch.dtype | None = None,
              device: str | torch.device = "cpu"):
    from .clip_encoder import HunyuanCLIP  # noqa: PLC0415 - imports transformers

    clip = HunyuanCLIP.from_folder(folder, None if dtype is None else parse_dtype(dtype))
    return clip.to(device).requires_grad_(False)


def save_clip(clip, folder: str | Path) -> None:
    clip.save(folder)


# ------------------------------------------------------------------------------------------------
# Whole model folder
# ------------------------------------------------------------------------------------------------


@dataclass
class PipelineComponents:
    config: StepVideoConfig
    dit: StepVideoModel | None
    vae: StepVideoVAE | None
    text_module: nn.Module | None  # the TextConditioner (Step-LLM + HunyuanCLIP)

    @property
    def encode_text(self):
        """`encode_text(prompts) -> (y, y_mask, clip)`."""
        return self.text_module


REQUIRED = ("transformer", "vae", "step_llm", "hunyuan_clip")


def check_model_dir(model_dir: str | Path, parts=REQUIRED) -> Path:
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise UserError("model folder not found", path=model_dir,
                        hint="download stepfun-ai/stepvideo-ti2v and pass its folder")
    missing = [p for p in parts if not (model_dir / p).is_dir()]
    if missing:
        raise UserError(
            f"not a Step-Video-TI2V model folder: missing {', '.join(f'{m}/' for m in missing)}",
            path=model_dir, hint="expected transformer/, vae/, step_llm/, hunyuan_clip/, scheduler/",
        )
    return model_dir


def load_model_dir(model_dir: str | Path, dtype: str | torch.dtype = "bf16",
                   device: str | torch.device = "cpu", text_device: str | torch.device = "cpu",
                   clip_dtype: str | torch.dtype | None = None,
                   components: tuple[str, ...] = ("dit", "vae", "text")) -> PipelineComponents:
    """Load the networks of a hub-layout folder. Officially CLIP runs in fp32 (clip_dtype None)
    and everything else in bf16; text outputs are cast to `dtype`."""
    from .text_conditioner import TextConditioner  # noqa: PLC0415

    dtype = parse_dtype(dtype)
    needed = {"dit": "transformer", "vae": "vae", "text": ("step_llm", "hunyuan_clip")}
    parts = []
    for c in components:
        parts += [needed[c]] if isinstance(needed[c], str) else list(needed[c])
    model_dir = check_model_dir(model_dir, tuple(parts))
    cfg = StepVideoConfig()
    dit = vae = text = None
    if "dit" in components:
        dit = load_dit(model_dir / "transformer", dtype, device)
        cfg.dit = dit.config
    if "vae" in components:
        vae = load_vae(model_dir / "vae", dtype, device)
        cfg.vae = vae.config
    if "text" in components:
        llm, tokenizer = load_step_llm(model_dir / "step_llm", dtype, text_device)
        clip = load_clip(model_dir / "hunyuan_clip", clip_dtype, text_device)
        text = TextConditioner(llm, tokenizer, clip, out_dtype=dtype)
        cfg.llm = llm.config
        bc = clip.bert.config
        cfg.clip = CLIPConfig(hidden_size=bc.hidden_size, num_hidden_layers=bc.num_hidden_layers,
                              num_attention_heads=bc.num_attention_heads,
                              intermediate_size=bc.intermediate_size, vocab_size=bc.vocab_size,
                              max_position_embeddings=bc.max_position_embeddings)
        if dit is not None and tuple(dit.config.caption_channels) != (
                llm.config.hidden_size, bc.hidden_size):
            raise UserError(
                f"transformer caption_channels {list(dit.config.caption_channels)} do not match "
                f"step_llm ({llm.config.hidden_size}) and hunyuan_clip ({bc.hidden_size}) widths",
                path=model_dir)
    if dit is not None and vae is not None and dit.config.in_channels != vae.config.z_channels:
        raise UserError(f"transformer in_channels {dit.config.in_channels} != VAE z_channels "
                        f"{vae.config.z_channels}", path=model_dir)
    return PipelineComponents(cfg, dit, vae, text)


load_pipeline_components = load_model_dir

"""Public testing API: a complete hub-layout Step-Video-TI2V folder with random weights.

For tests of code that reads or runs Step-Video-TI2V checkpoints (conversion, sharding, offload and
parallel set-ups, a pipeline of your own) without the released weights (tens of gigabytes):
`write_random_checkpoint(model_dir, preset="tiny")` writes the real formats (safetensors shards +
index, the VAE's conv_out naming, a trained SentencePiece model, a transformers BERT with its vocab)
filled with random weights of a preset, which `StepVideoTI2V(model_dir)` loads like the release.
stepeval's tests and benchmarks use it the same way.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import torch

from .checkpoint import save_dit, save_step_llm, save_vae
from .config import OFFICIAL_PRESETS, get_preset
from .dit import StepVideoModel
from .step_llm import LLM_TOKENIZER_NAME, StepLLM
from .text_conditioner import TI2V_NEG_MAGIC, TI2V_POS_MAGIC
from .vae import StepVideoVAE

CORPUS = [
    TI2V_POS_MAGIC, TI2V_NEG_MAGIC,
    "一只猫在草地上奔跑，阳光明媚。", "镜头缓慢推进，女孩转身微笑。", "海浪拍打着礁石，远处有一艘帆船。",
    "一个宇航员在月球上行走，地球在背景中升起。", "动漫风格的少女在樱花树下跳舞。",
    "城市夜景，车流穿梭，霓虹灯闪烁。", "小狗摇着尾巴追逐皮球。", "老人坐在长椅上看报纸。",
    "A cat runs across the grass in bright sunlight.", "The camera slowly pushes in on a smiling girl.",
    "Waves crash against the rocks while a sailboat drifts far away.",
    "An astronaut walks on the moon as the earth rises.", "wink rap home MODERN x",
    "a red ball moves left, the camera stays still.", "0123456789 ,.!?;:'\"()[]",
]


def train_sentencepiece(path: Path, vocab_size: int = 400, corpus: list[str] = CORPUS) -> Path:
    """Train a small SentencePiece model (unk 0, BOS 1, EOS 2 as in Step-1's tokenizer)."""
    import sentencepiece as spm  # noqa: PLC0415

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "corpus.txt"
        # Repeat so the trainer sees enough sentences; order fixed for determinism.
        text.write_text("\n".join(corpus * 4) + "\n", encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(text), model_prefix=str(Path(tmp) / "sp"), vocab_size=vocab_size,
            hard_vocab_limit=False, character_coverage=1.0, model_type="unigram",
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, minloglevel=2,
        )
        shutil.copy(Path(tmp) / "sp.model", path)
    return path


def _bert_vocab(corpus: list[str]) -> list[str]:
    # BERT splits CJK into single characters and punctuation into single symbols; single letters
    # and digits (plus their ## continuations) let WordPiece spell any other Latin word.
    pieces = {m for line in corpus for m in re.findall(
        r"[\u4e00-\u9fff]|[a-z0-9]+|[^\sa-z0-9\u4e00-\u9fff]", line.lower())}
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    pieces |= set(alnum) | {"##" + c for c in alnum}
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(pieces)


def write_clip(folder: Path, hidden: int, layers: int, heads: int, intermediate: int,
               max_positions: int, seed: int) -> None:
    from transformers import BertConfig, BertModel, BertTokenizer  # noqa: PLC0415

    vocab = _bert_vocab(CORPUS)
    tok_dir = folder / "tokenizer"
    tok_dir.mkdir(parents=True, exist_ok=True)
    (tok_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(tok_dir / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(str(tok_dir))
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=layers,
                     num_attention_heads=heads, intermediate_size=intermediate,
                     max_position_embeddings=max_positions)
    BertModel(cfg).eval().save_pretrained(str(folder / "clip_text_encoder"))


def write_random_checkpoint(model_dir: str | Path, preset: str = "tiny", seed: int = 0,
                            max_shard_size: int | str = "10GB",
                            dtype: str | torch.dtype | None = None) -> Path:
    """A complete hub-layout folder (transformer/, vae/, step_llm/, hunyuan_clip/, scheduler/,
    model_index.json) with random weights of `preset`. Returns model_dir."""
    cfg = get_preset(preset)
    if preset in OFFICIAL_PRESETS:
        raise ValueError("refusing to materialise the 30B official preset with random weights")
    root = Path(model_dir)
    root.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(seed)
    save_dit(StepVideoModel(cfg.dit), root / "transformer", max_shard_size, dtype)
    torch.manual_seed(seed + 1)
    save_vae(StepVideoVAE(cfg.vae), root / "vae", dtype)
    torch.manual_seed(seed + 2)
    llm = StepLLM(cfg.llm)
    save_step_llm(llm, root / "step_llm", max_shard_size, dtype)
    train_sentencepiece(root / "step_llm" / LLM_TOKENIZER_NAME,
                        vocab_size=min(400, cfg.llm.padded_vocab_size))
    c = cfg.clip
    write_clip(root / "hunyuan_clip", c.hidden_size, c.num_hidden_layers, c.num_attention_heads,
               c.intermediate_size, c.max_position_embeddings, seed + 3)

    (root / "scheduler").mkdir(exist_ok=True)
    (root / "scheduler" / "scheduler_config.json").write_text(json.dumps({
        "_class_name": "FlowMatchDiscreteScheduler", "num_train_timesteps": 1,
        "reverse": False, "solver": "euler", "shift": 13.0,
    }, indent=2))
    (root / "model_index.json").write_text(json.dumps({
        "_class_name": "StepVideoPipeline",
        "scheduler": ["stepvideo", "FlowMatchDiscreteScheduler"],
        "transformer": ["stepvideo", "StepVideoModel"],
        "stepeval_preset": preset, "stepeval_seed": seed,
    }, indent=2))
    return root


__all__ = ["CORPUS", "train_sentencepiece", "write_clip", "write_random_checkpoint"]

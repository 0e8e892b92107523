"""`stepeval train-tiny`: reproduce the tiny Step-Video-TI2V from scratch (registered through the
`stepeval.commands` entry point, so stepeval never imports the generators package)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

console = Console(stderr=True)

app = typer.Typer(
    help="Train the tiny Step-Video-TI2V on the synthetic world (VAE, then DiT), from scratch, on CPU.",
    pretty_exceptions_enable=False,
    context_settings={"allow_interspersed_args": True},
    subcommand_metavar="",
)


def _check_out(out: Path) -> None:
    import tempfile

    from stepeval.errors import UserError

    if out.exists() and not out.is_dir():
        raise UserError("exists and is a file; the checkpoint is a folder", path=out, hint="pass --out a new folder (or a previous checkpoint's)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()
    except OSError as exc:
        raise UserError(f"cannot write the checkpoint folder ({exc.strerror})", path=out, hint="pass --out a folder you can write to") from exc


@app.callback(invoke_without_command=True)
def train_tiny(
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint folder to write (hub layout).")] = Path("weights/stepvideo-ti2v-tiny"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random choice of the training.")] = 0,
    threads: Annotated[int, typer.Option("--threads", help="torch CPU threads (1 is faster on a machine shared with other jobs).")] = 2,
    vae_steps: Annotated[Optional[int], typer.Option("--vae-steps", help="VAE optimiser steps (default: the recipe's).")] = None,
    dit_steps: Annotated[Optional[int], typer.Option("--dit-steps", help="DiT optimiser steps (default: the recipe's).")] = None,
    train_clips: Annotated[Optional[int], typer.Option("--train-clips", help="Training clips encoded for the DiT (default: the recipe's).")] = None,
    eval_every: Annotated[Optional[int], typer.Option("--eval-every", help="Sample and score held-out items every N DiT steps.")] = None,
    vae_subject_weight: Annotated[Optional[float], typer.Option("--vae-subject-weight", help="Weight of the VAE's MSE over the subject's pixels alone (default: the recipe's).")] = None,
    variant: Annotated[str, typer.Option("--variant", help="How the DiT takes the first image: concat (the shipped model), frame_replace, both (the last two also train for joint guidance).")] = "concat",
    vae_from: Annotated[Optional[Path], typer.Option("--vae-from", help="Reuse this tiny checkpoint's VAE (skips the VAE stages), e.g. generators/stepvideo/weights/tiny.")] = None,
    dit_from: Annotated[Optional[Path], typer.Option("--dit-from", help="Reuse this tiny checkpoint's DiT and text encoder (skips the DiT stage; needs --vae-from).")] = None,
    vae_finetune_steps: Annotated[Optional[int], typer.Option("--vae-finetune-steps", help="Decoder fine-tune steps (default: the recipe's); with --vae-from, fine-tunes the reused decoder (its encoder stays frozen).")] = None,
) -> None:
    """Write a checkpoint folder loadable as `stepvideo-ti2v-tiny --set model_dir=OUT`."""
    from generators.stepvideo.tiny.train import TinyRecipe, train_tiny as run_training, variant_recipe

    from stepeval.errors import UserError

    if dit_from is not None and vae_from is None:
        raise UserError("--dit-from needs --vae-from: a DiT is only valid on the VAE it was trained on",
                        hint=f"add --vae-from {dit_from}")
    _check_out(out)  # an hour of training must not end at the first write
    recipe = variant_recipe(variant, TinyRecipe(seed=seed, threads=threads))
    overrides = {"vae_steps": vae_steps, "dit_steps": dit_steps, "train_clips": train_clips, "eval_every": eval_every,
                 "vae_subject_weight": vae_subject_weight, "vae_finetune_steps": vae_finetune_steps}
    recipe = dataclasses.replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
    report = run_training(out, recipe, log=lambda m: console.print(f"{time.strftime('%H:%M:%S')} {m}", markup=False, highlight=False),
                          vae_from=vae_from, dit_from=dit_from, finetune_reused_decoder=vae_finetune_steps is not None)
    final = report["final_eval"]
    typer.echo(f"checkpoint: {out} (on the smoke set: first-frame PSNR {final['first_frame_psnr']} dB, motion "
               f"Spearman {final['motion_spearman']}, direction accuracy {final['direction_accuracy']}; guidance "
               f"scale {final['cfg_scale']}, chosen on the validation scenes)")

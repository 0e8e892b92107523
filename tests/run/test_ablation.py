"""The design ablation: variants trained with `train_tiny` (frame replacement, concat + frame
replacement, on the reference's VAE), run through `stepeval run` with the shipped ablation config at
CI size, and verdicts that follow from the intervals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import given, strategies as st

from generators.stepvideo.tiny.generator import (
    ABLATION_CONCAT_DIR,
    StepVideoTI2VTiny,
    StepVideoTI2VTinyBoth,
    StepVideoTI2VTinyFrameReplace,
)
from generators.stepvideo.tiny.train import TinyRecipe, train_tiny, variant_recipe
from stepeval.ablation import Comparison
from stepeval.cli.main import main
from stepeval.errors import UserError
from stepeval.runs import Run

ROOT = Path(__file__).resolve().parents[2]
MICRO = dict(threads=1, vae_steps=2, vae_batch=2, vae_clip_batch=1, vae_clip_every=2, train_clips=3, dit_steps=2,
             dit_batch=2, eval_every=1000, steps=2, final_eval_items=1, validation_items=1, cfg_candidates=(),
             cfg_scale=2.0, vae_finetune_steps=1)


@pytest.fixture(scope="module")
def micro_models(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("variants")
    out = {"concat": tmp / "concat"}
    train_tiny(out["concat"], TinyRecipe(**MICRO), log=lambda m: None)
    for variant in ("frame_replace", "both"):
        out[variant] = tmp / variant
        train_tiny(out[variant], variant_recipe(variant, TinyRecipe(**MICRO)), log=lambda m: None, vae_from=out["concat"])
    return out


def test_variants_reuse_the_reference_vae_and_record_their_design(micro_models):
    for variant in ("frame_replace", "both"):
        folder = micro_models[variant]
        cfg = json.loads((folder / "transformer" / "config.json").read_text())
        assert cfg["image_conditioning"] == variant
        report = json.loads((folder / "training.json").read_text())
        assert report["vae"]["from"] == str(micro_models["concat"]) and report["vae_decoder_finetune"] == {}
        assert report["recipe"]["image_dropout"] == 0.1
        assert (folder / "vae" / "vae_v2.safetensors").read_bytes() == (micro_models["concat"] / "vae" / "vae_v2.safetensors").read_bytes()
    shipped = json.loads((micro_models["concat"] / "transformer" / "config.json").read_text())
    assert shipped["image_conditioning"] == "concat"


@pytest.mark.parametrize("cls,mode", [(StepVideoTI2VTinyFrameReplace, "frame_replace"), (StepVideoTI2VTinyBoth, "both")])
def test_shipped_variants_share_one_vae_and_differ_in_the_dit(cls, mode):
    from safetensors.torch import load_file

    folder = cls.default_dir
    assert folder.is_dir(), f"the trained variant is committed under {folder}"
    assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 16 * 2**20
    assert json.loads((folder / "transformer" / "config.json").read_text())["image_conditioning"] == mode
    vae_file = Path("vae") / "vae_v2.safetensors"
    assert (folder / vae_file).read_bytes() == (ABLATION_CONCAT_DIR / vae_file).read_bytes()
    # The shipped model's latents are theirs too (same encoder); its decoder was fine-tuned since.
    shipped, theirs = load_file(str(StepVideoTI2VTiny.default_dir / vae_file)), load_file(str(folder / vae_file))
    encoder = [k for k in theirs if k.startswith("encoder.")]
    assert encoder and all(torch.equal(shipped[k], theirs[k]) for k in encoder)
    recipe = json.loads((folder / "training.json").read_text())["recipe"]
    reference = json.loads((ABLATION_CONCAT_DIR / "training.json").read_text())["recipe"]
    differs = {k for k in reference if recipe.get(k) != reference[k]}
    # Same data, seed and step budget; only the design (and the guidance scale chosen on validation).
    assert differs <= {"image_conditioning", "image_dropout", "cfg_scale", "threads"}


def test_an_unknown_variant_is_refused():
    with pytest.raises(UserError, match="unknown variant"):
        variant_recipe("prefix")


def test_the_ablation_config_runs_end_to_end_at_ci_size(micro_models, tmp_path):
    cfg = yaml.safe_load((ROOT / "configs" / "ablation-stiv.yaml").read_text(encoding="utf-8"))
    cfg["benchmark"]["synthetic"] = {"n": 2, "seed": 20250320, "also": [{"n": 1, "seed": 777001, "prefix": "h"}]}
    dirs = {"stepvideo-ti2v-tiny": "concat", "stepvideo-ti2v-tiny-frame-replace": "frame_replace",
            "stepvideo-ti2v-tiny-both": "both"}
    for model in cfg["models"]:
        model["params"] = {**model.get("params", {}), "model_dir": str(micro_models[dirs[model["name"]]])}
    cfg["report"] = {"bootstrap": 20, "formats": ["json"], "focal": cfg["report"]["focal"]}
    cfg["ablation"]["bootstrap"] = 200
    path = tmp_path / "ablation.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    run_dir = tmp_path / "run"
    assert main(["run", str(path), "--run-dir", str(run_dir), "--no-progress"]) == 0

    gens = Run.open(run_dir).generations.latest(("model_tag", "item_id", "sample"))
    assert len(gens) == 6 * 3 * 3 and set(gens["status"]) == {"ok"}
    assert set(gens["item_id"]) == {"s000", "s001", "h000"}
    result = json.loads((run_dir / "ablation" / "ablation.json").read_text(encoding="utf-8"))
    assert result["missing"] == []
    assert len(result["answers"]) == len(cfg["ablation"]["questions"])
    metrics = {c["metric"] for c in result["table"]}
    assert {"synthetic/first_frame_psnr", "synthetic/subject_colour_kept", "motion_spearman", "motion_score"} <= metrics
    for a in result["answers"]:
        assert a["items"] == 3
        # The verdict is the interval's, nothing else.
        expected = Comparison(**{k: a[k] for k in ("variant", "reference", "metric", "variant_value", "reference_value",
                                                   "difference", "low", "high", "items")}).verdict(a["higher_is_better"])
        assert a["verdict"] == expected
    md = (run_dir / "ablation" / "ablation.md").read_text(encoding="utf-8")
    assert "Frame replacement keeps the first frame better" in md and "concat-text" in md


@given(st.floats(-5, 5), st.floats(0, 5), st.booleans(), st.integers(2, 300))
def test_a_verdict_says_yes_only_when_the_interval_is_on_the_better_side(low, width, higher, n):
    c = Comparison("v", "r", "m", 0.0, 0.0, low + width / 2, low, low + width, n)
    verdict = c.verdict(higher)
    better = low > 0 if higher else low + width < 0
    worse = low + width < 0 if higher else low > 0
    assert (verdict == "yes") == better
    assert (verdict == "no") == worse
    same = low == 0 and width == 0
    assert verdict.startswith("no difference") == same
    assert verdict.startswith("cannot tell") == (not better and not worse and not same)
    assert Comparison("v", "r", "m", 0, 0, math.nan, math.nan, math.nan, 0).verdict(higher).startswith("cannot tell")

"""Step-Video-T2V in the in-repo model: a tiny random-weight checkpoint in the official hub layout
makes videos from prompts alone, through the generator, `stepeval generate` and `parallel_run`
(sequence and CFG parallel under real torchrun equal one process within 1e-5), with the T2V
magic prompts; a checkpoint of the other model, or an image given to a T2V model, is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from generators.stepvideo.generator import StepVideoT2V, StepVideoT2VTurbo, StepVideoTI2V, generator_for
from generators.stepvideo.pipeline import TI2VSettings
from generators.stepvideo.text_conditioner import T2V_NEG_MAGIC, T2V_POS_MAGIC, TI2V_POS_MAGIC
from stepeval.cli.main import main as cli
from stepeval.errors import UserError
from stepeval.generation import registry
from stepeval.generation.protocol import GenerationRequest
from stepeval.video import read_video

REPO = Path(__file__).resolve().parents[2]
PROMPT = "一只橘猫在窗台上伸懒腰"
SEED = 11
TINY = dict(frames=17, height=48, width=80, steps=3)


@pytest.fixture(scope="module")
def t2v_model_dir(tmp_path_factory) -> Path:
    from generators.stepvideo.testing import write_random_checkpoint

    return write_random_checkpoint(tmp_path_factory.mktemp("stepvideo-t2v") / "tiny", preset="tiny-t2v", seed=0)


@pytest.fixture(scope="module")
def t2v_generator(t2v_model_dir):
    gen = StepVideoT2V(t2v_model_dir, dtype="fp32", offload="none", steps=TINY["steps"],
                       sizes=((TINY["height"], TINY["width"]),), frame_counts=(TINY["frames"],), verbose=False)
    gen.load("cpu")
    return gen


def _request(**kw) -> GenerationRequest:
    return GenerationRequest("r", PROMPT, None, SEED, num_frames=TINY["frames"], height=TINY["height"],
                             width=TINY["width"], **kw)


def test_the_t2v_models_declare_text_only_and_official_settings():
    for name in ("stepvideo-t2v", "stepvideo-t2v-turbo"):
        caps = registry.capabilities(name)
        assert caps.tasks == {"t2v"} and caps.frame_counts[0] == 204
        assert "motion_score" not in caps.request_params and "cfg_scale" in caps.request_params
    official = StepVideoT2V("somewhere", verbose=False).defaults
    assert (official.steps, official.cfg_scale, official.time_shift) == (50, 9.0, 13.0)
    turbo = StepVideoT2VTurbo("somewhere", verbose=False).defaults
    assert (turbo.steps, turbo.cfg_scale, turbo.time_shift) == (15, 5.0, 17.0)
    with pytest.raises(UserError, match="model_dir"):
        StepVideoT2V()


def test_t2v_magic_prompts_are_the_official_t2v_ones():
    cond, uncond = TI2VSettings().prompts("一只猫", "t2v")
    assert cond == "一只猫" + T2V_POS_MAGIC and uncond == T2V_NEG_MAGIC
    assert TI2VSettings().prompts("一只猫")[0] == "一只猫" + TI2V_POS_MAGIC  # TI2V unchanged


def test_a_text_only_video_from_a_random_weight_checkpoint(t2v_model_dir, t2v_generator):
    assert generator_for(t2v_model_dir) is StepVideoT2V
    result = t2v_generator.generate(_request())
    frames = np.stack(list(result.frames))
    assert frames.shape == (TINY["frames"], TINY["height"], TINY["width"], 3)
    assert frames.std() > 1  # decoded from a real sample, not a constant
    settings = result.info["settings"]
    assert "motion_score" not in settings and "guidance" not in settings  # never read by a T2V model
    assert "vae_encode" not in result.info["timings"]  # no first image to encode
    # the same seed gives the same latents; another seed does not
    first = t2v_generator.pipeline.last_output.latents.clone()
    t2v_generator.generate(_request(), decode=False)
    assert torch.equal(first, t2v_generator.pipeline.last_output.latents)
    t2v_generator.generate(GenerationRequest("r", PROMPT, None, SEED + 1, num_frames=17, height=48, width=80), decode=False)
    assert not torch.equal(first, t2v_generator.pipeline.last_output.latents)


def test_images_and_checkpoints_of_the_other_model_are_refused(t2v_model_dir, t2v_generator, tmp_path):
    from PIL import Image

    image = tmp_path / "first.png"
    Image.new("RGB", (80, 48), (200, 30, 30)).save(image)
    with pytest.raises(UserError, match="text-to-video.*takes no first image"):
        t2v_generator.pipeline(PROMPT, image, TI2VSettings(frames=17, height=48, width=80, steps=2))
    with pytest.raises(UserError, match="cannot change"):
        t2v_generator.generate(_request(params={"motion_score": 10.0}))
    with pytest.raises(UserError, match="holds a Step-Video-T2V one") as err:
        StepVideoTI2V(t2v_model_dir, dtype="fp32", offload="none", verbose=False).load("cpu")
    assert "stepvideo-t2v" in err.value.hint


def test_stepeval_generate_runs_the_t2v_model_on_text_only_items(t2v_model_dir, tmp_path, capsys):
    from tests.t2v.conftest import T2V_EVAL

    if not (T2V_EVAL / "Step-Video-T2V-Eval").is_file():
        pytest.skip("shared Step-Video-T2V-Eval copy not found")
    run = tmp_path / "run"
    config = tmp_path / "t2v.yaml"
    config.write_text(yaml.safe_dump({
        "name": "t2v", "benchmark": str(T2V_EVAL), "subset": {"ids": ["001", "050"]}, "device": "cpu",
        "models": [{"name": "stepvideo-t2v", "tag": "stepvideo-t2v-random", "params": {
            "model_dir": str(t2v_model_dir), "dtype": "fp32", "steps": 2, "sizes": [[48, 80]],
            "frame_counts": [17], "verbose": False}}]}))
    args = ["generate", "--config", str(config), "--run-dir", str(run)]
    assert cli(args) == 0, capsys.readouterr().err[-2000:]
    rows = pd.read_parquet(run / "generations.parquet")
    assert set(rows["status"]) == {"ok"} and set(rows["item_id"]) == {"001", "050"}
    assert set(rows["model_tag"]) == {"stepvideo-t2v-random"}
    assert read_video(run / "videos" / "stepvideo-t2v-random" / "050.mp4").shape == (17, 48, 80, 3)
    # the TI2V model on the same prompts is refused before anything loads
    assert cli(["generate", str(T2V_EVAL), "--model", "stepvideo-ti2v", "--ids", "001",
                "--run-dir", str(tmp_path / "other")]) == 2
    assert "stepvideo-ti2v cannot run" in " ".join(capsys.readouterr().err.split())


def _torchrun(tmp_path, model_dir, nproc, sp, cfg, numerics) -> torch.Tensor:
    out = tmp_path / f"latents-sp{sp}-cfg{cfg}-{numerics}.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "generators.stepvideo.parallel_run", "--model-dir", str(model_dir), "--prompt", PROMPT,
           "--frames", str(TINY["frames"]), "--height", str(TINY["height"]), "--width", str(TINY["width"]),
           "--steps", str(TINY["steps"]), "--seed", str(SEED), "--dtype", "fp32", "--offload", "none",
           "--device", "cpu", "--sp-degree", str(sp), "--cfg-degree", str(cfg), "--numerics", numerics,
           "--latents-out", str(out), "--latents-only"]
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    proc = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(out)


@pytest.mark.parametrize("sp,cfg,numerics", [(2, 1, "stepeval"), (1, 2, "stepeval"), (2, 1, "official")],
                         ids=["sp2", "cfg2", "sp2-official-numerics"])
def test_sequence_and_cfg_parallel_equal_one_process(tmp_path, t2v_model_dir, t2v_generator, sp, cfg, numerics):
    t2v_generator.generate(_request(params={"numerics": numerics}), decode=False)
    ref = t2v_generator.pipeline.last_output.latents
    got = _torchrun(tmp_path, t2v_model_dir, 2, sp, cfg, numerics)
    assert got.shape == ref.shape and ref.abs().mean() > 0.1
    assert (got - ref).abs().max().item() < 1e-5


def test_parallel_run_refuses_an_image_for_a_t2v_checkpoint(t2v_model_dir, tmp_path):
    from generators.stepvideo.parallel_run import main

    with pytest.raises(UserError, match="takes no first image"):
        main(["--model-dir", str(t2v_model_dir), "--prompt", PROMPT, "--image", str(tmp_path / "x.png")])

"""README tour commands that no room's tests ran: each run as the tour shows it, offline where the
real thing needs the network (tests/test_readme_tour.py checks that every tour command is run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stepeval.benchmark import load_benchmark
from stepeval.cli.main import main
from stepeval.runs import Run

REPO = Path(__file__).resolve().parents[1]


# -- data ------------------------------------------------------------------------------------------------


def test_data_info_counts_a_partial_copy(step_eval_root, capsys):
    items = load_benchmark(step_eval_root, "step-video-ti2v-eval", verify=False).items
    present = sum(it.has_image for it in items)
    assert main(["data", "info", str(step_eval_root)]) == 0
    out = capsys.readouterr().out
    status = "complete" if present == len(items) else "partial"
    assert f"{len(items)} prompts, {present} images present, {len(items) - present} missing: {status}" in " ".join(out.split())
    assert main(["data", "info", str(step_eval_root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["prompts"] == 298 and info["images_present"] == present and info["status"] == status
    assert sum(info["by_domain_aspect"].values()) == 298


def test_data_ids_writes_a_seeded_stratified_sample_that_ids_file_reads_back(step_eval_root, tmp_path, capsys):
    """`stepeval data ids PATH --sample 24 --seed 0 > ci-ids.txt`, then `--ids @ci-ids.txt`."""
    assert main(["data", "ids", str(step_eval_root), "--sample", "24", "--seed", "0"]) == 0
    ids_file = tmp_path / "ci-ids.txt"
    ids_file.write_text(capsys.readouterr().out, encoding="utf-8")
    ids = ids_file.read_text(encoding="utf-8").split()
    assert len(ids) == len(set(ids)) == 24
    strata = {tuple(i.split("/")[:2]) for i in ids}
    assert strata == {(d, a) for d in ("real", "anime") for a in ("H", "S", "V")}  # every domain x aspect drawn
    assert main(["data", "ids", str(step_eval_root), "--sample", "24", "--seed", "0"]) == 0
    assert capsys.readouterr().out.split() == ids  # the same seed, the same sample
    assert main(["data", "ids", str(step_eval_root), "--sample", "24", "--seed", "1"]) == 0
    assert capsys.readouterr().out.split() != ids
    assert main(["data", "validate", str(step_eval_root), "--ids", f"@{ids_file}", "--json"]) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    has_image = {it.id: it.has_image for it in load_benchmark(step_eval_root, "step-video-ti2v-eval", verify=False).items}
    assert report["expected"] == 24 and report["images_present"] == sum(has_image[i] for i in ids)
    assert sorted(p["item_id"] for p in report["problem_list"]) == sorted(i for i in ids if not has_image[i])


def test_data_fetch_verifies_a_local_copy_into_dest(step_eval_root, tmp_path, capsys):
    """`stepeval data fetch DEST --source file:///path/to/a/copy`: byte-identical, verified files."""
    present = [it for it in load_benchmark(step_eval_root, "step-video-ti2v-eval", verify=False).items if it.has_image][:2]
    dest = tmp_path / "copy"
    ids = ",".join(it.id for it in present)
    assert main(["data", "fetch", str(dest), "--source", step_eval_root.as_uri(), "--ids", ids]) == 0
    assert "downloaded 4, resumed 0, already verified 0, failed 0" in capsys.readouterr().out
    for it in present:
        rel = Path(it.image_path).relative_to(step_eval_root)
        assert (dest / rel).read_bytes() == (step_eval_root / rel).read_bytes()
    assert main(["data", "fetch", str(dest), "--source", step_eval_root.as_uri(), "--ids", ids]) == 0  # resumable: nothing to do
    assert "downloaded 0, resumed 0, already verified 4" in capsys.readouterr().out
    assert main(["data", "validate", str(dest), "--present-only", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images_verified"] == 2 and report["problems"] == {}


# -- generation across ranks -----------------------------------------------------------------------------


def test_torchrun_generate_with_a_config_shards_items_and_the_run_yaml_resumes_it(step_eval_root, tmp_path):
    """`torchrun --nproc_per_node N -m stepeval.cli.main generate --config CONFIG.yaml`, then the
    run's own run.yaml as the config: every video made once, by both ranks, and nothing redone."""
    cfg = {"name": "sharded", "benchmark": str(step_eval_root), "subset": {"present_only": True, "sample": 4},
           "models": [{"name": m, "params": {"height": 48, "width": 64, "num_frames": 6, "fps": 8}} for m in ("static", "camera")],
           "device": "cpu", "vbench_view": False, "run_dir": str(tmp_path / "runs" / "sharded")}
    config = tmp_path / "sharded.yaml"
    config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "stepeval.cli.main",
                          "generate", "--config", str(config)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    run = Run.open(tmp_path / "runs" / "sharded")
    rows = run.generations.read()
    assert len(rows) == 8 and set(rows["status"]) == {"ok"} and sorted(rows["rank"].unique()) == [0, 1]
    assert len(run.record.items) == 4 and run.record.schema_version == 2
    assert main(["generate", "--config", str(run.root / "run.yaml")]) == 0
    again = json.loads((run.root / "summary.json").read_text(encoding="utf-8"))["generation"]["this_invocation"]
    assert again == {"ok": 0, "failed": 0, "refused": 0, "already_done": 8}


# -- vbench (offline forms) ---------------------------------------------------------------------------------


def test_vbench_setup_keeps_a_working_environment(capsys):
    """`stepeval vbench setup` where the environment exists (CI creates it): kept, not reinstalled."""
    from stepeval.errors import UserError
    from stepeval.metrics.vbench_env import load_env

    try:
        env = load_env(verify=False)
    except UserError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: VBench environment not available ({exc})")
        pytest.skip(f"VBench environment not available ({exc}); `stepeval vbench setup` needs the network to create it")
    assert main(["vbench", "setup", "--path", str(env.path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"VBench environment already set up at {env.path}" in out and f"ready: {env.path}" in out


def test_vbench_setup_with_a_missing_interpreter_is_one_clear_error(tmp_path, capsys):
    target = tmp_path / "vbench-env"
    assert main(["vbench", "setup", "--path", str(target), "--python", str(tmp_path / "no-such-python")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "cannot run the interpreter" in err and "no-such-python" in err and "--python" in err
    assert "Traceback" not in err


def test_vbench_prefetch_dry_run_lists_downloads_into_the_given_folders(tmp_path, capsys):
    """`stepeval vbench prefetch` offline: --dry-run lists each file and where it would go, writes nothing."""
    cache, thome = tmp_path / "vbench-cache", tmp_path / "torch-home"
    assert main(["vbench", "prefetch", "--dry-run", "--dims", "ci", "--cache-dir", str(cache), "--torch-home", str(thome)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("would fetch")]
    assert lines and all("https://" in line for line in lines)
    assert any(str(cache) in line for line in lines) and any(str(thome / "hub") in line for line in lines)
    assert not cache.exists() and not thome.exists()


def test_vbench_prefetch_takes_the_text_to_video_dimensions(tmp_path, capsys):
    """The T2V names and sets reach the weight table: the semantic dimensions' backbones are listed,
    a misspelt name is one error naming both sets."""
    cache, thome = tmp_path / "vbench-cache", tmp_path / "torch-home"
    assert main(["vbench", "prefetch", "--dry-run", "--dims", "t2v", "--cache-dir", str(cache), "--torch-home", str(thome)]) == 0
    out = capsys.readouterr().out
    for folder in ("grit_model", "umt_model", "caption_model", "ViCLIP"):  # object_class..., human_action, scene, overall_consistency
        assert f"{cache}/{folder}/" in out.replace("\n", "")
    assert main(["vbench", "prefetch", "--dry-run", "--dims", "color", "--cache-dir", str(cache), "--torch-home", str(thome)]) == 0
    assert "grit_model" in capsys.readouterr().out and not cache.exists()
    assert main(["vbench", "prefetch", "--dry-run", "--dims", "colour"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "unknown VBench dimension 'colour'" in err and "t2v-custom" in err and "i2v_subject" in err


# -- train-tiny (its wiring; the training itself is tests/run/test_tiny_model.py) ---------------------------


def test_train_tiny_passes_its_options_to_the_recipe(tmp_path, monkeypatch, capsys):
    """`stepeval train-tiny` takes an hour; here its command line reaches the training function intact."""
    import generators.stepvideo.tiny.train as train

    seen = {}

    def fake_train(out, recipe, log, vae_from=None, dit_from=None, finetune_reused_decoder=False):
        seen.update(out=Path(out), recipe=recipe, vae_from=vae_from, dit_from=dit_from, refine=finetune_reused_decoder)
        log("started")
        return {"final_eval": {"first_frame_psnr": 30.0, "motion_spearman": 0.9, "direction_accuracy": 1.0, "cfg_scale": 1.5}}

    monkeypatch.setattr(train, "train_tiny", fake_train)
    assert main(["train-tiny", "--help"]) == 0
    assert "--vae-steps" in capsys.readouterr().out
    out = tmp_path / "ckpt"
    assert main(["train-tiny", "--out", str(out), "--seed", "3", "--threads", "1", "--vae-steps", "5", "--dit-steps", "7",
                 "--train-clips", "9", "--eval-every", "2"]) == 0
    r = seen["recipe"]
    assert seen["out"] == out and (r.seed, r.threads, r.vae_steps, r.dit_steps, r.train_clips, r.eval_every) == (3, 1, 5, 7, 9, 2)
    assert r.vae_batch == train.TinyRecipe().vae_batch  # what was not given keeps the recipe's value
    assert f"checkpoint: {out}" in capsys.readouterr().out
    assert main(["train-tiny"]) == 0 and seen["out"] == Path("weights/stepvideo-ti2v-tiny")
    assert seen["recipe"] == train.TinyRecipe() and seen["vae_from"] is None
    shipped = tmp_path / "shipped"
    assert main(["train-tiny", "--variant", "frame_replace", "--vae-from", str(shipped), "--out", str(out)]) == 0
    assert seen["vae_from"] == shipped and seen["recipe"] == train.variant_recipe("frame_replace")
    assert seen["recipe"].image_conditioning == "frame_replace" and seen["recipe"].image_dropout > 0
    assert main(["train-tiny", "--variant", "prefix", "--out", str(out)]) == 2  # a clear refusal, nothing trained
    assert seen["dit_from"] is None and seen["refine"] is False
    assert main(["train-tiny", "--vae-from", str(shipped), "--dit-from", str(shipped), "--vae-finetune-steps", "4",
                 "--out", str(out)]) == 0
    assert (seen["vae_from"], seen["dit_from"], seen["refine"], seen["recipe"].vae_finetune_steps) == (shipped, shipped, True, 4)
    seen.clear()
    assert main(["train-tiny", "--dit-from", str(shipped), "--out", str(out)]) == 2 and not seen  # a DiT needs its VAE
    assert "--vae-from" in capsys.readouterr().err

"""The batch runner: table contract, resume, failure isolation, refusals, samples, skipped items,
placeholders, the VBench view, and the CLI's errors."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
from rich.console import Console

from stepeval.benchmark import Subset
from stepeval.errors import UserError
from stepeval.generation import Refused, derive_seed, registry
from stepeval.generation.memory import reset_rss_peak
from stepeval.generation.protocol import Capabilities
from stepeval.generation.runner import GenerateConfig, generate_run
from stepeval.generation.tags import ModelSpec, expand_sweeps
from stepeval.runs import Run
from stepeval.video import probe, read_video
from tests.generation.helpers import SMALL, make_folder_benchmark, stepeval

CONTRACT_COLUMNS = [
    "model_tag", "item_id", "sample", "seed", "generator", "parameters", "fps", "frames", "width", "height", "seconds",
    "peak_memory_bytes", "status", "error", "traceback", "video_path", "created_at", "host", "rank",
]  # fmt: skip
SIZE = {"height": 48, "width": 64, "num_frames": 6}


class Flaky:
    """Fails on item01 and refuses item02: the rest of the batch must not notice."""

    name = "flaky"
    capabilities = Capabilities(fps=8.0)

    def __init__(self, **_):
        pass

    def load(self, device):
        pass

    def generate(self, request):
        from generators.baselines import StaticBaseline

        if request.item_id == "item01":
            raise RuntimeError("boom on item01")
        if request.item_id == "item02":
            raise Refused("policy says no")
        return StaticBaseline(**SIZE).generate(request)


@pytest.fixture
def flaky():
    registry.register("flaky-test", Flaky)
    yield
    registry._registered.pop("flaky-test")


def _run(bench, run_dir, models, **kw) -> dict:
    cfg = GenerateConfig(benchmark=bench, models=models, run_dir=run_dir, **kw)
    return generate_run(cfg, console=Console(file=open(os.devnull, "w")), show_progress=False)


def test_generations_table_follows_the_contract_and_resume_makes_nothing(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 3)
    run_dir = tmp_path / "run"
    models = [ModelSpec("static", SIZE), ModelSpec("noise", SIZE)]
    summary = _run(bench, run_dir, models, seed=7, num_samples=2)
    df = Run.open(run_dir).generations.read()
    assert list(df.columns) == CONTRACT_COLUMNS
    assert len(df) == 12 and set(df["status"]) == {"ok"}
    r = df.iloc[0]
    assert r["seed"] == derive_seed(7, r["item_id"], int(r["sample"]))
    assert json.loads(r["parameters"])["height"] == 48 and r["generator"] in ("static", "noise")
    assert (df["frames"] == 6).all() and (df["width"] == 64).all() and (df["height"] == 48).all() and (df["fps"] == 25).all()
    assert (df["seconds"] > 0).all()
    # Per-video peaks where the platform can measure one (Linux: clear_refs), else none at all.
    assert (df["peak_memory_bytes"] > 0).all() if reset_rss_peak() else df["peak_memory_bytes"].isna().all()
    for row in df.itertuples():
        path = run_dir / row.video_path
        assert path.name == (f"{row.item_id}.mp4" if row.sample == 0 else f"{row.item_id}-{row.sample}.mp4")
        info = probe(path)
        assert (info.frames, info.width, info.height) == (6, 64, 48)
    assert summary["models"]["static@height=48,num_frames=6,width=64"] == {**summary["models"]["static@height=48,num_frames=6,width=64"], "ok": 6, "failed": 0, "missing": 0}
    # Same seed per (item, sample) across models; different samples differ.
    noise = df[df["generator"] == "noise"]
    a = read_video(run_dir / noise[(noise.item_id == "item00") & (noise["sample"] == 0)].video_path.iloc[0])
    b = read_video(run_dir / noise[(noise.item_id == "item00") & (noise["sample"] == 1)].video_path.iloc[0])
    assert not (a[-1] == b[-1]).all()
    # Resume: nothing to do, nothing appended.
    again = _run(bench, run_dir, models, seed=7, num_samples=2)
    assert again["this_invocation"] == {"ok": 0, "failed": 0, "refused": 0, "already_done": 12}
    assert len(Run.open(run_dir).generations.read()) == 12
    # A deleted video is missing again, and only it is made.
    (run_dir / df.iloc[3]["video_path"]).unlink()
    again = _run(bench, run_dir, models, seed=7, num_samples=2)
    assert again["this_invocation"]["ok"] == 1


def test_a_failing_item_is_recorded_and_the_run_goes_on(tmp_path, flaky):
    bench = make_folder_benchmark(tmp_path / "bench", 4)
    run_dir = tmp_path / "run"
    summary = _run(bench, run_dir, [ModelSpec("flaky-test")])
    df = Run.open(run_dir).generations.latest(["model_tag", "item_id", "sample"]).set_index("item_id")
    assert df.loc["item00", "status"] == "ok" and df.loc["item03", "status"] == "ok"
    assert df.loc["item01", "status"] == "failed" and "boom on item01" in df.loc["item01", "error"]
    assert "RuntimeError" in df.loc["item01", "traceback"] and "Traceback" in df.loc["item01", "traceback"]
    assert df.loc["item02", "status"] == "refused" and df.loc["item02", "error"] == "policy says no"
    assert pd.isna(df.loc["item01", "video_path"]) and not (run_dir / "videos" / "flaky-test" / "item01.mp4").exists()
    assert summary["models"]["flaky-test"]["failed"] == 1 and summary["models"]["flaky-test"]["refused"] == 1
    # Failures are not retried by default (a deterministic failure would burn GPU hours) ...
    assert _run(bench, run_dir, [ModelSpec("flaky-test")])["this_invocation"]["failed"] == 0
    # ... and are with retry_failed.
    assert _run(bench, run_dir, [ModelSpec("flaky-test")], retry_failed=True)["this_invocation"] == {"ok": 0, "failed": 1, "refused": 1, "already_done": 2}


def test_items_without_images_are_skipped_and_reported_or_get_placeholders(tmp_path, step_eval_root):
    ids = ("real/H/011", "real/H/002")  # the shared copy has the first image, not the second
    assert (step_eval_root / "ti2v_eval_real/H/011.png").exists() and not (step_eval_root / "ti2v_eval_real/H/002.png").exists()
    models = [ModelSpec("static", SIZE)]
    summary = _run(step_eval_root, tmp_path / "run", models, subset=Subset(ids=ids))
    assert summary["skipped_no_image"] == ["real/H/002"] and summary["models"]["static@height=48,num_frames=6,width=64"]["ok"] == 1
    summary = _run(step_eval_root, tmp_path / "run2", models, subset=Subset(ids=ids), placeholder_images=True)
    assert summary["skipped_no_image"] == [] and summary["models"]["static@height=48,num_frames=6,width=64"]["ok"] == 2
    assert (tmp_path / "run2" / "placeholders" / "real/H/002.png").exists()
    # VBench view: names match the images, prompt map, camera phrase from the Chinese prompt.
    view = tmp_path / "run2" / "vbench"
    tag = "static@height=48,num_frames=6,width=64"
    assert (view / tag / "videos" / "real__H__011-0.mp4").exists() and (view / "images" / "real__H__011.png").exists()
    assert probe(view / tag / "videos" / "real__H__002-0.mp4").frames == 6
    pmap = json.loads((view / tag / "prompt_map.json").read_text(encoding="utf-8"))
    assert pmap["real__H__011-0.mp4"] == (step_eval_root / "ti2v_eval_real/H/011.txt").read_text(encoding="utf-8")
    entries = json.loads((view / tag / "view.json").read_text(encoding="utf-8"))
    assert {e["item_id"] for e in entries} == set(ids) and all("camera_motion" in e for e in entries)


def test_a_sweep_reuses_no_tag_and_config_dict_api(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 2)
    config = {"benchmark": str(bench), "run_dir": str(tmp_path / "run"), "models": [{"name": "camera", "params": SIZE, "sweep": {"travel": [0.2, 0.4]}}],
              "metrics": {"motion_score": {"every": 6}}}
    summary = generate_run(config, console=Console(file=open(os.devnull, "w")), show_progress=False)
    assert sorted(summary["models"]) == ["camera@height=48,num_frames=6,travel=0.2,width=64", "camera@height=48,num_frames=6,travel=0.4,width=64"]
    assert all(m["ok"] == 2 for m in summary["models"].values())
    run = Run.open(tmp_path / "run")
    assert [m.tag for m in run.config.models] == sorted(summary["models"])
    assert run.config.metrics == {"motion_score": {"every": 6}}  # sections generation does not read are kept in run.yaml


def test_config_errors_are_user_errors(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 2)
    with pytest.raises(UserError, match="unknown model 'nope'.*static"):
        _run(bench, tmp_path / "run", [ModelSpec("nope")])
    with pytest.raises(UserError, match="not in"):
        _run(bench, tmp_path / "run", [ModelSpec("static", SIZE)], subset=Subset(ids=("item09",)))
    with pytest.raises(UserError, match="twice"):
        GenerateConfig(benchmark=bench, models=expand_sweeps("static", []) * 2)


def _read_only_dir(tmp_path):
    if os.geteuid() == 0:  # root writes through permission bits; sysfs refuses even root
        return "/sys/stepeval-run-test"
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    return ro / "run"


def test_cli_bad_input_gives_clear_errors(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 2)
    res = stepeval("generate", bench, "--model", "no-such-model", "--run-dir", tmp_path / "r")
    assert res.returncode == 2 and "unknown model 'no-such-model'" in res.stderr and "static" in res.stderr and "Traceback" not in res.stderr
    res = stepeval("generate", bench, "--model", "static", "--set", "height", "--run-dir", tmp_path / "r")
    assert res.returncode == 2 and "bad --set 'height'" in res.stderr
    res = stepeval("generate", bench, "--model", "static", "--ids", "item00,item77", "--run-dir", tmp_path / "r")
    assert res.returncode == 2 and "item77" in res.stderr and "not in" in res.stderr
    res = stepeval("generate", bench, "--model", "static", *SMALL, "--run-dir", _read_only_dir(tmp_path))
    assert res.returncode == 2 and "cannot write the run directory" in res.stderr and "--run-dir" in res.stderr
    res = stepeval("generate", bench, "--model", "camera", "--set", "motion=sideways", "--run-dir", tmp_path / "r")
    assert res.returncode == 2 and "motion must be" in res.stderr


def test_cli_generate_with_config_and_help(tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 2)
    config = tmp_path / "run.yaml"
    config.write_text(f"benchmark: {bench}\nrun_dir: {tmp_path / 'run'}\nseed: 3\nmodels:\n  - name: static\n    params: {{height: 48, width: 64, num_frames: 6}}\n    tag: still\n", encoding="utf-8")
    res = stepeval("generate", "--config", config)
    assert res.returncode == 0, res.stderr
    df = Run.open(tmp_path / "run").generations.read()
    assert set(df["model_tag"]) == {"still"} and len(df) == 2 and set(df["seed"]) == {derive_seed(3, "item00", 0), derive_seed(3, "item01", 0)}
    res = stepeval("generate", "--help")
    assert res.returncode == 0 and "import" in res.stdout and "--set motion_score=2,5,10,20" in res.stdout
    res = stepeval("generate", "run", "--help")
    for opt in ("--model", "--set", "--config", "--run-dir", "--num-samples", "--retry-failed", "--placeholder-images", "--sp-degree"):
        assert opt in res.stdout
    res = stepeval("generate", "--list-models")
    assert res.returncode == 0 and "camera" in res.stdout and "544x992" in res.stdout

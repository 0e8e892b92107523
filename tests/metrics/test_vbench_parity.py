"""All nine VBench-I2V dimensions through stepeval equal vbench's own entry point.

A small VBench-I2V suite in the layout of the VBench repository (full info with caption and camera
prompts, per-ratio crops of real photographs) and a run of toy videos on it are scored twice with the
same random-weight checkpoints of the right architectures: by `stepeval score RUN --metrics
vbench-i2v` (staging, naming, crop choice, parsing, per-model means, aggregates) and by calling
vbench's `VBenchI2V(...).evaluate(...)` directly on the videos named as its evaluator reads them
(`<prompt>-<k>.mp4`) from the suite's root, where its i2v dimensions find `data/crop/<ratio>/`.
Every per-video value and every per-model mean must be equal. Then `stepeval report` builds a
complete Table 3 from the run.

Needs the VBench environment (scripts/ci_vbench.sh); skipped without it, except under CI=true.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from stepeval.benchmark.vbench_suite import ratio_for_aspect
from stepeval.cli.main import main
from stepeval.metrics.aggregate import DIMENSION_KEYS, aggregate
from stepeval.metrics.testing import make_toy_run, write_random_weights
from stepeval.metrics.vbench_env import DRIVER
from stepeval.metrics.vbench_i2v import PER_VIDEO_SCALE
from tests.metrics.vbench_support import COTRACKER_HUB, NO_HUB, RUNNABLE_DIMS, require_vbench_env
KEYS = ("model_tag", "item_id", "sample", "metric")
# VBench-I2V's full info scores a subject image's caption and a background image's caption on
# different dimensions, and each background image's camera prompts on camera_motion only.
SUBJECT_DIMS = ["i2v_subject", "subject_consistency", "motion_smoothness", "dynamic_degree", "aesthetic_quality", "imaging_quality"]
BACKGROUND_DIMS = ["i2v_background", "background_consistency", "aesthetic_quality", "imaging_quality"]
SUBJECT = "a gymnast on a balance beam in an arena"
BACKGROUND = "a street between old houses in the evening"
CAMERA = ["camera pans left"] if COTRACKER_HUB else []
PROMPTS = [SUBJECT, BACKGROUND, *(f"{BACKGROUND}, {c}" for c in CAMERA)]
SOURCES = {SUBJECT: "ti2v_eval_real/H/011", BACKGROUND: "ti2v_eval_real/V/019"}  # photos of the shared benchmark copy
CROPS = {"1-1": (96, 96), "8-5": (154, 96), "7-4": (168, 96), "16-9": (170, 96)}
HEIGHT, WIDTH = 64, 64  # square videos: the 1-1 crops are VBench-I2V's pair for them


def _source_image(step_eval_root: Path, stem: str) -> Path:
    path = step_eval_root / f"{stem}.png"
    if not path.is_file():
        pytest.skip(f"image {path} not in the shared benchmark copy")
    return path


def _centre_crop(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    w, h = size
    scale = max(w / img.width, h / img.height)
    resized = img.resize((math.ceil(img.width * scale), math.ceil(img.height * scale)), Image.BICUBIC)
    left, top = (resized.width - w) // 2, (resized.height - h) // 2
    return resized.crop((left, top, left + w, top + h))


def _suite(root: Path, step_eval_root: Path) -> Path:
    """A VBench checkout with a two-image suite downloaded into vbench2_beta_i2v/data/."""
    suite = root / "vbench2_beta_i2v"
    data = suite / "data"
    full, info = [], []
    for caption, stem in SOURCES.items():
        image = f"{caption}.jpg"
        photo = Image.open(_source_image(step_eval_root, stem)).convert("RGB")
        for ratio, size in CROPS.items():
            (data / "crop" / ratio).mkdir(parents=True, exist_ok=True)
            _centre_crop(photo, size).save(data / "crop" / ratio / image, quality=92)
        kind = "indoor" if caption == SUBJECT else "architecture"
        full.append({"prompt_en": caption, "dimension": SUBJECT_DIMS if caption == SUBJECT else BACKGROUND_DIMS, "image_type": kind, "image_name": image})
        if caption == BACKGROUND:
            full += [{"prompt_en": f"{caption}, {c}", "dimension": ["camera_motion"], "image_type": kind, "image_name": image} for c in CAMERA]
        info.append({"file_name": image, "type": kind, "caption": caption})
    (suite / "vbench2_i2v_full_info.json").write_text(json.dumps(full, indent=1), encoding="utf-8")
    (data / "i2v-bench-info.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def vbench_env():
    return require_vbench_env()


@pytest.fixture(scope="module")
def both(vbench_env, step_eval_root, tmp_path_factory):
    """(run, harness exit code, vbench's own results, weights dirs) for the same videos and weights."""
    cache, thome = write_random_weights(env_path=vbench_env.path, dims=RUNNABLE_DIMS, cotracker_hub=COTRACKER_HUB)
    base = tmp_path_factory.mktemp("parity")
    repo = _suite(base / "VBench", step_eval_root)
    run = make_toy_run(base / "run", repo / "vbench2_beta_i2v", PROMPTS, tags=("shift",), height=HEIGHT, width=WIDTH, frames=5)
    code = main(["score", str(run.root), "--metrics", "vbench-i2v:" + ",".join(RUNNABLE_DIMS), "--device", "cpu",
                 "--vbench-env", str(vbench_env.path), "--vbench-cache", str(cache), "--torch-home", str(thome)])
    # vbench's own entry point: the videos named as its evaluator reads them, sample k = `-k`.
    videos = base / "named"
    videos.mkdir()
    for prompt in PROMPTS:
        os.symlink(run.video_path("shift", prompt), videos / f"{prompt}-0.mp4")
    job = {"device": "cpu", "cache_dir": str(cache), "torch_home": str(thome), "work_dir": str(repo), "threads": os.cpu_count(),
           "full_info": str(repo / "vbench2_beta_i2v" / "vbench2_i2v_full_info.json"), "videos_path": str(videos),
           "name": "reference", "output_dir": str(base / "reference"), "dimensions": list(RUNNABLE_DIMS),
           "resolution": ratio_for_aspect(WIDTH, HEIGHT)}
    job_path = base / "evaluate.json"
    job_path.write_text(json.dumps(job), encoding="utf-8")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    res = subprocess.run([str(vbench_env.python), str(DRIVER), "evaluate", str(job_path)], capture_output=True, text=True, env=env, cwd=repo)
    assert res.returncode == 0, res.stderr[-3000:]
    reference = json.loads((base / "reference" / "reference_eval_results.json").read_text(encoding="utf-8"))
    return run, code, reference, cache


def _per_video(reference: dict, dim: str) -> dict[str, float]:
    """prompt -> vbench's per-video value (its results' last element lists the videos)."""
    out = {}
    for r in reference[dim][-1]:
        name = Path(r["video_path"]).name
        out[name[: name.rindex("-")]] = float(r["video_results"])
    return out


def test_every_dimension_equals_vbench_own_entry_point(both):
    run, code, reference, _ = both
    assert code == 0
    df = run.scores.latest(KEYS)
    assert set(reference) == set(RUNNABLE_DIMS)
    for dim in RUNNABLE_DIMS:
        rows = df[(df["metric"] == f"vbench_i2v/{dim}") & (df["item_id"] != "*") & (df["status"] == "ok")]
        ours = dict(zip(rows["item_id"], rows["value"]))
        theirs = {k: v * PER_VIDEO_SCALE.get(dim, 1.0) for k, v in _per_video(reference, dim).items()}
        assert theirs, dim
        assert ours.keys() == theirs.keys(), dim  # the same prompts scored on each dimension
        for prompt, value in theirs.items():
            assert ours[prompt] == pytest.approx(value, abs=1e-6), (dim, prompt)
        model = df[(df["metric"] == f"vbench_i2v/{dim}") & (df["item_id"] == "*")].iloc[0]
        assert model["status"] == "ok" and model["value"] == pytest.approx(float(reference[dim][0]), abs=1e-6), dim
    # Prompts VBench-I2V does not score on a dimension are excluded, not failed.
    excluded = df[(df["status"] == "excluded") & (df["metric"] == "vbench_i2v/i2v_background")]
    assert set(excluded["item_id"]) == {SUBJECT, *(f"{BACKGROUND}, {c}" for c in CAMERA)}
    if COTRACKER_HUB:
        excluded = df[(df["status"] == "excluded") & (df["metric"] == "vbench_i2v/camera_motion")]
        assert set(excluded["item_id"]) == {SUBJECT, BACKGROUND}


def test_rows_carry_vbench_version_weight_hashes_and_the_crop(both, vbench_env):
    run, _, _, cache = both
    df = run.scores.latest(KEYS)
    ok = df[(df["status"] == "ok") & (df["item_id"] != "*")]
    for row in ok.itertuples():
        env = json.loads(row.env)
        dim = row.metric.split("/", 1)[1]
        assert env["packages"]["vbench"] == vbench_env.info["packages"]["vbench"] == "0.1.5"
        files = {k: f for k, f in env["weights"]["files"][dim].items() if f["status"] != "missing"}  # DINO's stand-in hub folder has no utils.py
        assert files and all(len(f["sha256"]) == 64 for f in files.values())
    env = json.loads(ok.iloc[0]["env"])
    lora = env["weights"]["files"]["i2v_background"]["$VBENCH_CACHE_DIR/dreamsim_model/ensemble_lora/adapter_config.json"]
    assert lora["status"] == "random-weights"
    if COTRACKER_HUB:  # the pinned commit's own hub code verifies; its checkpoint is random
        cotracker = env["weights"]["files"]["camera_motion"]
        assert cotracker["$TORCH_HOME/hub/facebookresearch_co-tracker_main/cotracker/predictor.py"]["status"] == "verified"
        assert cotracker["$TORCH_HOME/hub/checkpoints/cotracker2.pth"]["status"] == "random-weights"
    i2v = ok[ok["metric"] == "vbench_i2v/i2v_subject"].iloc[0]
    assert json.loads(i2v["details"])["image"] == "crop 1-1"  # the square videos got the square crop


def test_aggregates_and_a_complete_table3(both, tmp_path):
    if not COTRACKER_HUB:
        pytest.skip(NO_HUB + " (Quality / I2V / Total need all nine)")
    run, _, reference, _ = both
    df = run.scores.latest(KEYS)
    model = df[df["item_id"] == "*"].set_index("metric")
    raw = {d: float(reference[d][0]) for d in DIMENSION_KEYS}
    expected = aggregate(raw).as_dict()
    for name in ("quality", "i2v", "total"):
        assert model.loc[f"vbench_i2v/{name}", "status"] == "ok"
        assert model.loc[f"vbench_i2v/{name}", "value"] == pytest.approx(expected[name], abs=1e-6)
    assert main(["report", str(run.root), "--out", str(tmp_path / "report"), "--media", "none"]) == 0
    table = pd.read_csv(tmp_path / "report" / "tables" / "vbench.csv")
    assert len(table) == 12 and table["shift"].notna().all(), table
    assert table.set_index("dimension").loc["total", "shift"] == pytest.approx(expected["total"], abs=1e-6)
    assert np.isfinite(table["shift"]).all()
    # one sample per prompt is a departure from VBench-I2V's five, and Table 3 says so
    notes = (tmp_path / "report" / "tables" / "vbench.md").read_text(encoding="utf-8")
    assert "shift: departs from VBench-I2V's protocol: 1 sample(s) per prompt" in notes

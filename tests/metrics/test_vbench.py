"""VBench-I2V through stepeval.

The end-to-end test runs the real vbench==0.1.5 in its own venv (created by `stepeval vbench setup`,
see scripts/ci_vbench.sh) with random-weight checkpoints on six of the dimensions over toy videos
whose order is known (all nine, against vbench's own entry point: test_vbench_parity.py). Without that
venv it is skipped with the reason, except under CI=true, where it fails: CI can never silently skip it.
The other tests need no venv: they check the decisions around vbench (exclusions, missing images,
missing weights, an absent or broken environment).
"""

from __future__ import annotations

import hashlib
import json
import math
import stat
from pathlib import Path

import numpy as np
import pytest

from stepeval.cli.main import main
from stepeval.errors import UserError
from stepeval.metrics.aggregate import aggregate
from stepeval.metrics.testing import make_toy_run, write_random_weights
from stepeval.metrics.vbench_env import VERSIONS_FILE, fetch_plan, missing_weights, weight_files
from stepeval.metrics.vbench_i2v import CI_DIMENSIONS, parse_devices, parse_dimensions, score_run_vbench
from stepeval.runs import Run
from stepeval.video import write_video
from tests.metrics.vbench_support import COTRACKER_HUB, RUNNABLE_DIMS, require_vbench_env

ITEMS = ["real/H/011", "real/V/019", "anime/S/043", "anime/H/001"]  # four items whose images are in ../shared
NO_IMAGE_ITEM = "real/H/002"  # its image is not in the shared copy
KEYS = ("model_tag", "item_id", "sample", "metric")


def _latest(run: Run):
    return run.scores.latest(KEYS)


def _add_video(run: Run, tag: str, item: str, frames: np.ndarray | None = None, raw: bytes | None = None) -> None:
    path = run.video_path(tag, item)
    if raw is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
    else:
        write_video(path, frames, 8)
    row = run.generations.read().iloc[0].to_dict()
    row.update(model_tag=tag, item_id=item, video_path=path.relative_to(run.root).as_posix())
    run.generations.append([row])


# -- no venv needed --------------------------------------------------------------------------------


def test_dimension_and_device_specs():
    assert parse_dimensions(None) == parse_dimensions("all") and len(parse_dimensions(None)) == 9
    assert parse_dimensions("ci") == list(CI_DIMENSIONS)
    assert parse_dimensions("dynamic_degree,i2v_subject,dynamic_degree") == ["dynamic_degree", "i2v_subject"]
    with pytest.raises(UserError, match="unknown VBench-I2V dimension 'dynamic'"):
        parse_dimensions("dynamic")
    assert parse_devices("cuda:0,cuda:1") == ["cuda:0", "cuda:1"] and parse_devices("cpu") == ["cpu"]
    with pytest.raises(UserError, match="unknown device"):
        parse_devices("gpu0")


def test_weight_table_and_prefetch_plan(tmp_path):
    cache, thome = tmp_path / "vb", tmp_path / "th"
    paths = [w.path for w in weight_files("subject_consistency", cache, thome)]
    assert cache / "dino_model" / "facebookresearch_dino_main" / "hubconf.py" in paths
    assert thome / "hub" / "checkpoints" / "dino_vitbase16_pretrain.pth" in paths
    assert [w.path for w in missing_weights("dynamic_degree", cache, thome)] == [cache / "raft_model" / "models" / "raft-things.pth"]
    plan, links = fetch_plan(["subject_consistency", "i2v_subject", "dynamic_degree"], cache, thome)
    urls = sorted(f.url for f in plan)
    # One DINO checkpoint download serves both dimensions (linked into vbench's folder), plus the hub code and RAFT's zip.
    assert sum("dino_vitbase16_pretrain.pth" in u for u in urls) == 1
    # The hub code comes from a pinned commit, never a branch head that moves under the scores.
    assert any(u.endswith("dino/archive/7c446df5b9f45747937fb0d72314eb9f7b66930a.zip") for u in urls) and any("models.zip" in u for u in urls)
    assert not any("refs/heads" in u for u in urls)
    assert (cache / "dino_model" / "dino_vitbase16_pretrain.pth", thome / "hub" / "checkpoints" / "dino_vitbase16_pretrain.pth") in links


def test_random_weights_never_written_into_a_foreign_folder(tmp_path):
    (tmp_path / "real-cache").mkdir()
    (tmp_path / "real-cache" / "something.pth").write_bytes(b"x")
    with pytest.raises(UserError, match="not made by write-random-weights"):
        write_random_weights(tmp_path / "real-cache")


@pytest.fixture
def small_run(tmp_path, step_eval_root):
    return make_toy_run(tmp_path / "run", step_eval_root, ITEMS[:2], tags=("static",))


def test_absent_environment_is_a_clear_error_and_other_metrics_still_run(small_run, tmp_path, capsys):
    with pytest.raises(UserError, match="no VBench environment here") as info:
        score_run_vbench(small_run, ["dynamic_degree"], env_path=tmp_path / "no-env")
    assert "stepeval vbench setup --path" in str(info.value)
    code = main(["score", str(small_run.root), "--metrics", "vbench_i2v:dynamic_degree", "motion_score", "--vbench-env", str(tmp_path / "no-env")])
    assert code == 2
    assert "no VBench environment here" in capsys.readouterr().err.replace("\n", " ")
    df = _latest(small_run)
    videos = df[df["item_id"] != "*"]
    # Motion still ran on both videos (they are 5-frame toys, too short for it: recorded as such).
    assert set(df["metric"]) == {"motion_score"} and sorted(videos["item_id"]) == sorted(ITEMS[:2])
    assert videos["error"].str.contains("needs two samples 12 frames apart").all()
    assert main(["vbench", "check", "--path", str(tmp_path / "no-env")]) == 2


def _fake_env(path: Path, script: str) -> Path:
    """A 'venv' whose python fails the way a broken install does."""
    (path / "bin").mkdir(parents=True)
    py = path / "bin" / "python"
    py.write_text("#!/bin/sh\n" + script + "\n")
    py.chmod(py.stat().st_mode | stat.S_IEXEC)
    (path / VERSIONS_FILE).write_text(json.dumps({"packages": {"vbench": "0.1.5"}, "pins": []}))
    return path


def test_broken_environment_fails_rows_with_the_reason(small_run, tmp_path):
    env = _fake_env(tmp_path / "broken-env", "echo 'ImportError: libtorch_cuda.so: cannot open shared object file' >&2; exit 1")
    cache = tmp_path / "vb"
    (cache / "raft_model" / "models").mkdir(parents=True)
    (cache / "raft_model" / "models" / "raft-things.pth").write_bytes(b"")  # present, so the dimension is attempted
    _add_video(small_run, "static", NO_IMAGE_ITEM, frames=np.zeros((5, 64, 64, 3), np.uint8))
    _add_video(small_run, "static", "anime/V/013", raw=b"\x00garbage, not an mp4")
    rep = score_run_vbench(small_run, ["dynamic_degree", "i2v_subject", "camera_motion"], env_path=env, cache_dir=cache, torch_home=tmp_path / "th")
    df = _latest(small_run).set_index(["item_id", "metric"])
    crash = df.loc[(ITEMS[0], "vbench_i2v/dynamic_degree")]
    assert crash["status"] == "failed" and "exited with code 1" in crash["error"] and "libtorch_cuda" in crash["error"]
    # Decided before vbench runs: no image, undecodable video, no camera instruction, missing weights.
    assert "no input image for item real/H/002" in df.loc[(NO_IMAGE_ITEM, "vbench_i2v/i2v_subject"), "error"]
    assert "anime/V/013" in df.loc[("anime/V/013", "vbench_i2v/dynamic_degree"), "error"]
    assert df.loc[(ITEMS[0], "vbench_i2v/camera_motion"), "status"] == "excluded"  # 体操运动员... has no camera instruction
    assert "missing VBench weights for camera_motion" in df.loc[(ITEMS[1], "vbench_i2v/camera_motion"), "error"]  # 固定镜头 = static
    assert "missing VBench weights for i2v_subject" in df.loc[(ITEMS[0], "vbench_i2v/i2v_subject"), "error"]
    assert rep.excluded["camera_motion"] == 2 and rep.failed["dynamic_degree"] == 4
    agg = df.loc[("*", "vbench_i2v/total")]
    assert agg["status"] == "failed" and "missing dimension(s)" in agg["error"]


# -- the real thing: vbench==0.1.5 in its venv, random weights -------------------------------------


# The six dimensions whose models are cheap enough to run over the eight toy videos here; the other
# three (DreamSim, CoTracker, CLIP ViT-L/14) run on a smaller suite in test_vbench_parity.py.
SCORED = ITEMS[:2]  # x (static, shift): four videos, plus an undecodable one
SIX = ("dynamic_degree", "motion_smoothness", "subject_consistency", "i2v_subject", "imaging_quality", "background_consistency")


@pytest.fixture(scope="module")
def vbench_env():
    return require_vbench_env()


@pytest.fixture(scope="module")
def scored_run(vbench_env, step_eval_root, tmp_path_factory):
    cache, thome = write_random_weights(env_path=vbench_env.path, dims=RUNNABLE_DIMS, cotracker_hub=COTRACKER_HUB)  # idempotent; CI's setup already wrote them
    base = tmp_path_factory.mktemp("vbench")
    run = make_toy_run(base / "run", step_eval_root, SCORED)  # two baselines (static, shift) x 2 items
    _add_video(run, "shift", "anime/V/013", raw=b"\x00garbage, not an mp4")
    code = main(["score", str(run.root), "--metrics", "vbench_i2v:" + ",".join(SIX), "--device", "cpu",
                 "--vbench-env", str(vbench_env.path), "--vbench-cache", str(cache), "--torch-home", str(thome)])
    return run, code, cache, thome


def test_ci_dimensions_score_every_video_through_stepeval(scored_run, vbench_env):
    run, code, _, _ = scored_run
    assert code == 1  # the undecodable video failed; every other video was scored
    df = _latest(run)
    per_video = df[(df["item_id"] != "*") & (df["item_id"] != "anime/V/013")]
    expected = {(tag, item, 0, f"vbench_i2v/{d}") for tag in ("static", "shift") for item in SCORED for d in SIX}
    assert set(map(tuple, per_video[list(KEYS)].itertuples(index=False))) == expected
    assert (per_video["status"] == "ok").all(), per_video[per_video["status"] != "ok"][["item_id", "metric", "error"]]
    assert all(math.isfinite(v) for v in per_video["value"])
    env = json.loads(per_video.iloc[0]["env"])
    assert env["packages"]["vbench"] == "0.1.5" and env["packages"]["torch"] and env["device"] == "cpu"
    assert env["packages"] == vbench_env.info["packages"]
    # The weights the row was made with: each file's sha256, flagged as the random test weights they are.
    _, _, cache, _ = scored_run
    amt = env["weights"]["files"]["motion_smoothness"]["$VBENCH_CACHE_DIR/amt_model/amt-s.pth"]
    assert amt == {"sha256": hashlib.sha256((cache / "amt_model" / "amt-s.pth").read_bytes()).hexdigest(), "status": "random-weights"}
    assert set(env["weights"]["files"]) == set(SIX)
    bad = df[df["item_id"] == "anime/V/013"]
    assert len(bad) == len(SIX) and (bad["status"] == "failed").all()
    assert bad["error"].str.contains("anime/V/013").all()


def test_ci_dimensions_are_aggregated_per_model(scored_run):
    run, _, _, _ = scored_run
    df = _latest(run)
    model = df[df["item_id"] == "*"].set_index(["model_tag", "metric"])
    for tag in ("static", "shift"):
        raw = {}
        for d in SIX:
            row = model.loc[(tag, f"vbench_i2v/{d}")]
            videos = df[(df["model_tag"] == tag) & (df["metric"] == f"vbench_i2v/{d}") & (df["status"] == "ok") & (df["item_id"] != "*")]
            assert row["status"] == "ok" and row["sample"] == -1
            assert row["value"] == pytest.approx(videos["value"].mean())
            raw[d] = row["value"]
        # Three dimensions were not scored here, so the aggregates refuse, naming them ...
        total = model.loc[(tag, "vbench_i2v/total")]
        assert total["status"] == "failed"
        for missing in ("camera_motion", "i2v_background", "aesthetic_quality"):
            assert missing in total["error"]
        # ... and with them supplied the parsed values aggregate by the formula.
        full = {**raw, "camera_motion": 0.5, "i2v_background": 0.9, "aesthetic_quality": 0.5}
        assert 0 < aggregate(full).total < 2


def test_rescoring_is_skipped_and_check_reports_random_weights_as_wrong(scored_run, vbench_env, capsys):
    run, _, cache, thome = scored_run
    before = len(run.scores.read())
    rep = score_run_vbench(run, list(SIX), env_path=vbench_env.path, cache_dir=cache, torch_home=thome, devices="cpu")
    assert rep.skipped == {d: 2 * len(SCORED) for d in SIX} and not rep.scored and not rep.logs  # no vbench process started
    assert len(run.scores.read()) > before  # only the failed video's rows and the per-model rows are rewritten
    # Runnable (scoring above used them), but not VBench's weights: check says so and exits 1.
    capsys.readouterr()
    assert main(["vbench", "check", "--json", "--path", str(vbench_env.path), "--dims", "ci", "--cache-dir", str(cache), "--torch-home", str(thome),
                 "--run", str(run.root), "--device", "cuda:0,cuda:1"]) == 1
    out = json.loads(capsys.readouterr().out)
    dims = out["dimensions"]
    # the cost of this run's videos (five, 64x64x5 at 8 fps) on two GPUs, for every dimension
    assert out["workload"]["videos"] == 2 * len(SCORED) + 1 and out["workload"]["height"] == 64 and out["workload"]["devices"] == ["cuda:0", "cuda:1"]
    assert all(dims[d]["cost"]["device"] == "cuda" and dims[d]["cost"]["devices"] == 2 and dims[d]["cost"]["seconds"] > 0 for d in dims)
    assert all(dims[d]["cost"]["needs"] for d in dims)
    assert set(dims) == set(CI_DIMENSIONS)
    assert all(dims[d]["runnable"] for d in RUNNABLE_DIMS)
    assert all(dims[d]["weights"] == "random-weights" for d in RUNNABLE_DIMS)
    if COTRACKER_HUB:  # the pinned CoTracker hub code the set-up laid out is the real code: its files verify
        hub = {Path(f["path"]).name: f for f in dims["camera_motion"]["files"]}
        assert hub["predictor.py"]["status"] == "verified" and hub["cotracker2.pth"]["status"] == "unverified"
    else:  # without its hub code camera_motion cannot run, and check says which files are missing
        missing = [f for f in dims["camera_motion"]["files"] if f["status"].startswith("missing")]
        assert dims["camera_motion"]["runnable"] == (not missing)
    clip = {Path(f["path"]).name: f for f in dims["background_consistency"]["files"]}["ViT-B-32.pt"]
    assert clip["status"] == "wrong-hash" and clip["expected_sha256"] == "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"

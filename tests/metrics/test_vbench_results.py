"""VBench's own results files: a run's scores written as VBench writes them read back into an
identical scores table; the leaderboard archive; results made elsewhere imported with provenance."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from reports.testing import make_run, step_eval_items
from stepeval.cli.main import main
from stepeval.errors import UserError
from stepeval.metrics.aggregate import DIMENSION_KEYS, aggregate
from stepeval.metrics.common import MODEL_ITEM
from stepeval.metrics.vbench_i2v import PREFIX, aggregate_rows, metric_name
from stepeval.metrics.vbench_results import export_run, import_results, leaderboard_archive, read_document
from stepeval.metrics.common import model_mean_rows
from stepeval.runs import SCORE_KEYS, Run

MODELS = ["stepvideo-ti2v@motion_score=5", "static"]
KEEP = ["model_tag", "item_id", "sample", "metric", "value", "status", "error"]


def _vbench_table(run: Run) -> pd.DataFrame:
    df = run.scores.latest(SCORE_KEYS)
    df = df[df["metric"].astype(str).str.startswith(PREFIX)][KEEP]
    return df.sort_values(["model_tag", "item_id", "sample", "metric"]).reset_index(drop=True)


@pytest.fixture()
def scored_run(tmp_path):
    """A run with per-video VBench-I2V values (camera_motion excluded on some items, one failed
    video), VBench-style per-model means and the aggregates, as `stepeval score` leaves them."""
    run, _ = make_run(tmp_path / "src", MODELS, items=step_eval_items(12), judgments=False)
    failed = {"model_tag": "static", "item_id": "real/H/001", "sample": 0, "metric": metric_name("aesthetic_quality"),
              "value": np.nan, "status": "failed", "error": "CUDA out of memory", "details": "{}", "env": "{}",
              "scored_at": "2025-01-01T00:00:00+0000"}
    run.scores.append([failed])
    env = {"vbench": "0.1.5"}
    for dim in DIMENSION_KEYS:
        run.scores.append(model_mean_rows(run, metric_name(dim), env=env, model_tags=MODELS))
    run.scores.append(aggregate_rows(run, MODELS, env))
    return run


def test_written_results_read_back_into_an_identical_scores_table(scored_run, tmp_path):
    paths = export_run(scored_run, tmp_path / "out")
    fresh, _ = make_run(tmp_path / "dst", MODELS, items=step_eval_items(12), judgments=False, scores=False)
    for tag in MODELS:
        import_results(fresh, tmp_path / "out" / tag / f"{tag}_eval_results.json", tag)
    pd.testing.assert_frame_equal(_vbench_table(fresh), _vbench_table(scored_run))
    assert len(paths) == 3 * len(MODELS)  # results, sidecar, leaderboard archive


def test_the_results_file_is_vbenchs_shape(scored_run, tmp_path):
    export_run(scored_run, tmp_path / "out", model_tags=["static"], archive=False)
    doc = json.loads((tmp_path / "out" / "static" / "static_eval_results.json").read_text())
    assert set(doc) == set(DIMENSION_KEYS)
    for dim, (mean, videos) in doc.items():
        assert isinstance(mean, float) and all({"video_path", "video_results"} <= set(v) for v in videos)
        assert all(v["video_path"].endswith("-0.mp4") and "/" not in v["video_path"].split("/videos/")[1] for v in videos)
    # VBench's per-video imaging quality is on MUSIQ's 0-100 scale; its mean on [0, 1].
    iq = doc["imaging_quality"]
    assert all(v["video_results"] == pytest.approx(100 * v["stepeval"]["value"]) for v in iq[1])
    assert 0 < iq[0] < 1
    # camera_motion: only the videos it applies to; the excluded ones are in the sidecar.
    sidecar = json.loads((tmp_path / "out" / "static" / "static_stepeval.json").read_text())
    excluded = [r for r in sidecar["not_ok"] if r["status"] == "excluded"]
    assert len(doc["camera_motion"][1]) + len(excluded) == 12
    assert {"status": "failed", "error": "CUDA out of memory"}.items() <= next(r for r in sidecar["not_ok"] if r["status"] == "failed").items()


def test_leaderboard_archive(scored_run, tmp_path):
    export_run(scored_run, tmp_path / "out", model_tags=["static"])
    with zipfile.ZipFile(tmp_path / "out" / "static_eval_results.zip") as zf:
        names = zf.namelist()
        assert names == ["static_eval_results.json"]  # top level; nothing the leaderboard would trip on
        doc = json.loads(zf.read(names[0]))
    # What the leaderboard reads: element [0] of each of the nine dimensions -> the same Total.
    means = {k: v[0] for k, v in doc.items()}
    stored = scored_run.scores.latest(SCORE_KEYS)
    total = stored[(stored["model_tag"] == "static") & (stored["metric"] == PREFIX + "total")]["value"].iloc[0]
    assert aggregate(means).total == pytest.approx(total, abs=1e-12)
    # Byte-identical when written again: a fixed time stamp inside.
    first = (tmp_path / "out" / "static_eval_results.zip").read_bytes()
    export_run(scored_run, tmp_path / "out", model_tags=["static"])
    assert (tmp_path / "out" / "static_eval_results.zip").read_bytes() == first
    partial = tmp_path / "partial_eval_results.json"
    partial.write_text(json.dumps({k: v for k, v in doc.items() if k != "dynamic_degree"}))
    with pytest.raises(UserError, match="lack dynamic_degree, which the leaderboard would count as 0"):
        leaderboard_archive(partial, tmp_path / "p.zip")


def _foreign(items: list[str]) -> dict:
    """A results file as vbench writes it for videos named like stepeval's VBench view."""
    rng = np.random.default_rng(0)
    doc = {}
    for dim in DIMENSION_KEYS:
        vals = []
        for item in items:
            name = f"/data/vbench/videos/{item.replace('/', '__')}-0.mp4"
            if dim == "dynamic_degree":
                raw = bool(rng.random() < 0.5)
            elif dim == "imaging_quality":
                raw = float(rng.uniform(40, 80))  # MUSIQ scale
            else:
                raw = float(rng.uniform(0.6, 1.0))
            entry = {"video_path": name, "video_results": raw}
            if dim == "camera_motion":
                entry["prompt_type"] = "pan_left"
            vals.append(entry)
        scale = 0.01 if dim == "imaging_quality" else 1.0
        doc[dim] = [float(np.mean([float(v["video_results"]) for v in vals])) * scale, vals]
    doc["temporal_flickering"] = [0.97, []]  # a T2V dimension: not one of the nine, skipped
    return doc


def test_results_made_elsewhere_are_imported_with_provenance(tmp_path, capsys):
    items = list(step_eval_items(6)["item_id"])
    run, _ = make_run(tmp_path / "run", ["theirs"], items=step_eval_items(6), judgments=False, scores=False)
    path = tmp_path / "theirs_eval_results.json"
    path.write_text(json.dumps(_foreign(items)))
    assert main(["vbench", "import", str(run.root), str(path), "--model-tag", "theirs"]) == 0
    assert "skipped" in capsys.readouterr().out
    df = Run.open(run.root).scores.latest(SCORE_KEYS)
    iq = df[(df["metric"] == metric_name("imaging_quality")) & (df["item_id"] != MODEL_ITEM)]
    assert len(iq) == 6 and iq["value"].between(0.4, 0.8).all()  # MUSIQ's 0-100 put back on [0, 1]
    details = json.loads(iq["details"].iloc[0])
    assert details["source"] == "vbench results file" and len(details["sha256"]) == 64 and details["raw"] > 1
    dd = df[(df["metric"] == metric_name("dynamic_degree")) & (df["item_id"] != MODEL_ITEM)]
    assert set(dd["value"]) <= {0.0, 1.0}
    assert json.loads(df[df["metric"] == metric_name("camera_motion")]["details"].iloc[0]).get("prompt_type") == "pan_left"
    total = df[(df["metric"] == PREFIX + "total") & (df["model_tag"] == "theirs")]
    assert len(total) == 1 and total["status"].iloc[0] == "ok"
    assert not (df["metric"] == PREFIX + "temporal_flickering").any()


def test_a_mapping_places_videos_with_other_names(tmp_path):
    run, _ = make_run(tmp_path / "run", ["theirs"], items=step_eval_items(4), judgments=False, scores=False)
    items = list(step_eval_items(4)["item_id"])
    doc = {"subject_consistency": [0.9, [{"video_path": f"clip{k}.mp4", "video_results": 0.9} for k in range(4)]]}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match="--mapping"):
        import_results(run, path, "theirs")
    csv = tmp_path / "map.csv"
    pd.DataFrame({"video": [f"clip{k}.mp4" for k in range(4)], "item_id": items, "sample": 0}).to_csv(csv, index=False)
    rep = import_results(run, path, "theirs", mapping=csv)
    assert rep.dimensions == ["subject_consistency"] and rep.rows == 5  # 4 videos + VBench's own mean; no aggregates
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"subject_consistency": "high"}))
    with pytest.raises(UserError, match="not \\[mean"):
        read_document(bad)


def test_cli_export(scored_run, tmp_path):
    assert main(["vbench", "export", str(scored_run.root), str(tmp_path / "cli"), "--model-tag", "static", "--no-archive"]) == 0
    assert (tmp_path / "cli" / "static" / "static_eval_results.json").is_file()
    assert not (tmp_path / "cli" / "static_eval_results.zip").exists()

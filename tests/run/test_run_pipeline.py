"""`stepeval run`: generate -> score -> report on the synthetic smoke world, resume, regression check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stepeval import pipeline_run
from stepeval.cli.main import main
from stepeval.runs import Run

BASELINES = [
    {"name": "static", "tag": "static", "params": {"height": 64, "width": 64, "num_frames": 17, "fps": 8}},
    {"name": "camera", "tag": "camera", "params": {"height": 64, "width": 64, "num_frames": 17, "fps": 8}},
    {"name": "noise", "tag": "noise", "params": {"height": 64, "width": 64, "num_frames": 17, "fps": 8}},
]


def _config(tmp_path: Path, **extra) -> Path:
    cfg = {"name": "t", "benchmark": {"synthetic": {"n": 4}}, "seed": 0, "device": "cpu", "vbench_view": False,
           "models": BASELINES, "metrics": {"motion_score": {}, "synthetic": {}},
           "report": {"bootstrap": 20, "formats": ["html", "json"]}, **extra}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    cfg = _config(tmp)
    run_dir = tmp / "runs" / "t"
    code = main(["run", str(cfg), "--run-dir", str(run_dir), "--no-progress", "--write-baseline", str(tmp / "base.json")])
    assert code == 0
    return cfg, run_dir, tmp


def test_run_makes_videos_scores_judgments_and_report(baseline_run):
    _, run_dir, _ = baseline_run
    run = Run.open(run_dir)
    gens = run.generations.latest(("model_tag", "item_id", "sample"))
    assert len(gens) == 12 and set(gens["status"]) == {"ok"}
    scores = run.scores.latest(("model_tag", "item_id", "sample", "metric"))
    per_video = scores[scores["item_id"] != "*"]
    for metric in ("motion_score", "synthetic/direction_match", "synthetic/first_frame_psnr"):
        assert (per_video["metric"] == metric).sum() == 12, metric
    assert (run_dir / "benchmark" / "labels.json").is_file()
    html = (run_dir / "report" / "index.html").read_text(encoding="utf-8")
    assert "AUTO Table 2" in html
    # The section states the judge that made them: the world's ground truth, not VBench's metrics.
    assert "consistency: mean of consistency, subject_colour" in html and "mean of i2v_subject" not in html
    # `stepeval report RUN` later, with no options: the same automatic judgments and description.
    assert main(["report", str(run_dir), "--out", str(run_dir / "again")]) == 0
    again = (run_dir / "again" / "index.html").read_text(encoding="utf-8")
    assert "AUTO Table 2" in again and "consistency: mean of consistency, subject_colour" in again
    # Pan items (s002, s003 of the 4-item set): the camera baseline does what the prompt asks,
    # the static one does not, and the judge says so.
    judged = [json.loads(line) for line in (run_dir / "auto-judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    pans = [j for j in judged if {j["model_a"], j["model_b"]} == {"static", "camera"}
            and j["dimension"] == "instruction_adherence" and j["item_id"] in ("s002", "s003")]
    assert len(pans) == 2
    assert all((j["outcome"] == "A") == (j["model_a"] == "camera") and j["outcome"] != "tie" for j in pans)
    # The static baseline is the input image throughout; the noise one dissolves it.
    means = pipeline_run.run_summary(run)
    assert means["static/synthetic/first_frame_psnr"] > 35
    assert means["static/synthetic/consistency"] > 0.9 > means["noise/synthetic/consistency"]
    assert means["camera/motion_score"] > means["static/motion_score"]
    assert run.record.stage_seconds[-1]["generate"] > 0


def test_rerun_resumes_and_regression_check_passes_then_catches_a_move(baseline_run, capsys):
    cfg, run_dir, tmp = baseline_run
    base = tmp / "base.json"
    assert main(["run", str(cfg), "--run-dir", str(run_dir), "--no-progress", "--check-against", str(base)]) == 0
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["generation"]
    assert summary["this_invocation"]["ok"] == 0 and summary["this_invocation"]["already_done"] == 12
    moved = json.loads(base.read_text(encoding="utf-8"))
    moved["metrics"]["camera/motion_score"] *= 2
    bad = tmp / "moved.json"
    bad.write_text(json.dumps(moved), encoding="utf-8")
    assert main(["run", str(cfg), "--run-dir", str(run_dir), "--no-progress", "--check-against", str(bad)]) == 1
    assert "camera/motion_score" in capsys.readouterr().err


def test_check_against_tolerances(tmp_path):
    base = tmp_path / "b.json"
    pipeline_run.write_baseline({"m/motion_score": 10.0, "m/synthetic/first_frame_psnr": 25.0, "m/videos_ok": 16.0},
                                base, pipeline_run.DEFAULT_TOLERANCES)
    ok = pipeline_run.check_against({"m/motion_score": 11.4, "m/synthetic/first_frame_psnr": 24.2, "m/videos_ok": 16.0, "new": 1}, base)
    assert ok["ok"] and ok["not_in_baseline"] == ["new"]
    moved = pipeline_run.check_against({"m/motion_score": 11.6, "m/synthetic/first_frame_psnr": 25.0, "m/videos_ok": 15.0}, base)
    assert {f["metric"] for f in moved["failures"]} == {"m/motion_score", "m/videos_ok"}
    missing = pipeline_run.check_against({"m/motion_score": 10.0, "m/videos_ok": 16.0}, base)
    assert [f["status"] for f in missing["failures"]] == ["missing"]


def test_user_errors_exit_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    bad = _config(tmp_path, metrics={"sharpness": {}})
    assert main(["run", str(bad), "--run-dir", str(tmp_path / "r")]) == 2
    assert "unknown metric" in capsys.readouterr().err


def test_shipped_configs_parse():
    for name in ("smoke", "motion-sweep", "step-video-ti2v-eval", "ci-real-sample"):
        path = pipeline_run.resolve_config_path(name)
        cfg = pipeline_run.load_config(path)
        assert cfg.models and cfg.metrics, name
    assert pipeline_run.resolve_config_path(None).name == "smoke.yaml"

"""CI regression: the README's main job (`stepeval run smoke`) against the committed baseline.

Runs the whole smoke config (the shipped tiny model at motion 2/5/10 + static, camera, noise on the
16 held-out synthetic scenes) and fails when any metric in benchmarks/smoke-baseline.json moves
beyond the tolerance stated in that file."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from generators.stepvideo.tiny import acceptance
from stepeval.cli.main import main
from stepeval.generation import registry
from stepeval.pipeline_run import run_summary
from stepeval.runs import Run

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / "benchmarks" / "smoke-baseline.json"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    if "stepvideo-ti2v-tiny" not in registry.available():  # until the entry point is installed
        from generators.stepvideo.tiny.generator import StepVideoTI2VTiny

        registry.register("stepvideo-ti2v-tiny", StepVideoTI2VTiny)
    run_dir = tmp_path_factory.mktemp("smoke") / "run"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["run", "smoke", "--run-dir", str(run_dir), "--no-progress", "--check-against", str(BASELINE)])
    return run_dir, code, err.getvalue()


def test_smoke_run_matches_the_committed_baseline(smoke_run):
    run_dir, code, err = smoke_run
    assert code == 0, err[-3000:]
    assert (run_dir / "report" / "index.html").is_file()
    # the per-model table puts the subject checks beside the whole-frame PSNR
    assert all(word in err for word in ("PSNR", "colour", "shape", "clean", "direction")), err[-3000:]
    # Floors the baseline's tolerances alone would let a value drift below: image conditioning and
    # monotone motion control (generators/stepvideo/tiny/acceptance.py).
    summary = run_summary(Run.open(run_dir))
    assert acceptance.motion_floor_failures(summary) == []


def test_smoke_run_keeps_the_subject(smoke_run):
    """The subject's colour and shape in frame 0: the floors the shipped checkpoint must reach
    (generators/stepvideo/tiny/acceptance.py); the checkpoint before the VAE's subject term failed them."""
    run_dir, _, _ = smoke_run
    assert acceptance.subject_floor_failures(run_summary(Run.open(run_dir))) == []


def test_smoke_run_follows_the_asked_direction_with_the_subject_present(smoke_run):
    """Direction pooled over the motion scores, push-in and pull-out counted, with the subject present
    (generators/stepvideo/tiny/acceptance.py); the checkpoint before the zoom-weighted recipe had 0.71."""
    run_dir, _, _ = smoke_run
    assert acceptance.direction_floor_failures(run_summary(Run.open(run_dir))) == []


def test_real_benchmark_sample_matches_its_baseline(tmp_path, capsys, step_eval_root):
    """The same path on a seeded stratified sample of the real benchmark (present images), with the
    CPU baselines: real Chinese prompts and RGBA images through generate -> score -> report."""
    run_dir = tmp_path / "real"
    baseline = REPO / "benchmarks" / "ci-real-sample-baseline.json"
    code = main(["run", str(REPO / "configs" / "ci-real-sample.yaml"), "--run-dir", str(run_dir), "--no-progress",
                 "--check-against", str(baseline)])
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    assert (run_dir / "report" / "index.html").is_file()

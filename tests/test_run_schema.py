"""run.yaml and the run config as one typed contract: upgrade of the earlier layout, clear errors for
bad configs (through the real commands), the JSON Schema, and paths that survive a change of
working directory."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stepeval.cli.main import main
from stepeval.runs import Run
from stepeval.runs.schema import SCHEMA_VERSION, RunConfig, key_path

FIXTURES = Path(__file__).parent / "fixtures" / "run-yaml-v1"
RECORDED_BENCHMARK = "/work/shared/benchmark/Step-Video-TI2V-Eval"  # where the fixtures were written


def _v1_run(tmp_path: Path, fixture: str, benchmark_value: str, name: str) -> Path:
    """A run directory holding a version-1 run.yaml exactly as the earlier stepeval wrote it, but for
    the benchmark path, which names this machine's copy the way the fixture named its own."""
    root = tmp_path / "runs" / name
    root.mkdir(parents=True)
    text = (FIXTURES / fixture).read_text(encoding="utf-8")
    recorded = yaml.safe_load(text)["config"]["benchmark"]
    (root / "run.yaml").write_text(text.replace(f"benchmark: {recorded}\n", f"benchmark: {benchmark_value}\n"), encoding="utf-8")
    return root


def test_v1_generate_run_opens_and_is_upgraded_on_write(tmp_path, step_eval_root):
    root = _v1_run(tmp_path, "generate.yaml", str(step_eval_root), "e2e")
    assert "stepeval_run: 1" in (root / "run.yaml").read_text()
    run = Run.open(root)
    assert run.benchmark_path == step_eval_root
    assert run.config.benchmark.kind == "auto"
    assert run.config.subset.sample == 6 and run.config.subset.present_only
    assert run.configured_tags() == ["static", "camera"]
    assert (root / "run.yaml").read_text().startswith("stepeval_run: 1")  # reading never writes
    Run.create(root, {"models": [{"name": "noise", "tag": "noise"}]}, command="stepeval generate again")
    body = yaml.safe_load((root / "run.yaml").read_text())
    assert body["schema_version"] == SCHEMA_VERSION and "stepeval_run" not in body
    assert body["config"]["benchmark"]["path"] == str(step_eval_root)
    assert [m["tag"] for m in body["config"]["models"]] == ["static", "camera", "noise"]
    assert len(body["invocations"]) == 2 and body["created_at"] == "2026-12-02T00:39:20+0000"


def test_v1_import_run_keeps_its_provenance(tmp_path, step_eval_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = _v1_run(tmp_path, "import.yaml", os.path.relpath(step_eval_root, tmp_path), "imp")
    run = Run.open(root)
    assert run.benchmark_path.resolve() == step_eval_root.resolve()
    assert run.record.imports["kling-1.6"].engine == "kling-1.6"
    assert run.record.imports["kling-1.6"].settings == {"resolution": "720p"}
    assert run.config.subset.ids == ["anime/S/048", "anime/H/033", "anime/V/108", "real/S/073", "real/H/100", "real/V/019"]
    assert run.configured_tags() == ["kling-1.6"]


def test_v1_pipeline_run_finds_its_benchmark_from_another_directory(tmp_path, monkeypatch):
    root = _v1_run(tmp_path, "run.yaml", "runs/pipe/benchmark", "pipe")
    (root / "benchmark").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the relative path named the benchmark from tmp_path, not from here
    run = Run.open(Path("..") / "runs" / "pipe")
    assert run.benchmark_path.resolve() == (root / "benchmark").resolve()
    assert run.record.config_file == "smoke4.yaml"
    assert set(run.config.metrics) == {"motion_score", "synthetic"}
    assert run.config.report.bootstrap == 50
    assert run.record.stage_seconds and run.record.stage_seconds[0]["generate"] == 1.0


def test_newer_schema_is_refused_clearly(tmp_path):
    root = tmp_path / "r"
    root.mkdir()
    (root / "run.yaml").write_text("schema_version: 99\nconfig: {}\n")
    code = main(["report", str(root)])
    assert code == 2


def test_a_damaged_run_yaml_names_the_key(tmp_path, capsys):
    root = _v1_run(tmp_path, "generate.yaml", str(tmp_path), "bad")
    body = yaml.safe_load((root / "run.yaml").read_text())
    body["config"]["num_samples"] = "many"
    (root / "run.yaml").write_text(yaml.safe_dump(body))
    assert main(["annotate", "create-study", str(root), "--model-a", "camera", "--model-b", "static"]) == 2
    err = capsys.readouterr().err
    assert "run.yaml" in err and "config.num_samples" in err and "Traceback" not in err


# -- bad configs: one clear message, exit 2, through the commands users type ------------------------

BAD_CONFIGS = {
    "unknown-key": ("model: [{name: static}]\n", ["model: unknown key", "allowed:", "models"]),
    "wrong-type": ("models: [{name: static, params: {height: abc, width: 64}}]\n", ["models[0].params.height", "integer", "'abc'"]),
    "unknown-param": ("models: [{name: static, params: {motion_score: 5}}]\n",
                      ["models[0].params.motion_score", "model 'static' has no parameter 'motion_score'", "height"]),
    "unknown-swept-param": ("models: [{name: camera, sweep: {motion_score: [2, 5]}}]\n",
                            ["models[0].sweep.motion_score:", "model 'camera' has no parameter 'motion_score'"]),
    "unknown-subset-key": ("models: [static]\nsubset: {sampel: 3}\n", ["subset.sampel: unknown key", "sample"]),
    "bad-number": ("models: [static]\nnum_samples: 0\n", ["num_samples", "greater than 0"]),
    "unknown-model": ("models: [{name: no-such-model}]\n", ["models[0].name", "unknown model 'no-such-model'"]),
    "unknown-metric": ("models: [static]\nmetrics: {psnr: {}}\n", ["unknown metric", "psnr", "motion_score"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
@pytest.mark.parametrize("command", ["run", "generate", "check"])
def test_bad_config_gets_one_clear_message(case, command, tmp_path, capsys):
    body, expected = BAD_CONFIGS[case]
    bench = tmp_path / "bench"
    bench.mkdir()
    path = tmp_path / f"{case}.yaml"
    path.write_text(f"benchmark: {bench}\n{body}", encoding="utf-8")
    argv = {"run": ["run", str(path), "--no-progress"], "generate": ["generate", "--config", str(path)],
            "check": ["config", "check", str(path)]}[command]
    if command == "generate" and case == "unknown-metric":
        pytest.skip("generation does not read the metrics section")
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert str(path) in err
    for text in expected:
        assert text in err, err
    assert "Traceback" not in err and "ValidationError" not in err and "pydantic" not in err
    assert not (tmp_path / "runs").exists() and not Path("runs", case).exists()  # nothing was started


def test_good_config_checks_ok(tmp_path, capsys):
    path = tmp_path / "ok.yaml"
    path.write_text("benchmark: {synthetic: {n: 2}}\nmodels: [{name: static, sweep: {height: [32, 64]}, params: {width: 64}}]\n"
                    "metrics: [motion_score]\n", encoding="utf-8")
    assert main(["config", "check", str(path)]) == 0
    err = capsys.readouterr().err
    assert "static@height=32,width=64" in err and "static@height=64,width=64" in err and "motion_score" in err


def test_shipped_configs_are_valid(capsys):
    for path in sorted((Path(__file__).parents[1] / "configs").glob("*.yaml")):
        assert main(["config", "check", str(path)]) == 0, capsys.readouterr().err


def test_config_schema_is_json_schema_with_generator_params(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    out = tmp_path / "schema.json"
    assert main(["config", "schema", "--out", str(out)]) == 0
    schema = json.loads(out.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    smoke = yaml.safe_load((Path(__file__).parents[1] / "configs" / "smoke.yaml").read_text())
    assert not list(validator.iter_errors(smoke))
    bad = {**smoke, "models": [{"name": "static", "params": {"motion_score": 5}}]}
    assert list(validator.iter_errors(bad)), "an editor must flag a parameter the generator does not take"
    assert "static" in schema["$defs"]["ModelConfig"]["properties"]["name"]["enum"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 5), st.sampled_from(["models", "params", "sweep", "subset", "motion_score"])), max_size=6))
def test_key_paths_read_like_yaml(loc):
    text = key_path(tuple(loc))
    if not loc:
        assert text == "(top level)"
        return
    assert "'" not in text and " " not in text
    assert text.count("[") == sum(isinstance(p, int) for p in loc)
    if loc and isinstance(loc[0], str):
        assert text.startswith(loc[0])


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(["seed", "num_samples", "device", "sp_degree", "vbench_view", "name"]),
                       st.one_of(st.integers(-3, 9), st.booleans(), st.text(max_size=4)), max_size=4))
def test_config_round_trips_through_yaml(tmp_path_factory, fields):
    """Whatever validates is written to run.yaml and read back to the same configuration."""
    from stepeval.errors import UserError
    from stepeval.runs.schema import validate_config

    try:
        cfg = validate_config({"benchmark": "/b", "models": [{"name": "static", "tag": "static"}], **fields}, where="t")
    except UserError:
        return
    root = tmp_path_factory.mktemp("rt")
    Run.create(root, cfg)
    again = Run.open(root).config
    assert again.model_dump(exclude={"run_dir", "retry_failed"}) == RunConfig.model_validate(cfg.model_dump()).model_dump(exclude={"run_dir", "retry_failed"})


def test_run_directory_works_after_a_move(tmp_path, monkeypatch):
    """A synthetic benchmark inside the run is kept relative to it, so a moved run still finds it."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("benchmark: {synthetic: {n: 2}}\nvbench_view: false\ndevice: cpu\n"
                   "models: [{name: static, params: {height: 32, width: 32, num_frames: 5, fps: 8}}]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(cfg), "--run-dir", "first", "--no-progress"]) == 0
    assert yaml.safe_load((tmp_path / "first" / "run.yaml").read_text())["config"]["benchmark"]["path"] == "benchmark"
    shutil.move(tmp_path / "first", tmp_path / "moved")
    run = Run.open(tmp_path / "moved")
    assert len(run.load_items().items) == 2

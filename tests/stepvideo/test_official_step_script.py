"""benchmarks/gpu/official_step.py --tiny: the GPU script's every section, run on the CPU so it
cannot rot between GPU runs, and its output checked against the schema the script owns."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu" / "official_step.py"
SCHEMA = json.loads((REPO / "benchmarks" / "gpu" / "official_step.schema.json").read_text())


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("official_step") / "tiny.json"
    # aot_eager: dynamo traces the blocks as on the GPU; inductor's C++ build would add a minute.
    proc = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--steps", "1", "--out", str(out),
                           "--compile-backend", "aot_eager", "--budget-s", "1e9"],
                          capture_output=True, text=True, timeout=1800, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The per-section checkpoint is superseded by the final JSON and removed.
    assert not out.with_name("tiny.partial.json").exists()
    return json.loads(out.read_text()), proc.stdout


@pytest.mark.slow
def test_tiny_run_writes_schema_valid_json_and_a_table(tiny_result):
    result, stdout = tiny_result
    jsonschema.validate(result, SCHEMA)
    assert result["tiny"] is True and result["config"]["preset"] == "tiny"
    assert result["partial"] is False and "interrupted" not in result
    assert "eager step" in stdout and "VAE decode untiled" in stdout


@pytest.mark.slow
def test_every_section_ran_on_the_cpu(tiny_result):
    result, _ = tiny_result
    assert result["skipped"] == []
    step = result["step"]
    assert step["finite"] and step["flops_per_step"] > 0
    # The DiT built on the meta device and materialised has the preset's parameter count.
    from generators.stepvideo.config import get_preset
    from generators.stepvideo.memory import dit_params

    assert step["dit_params"] == dit_params(get_preset("tiny").dit)
    assert [v["tile_px"] is None for v in result["vae_decode"]] == [True, False]
    assert all(v["ok"] and v["frames"] == result["config"]["frames"] for v in result["vae_decode"])
    assert step["error"] is None
    # Two chunks of latents: the one-chunk estimate ran before each full decode.
    assert result["config"]["latent_shape"][0] > get_preset("tiny").vae.latents_per_chunk
    assert result["compiled"]["error"] is None and result["compiled"]["finite"]
    assert result["compiled"]["valid"] and result["compiled"]["graph_breaks"] in (0, None)
    graphs = result["compiled"]["unique_graphs"]
    # Regional compilation: the blocks share their graph instead of one compile per block.
    assert graphs is None or 1 <= graphs <= 2


@pytest.mark.slow
def test_the_step_ran_on_a_backend_the_probe_saw_work(tiny_result):
    result, _ = tiny_result
    att = result["attention"]
    ok = {p["backend"] for p in att["probes"] if p["ok"]}
    assert att["used_in_step"] in ok
    fastest = min((p for p in att["probes"] if p["ok"]), key=lambda p: p["seconds"])
    assert att["chosen"] == fastest["backend"]
    # The CPU has neither cuDNN nor the CUDA memory-efficient kernel: forcing them must fail.
    refused = {p["backend"]: p["error"] for p in att["probes"] if not p["ok"]}
    assert {"CUDNN_ATTENTION", "EFFICIENT_ATTENTION"} <= set(refused)
    assert all(refused.values())


@pytest.mark.slow
def test_schema_rejects_results_that_do_not_hold_together(tiny_result):
    result, _ = tiny_result
    broken = copy.deepcopy(result)
    del broken["step"]["tflops"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)
    broken = copy.deepcopy(result)
    broken["attention"]["probes"][0].update(ok=True, seconds=None)  # ran, but no time
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)
    broken = copy.deepcopy(result)
    broken["vae_decode"][0].update(ok=False, error=None)  # failed without saying why
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


@pytest.mark.slow
def test_schema_takes_partial_results_and_failures_recorded_as_results(tiny_result):
    result, _ = tiny_result
    # The checkpoint written after the attention section, then stopped by the time limit.
    partial = {k: v for k, v in result.items() if k not in ("step", "vae_decode", "compiled", "total_s")}
    partial.update(partial=True, interrupted="SIGTERM during the run")
    jsonschema.validate(partial, SCHEMA)
    with pytest.raises(jsonschema.ValidationError):  # a final result must have every section
        jsonschema.validate({**partial, "partial": False}, SCHEMA)
    # An eager step that ran out of memory is a result: error, no timings, no compiled step.
    oom = copy.deepcopy(result)
    oom["step"] = {k: oom["step"][k] for k in ("build_s", "dit_params", "flops_per_step", "planner_denoise_bytes")}
    oom["step"]["error"] = "FLASH_ATTENTION: out of memory: CUDA out of memory."
    oom["attention"].update(used_in_step=None, kernels=[])
    oom["compiled"] = None
    jsonschema.validate(oom, SCHEMA)
    # A compiled step with a graph break is not valid, and must say why.
    broken = copy.deepcopy(result)
    broken["compiled"].update(graph_breaks=1, valid=True)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)
    broken["compiled"].update(valid=False, invalid_reason="1 graph break(s)")
    jsonschema.validate(broken, SCHEMA)


def test_first_line_of_an_empty_message_is_the_type_name():
    import importlib.util

    spec = importlib.util.spec_from_file_location("official_step", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.first_line(RuntimeError()) == "RuntimeError"
    assert mod.first_line(RuntimeError("\n  a\nb")) == "a"
    assert mod.describe(RuntimeError("CUDA out of memory. Tried")) == "out of memory: CUDA out of memory. Tried"
    assert mod.describe(ValueError("")) == "ValueError"

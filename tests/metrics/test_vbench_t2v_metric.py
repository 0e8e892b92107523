"""VBench for text-to-video through stepeval (`vbench_t2v`), on the real vbench==0.1.5.

The user's path, as CLI commands: `stepeval generate` makes a tiny T2V run (models still and noise,
64x64, five frames: VBench's RAFT and AMT need more than 32 pixels a side, and decord misreads rows
of a 48-pixel-wide video), `stepeval score RUN --metrics vbench_t2v` scores VBench's six
custom-input dimensions with random-weight checkpoints and refuses the other ten by name, and
`stepeval report RUN` shows the VBench text-to-video table saying which dimensions are missing.

On VBench's standard prompt suite (a small full info in VBench's format, written here), the
dimensions run on the prompts VBench scores them on, files named as VBench names them, and every
per-video value and mean equals vbench's own `VBench(...).evaluate(...)` on the same videos.

Needs the VBench environment (scripts/ci_vbench.sh); skipped without it, except under CI=true.
The decisions that need no environment are tested first.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from stepeval.cli.main import main
from stepeval.errors import UserError
from stepeval.metrics.testing import write_random_weights
from stepeval.metrics.vbench_env import DRIVER
from stepeval.metrics.vbench_i2v import PER_VIDEO_SCALE
from stepeval.metrics.vbench_t2v import AGGREGATES, CUSTOM_INPUT_DIMENSIONS, DIMENSION_KEYS, metric_name
from stepeval.metrics.vbench_t2v_metric import NOT_ON_OWN_PROMPTS, parse_dimensions, score_run_vbench_t2v, split_runnable
from stepeval.runs import Run
from tests.conftest import SHARED
from tests.metrics.vbench_support import require_vbench_env

T2V_EVAL = SHARED / "benchmark" / "Step-Video-T2V-Eval"
KEYS = ["model_tag", "item_id", "sample", "metric"]
SIZE = ["--set", "height=64", "--set", "width=64", "--set", "num_frames=5", "--set", "fps=8"]
STILL, NOISE = "still@fps=8,height=64,num_frames=5,width=64", "noise@fps=8,height=64,num_frames=5,width=64"


def _generate(benchmark: Path, run_dir: Path, *args: str) -> Run:
    assert main(["generate", str(benchmark), *args, *SIZE, "--run-dir", str(run_dir)]) == 0
    return Run.open(run_dir)


def _weights(cache: Path, thome: Path) -> list[str]:
    return ["--set", "vbench_t2v.devices=cpu", "--set", f"vbench_t2v.cache_dir={cache}", "--set", f"vbench_t2v.torch_home={thome}"]


@pytest.fixture(scope="module")
def t2v_eval() -> Path:
    if not (T2V_EVAL / "Step-Video-T2V-Eval").is_file():
        pytest.skip(f"shared Step-Video-T2V-Eval copy not found at {T2V_EVAL}")
    return T2V_EVAL


# -- no environment needed ------------------------------------------------------------------------


def test_dimension_specs_and_what_runs_where():
    assert parse_dimensions(None) == parse_dimensions("all") == list(DIMENSION_KEYS)
    assert parse_dimensions("custom") == list(CUSTOM_INPUT_DIMENSIONS)
    assert parse_dimensions(["color", "dynamic_degree", "color"]) == ["color", "dynamic_degree"]
    with pytest.raises(UserError, match="unknown VBench text-to-video dimension 'colour'"):
        parse_dimensions("colour")
    assert split_runnable(DIMENSION_KEYS, suite=True) == (list(DIMENSION_KEYS), {})
    runs, refused = split_runnable(DIMENSION_KEYS, suite=False)
    assert runs == list(CUSTOM_INPUT_DIMENSIONS) and set(refused) == set(DIMENSION_KEYS) - set(CUSTOM_INPUT_DIMENSIONS)
    assert set(NOT_ON_OWN_PROMPTS) == set(refused)


def test_semantic_dimensions_on_own_prompts_are_refused_by_name(t2v_eval, tmp_path, capsys):
    run = _generate(t2v_eval, tmp_path / "run", "--ids", "001", "--model", "still")
    with pytest.raises(UserError) as info:
        score_run_vbench_t2v(run, ["color", "temporal_flickering"], env_path=tmp_path / "no-env")
    text = str(info.value)
    assert "color: " + NOT_ON_OWN_PROMPTS["color"] in text and "temporal_flickering: " in text and "vbench-t2v" in text
    capsys.readouterr()
    assert main(["score", str(run.root), "--metrics", "vbench_t2v:color"]) == 2
    assert "the colour asked for" in capsys.readouterr().out.replace("\n", " ")
    assert run.scores.read().empty  # nothing written for a dimension that cannot run


# -- the real thing: own prompts, custom-input mode --------------------------------------------------


@pytest.fixture(scope="module")
def vbench_env():
    return require_vbench_env()


@pytest.fixture(scope="module")
def weights(vbench_env):
    return write_random_weights(env_path=vbench_env.path, dims=CUSTOM_INPUT_DIMENSIONS)  # idempotent; CI's set-up wrote them


@pytest.fixture(scope="module")
def custom_run(vbench_env, weights, t2v_eval, tmp_path_factory):
    base = tmp_path_factory.mktemp("vbench-t2v")
    run = _generate(t2v_eval, base / "run", "--ids", "001", "--model", "still", "--model", "noise")
    code = main(["score", str(run.root), "--metrics", "vbench_t2v", *_weights(*weights)])
    return run, code, base


def test_custom_input_dimensions_score_every_video(custom_run, vbench_env, weights):
    run, code, _ = custom_run
    assert code == 0
    df = run.scores.latest(KEYS)
    videos = df[df["item_id"] != "*"]
    assert set(map(tuple, videos[KEYS].itertuples(index=False))) == {
        (tag, "001", 0, metric_name(d)) for tag in (STILL, NOISE) for d in CUSTOM_INPUT_DIMENSIONS}
    assert (videos["status"] == "ok").all() and all(math.isfinite(v) for v in videos["value"])
    value = videos.set_index(["model_tag", "metric"])["value"]
    # a held frame is its own subject and background, whatever the backbone's weights; dissolving noise is not
    for d in ("subject_consistency", "background_consistency"):
        assert value[(STILL, metric_name(d))] == pytest.approx(1.0, abs=1e-6)
        assert value[(NOISE, metric_name(d))] < 1.0 - 1e-3
    env = json.loads(videos.iloc[0]["env"])
    assert env["packages"]["vbench"] == "0.1.5" and env["device"] == "cpu"
    amt = env["weights"]["files"]["motion_smoothness"]["$VBENCH_CACHE_DIR/amt_model/amt-s.pth"]
    assert amt["status"] == "random-weights"
    details = json.loads(videos.iloc[0]["details"])
    assert details["mode"] == "custom input"
    # per model: each dimension's mean; the aggregates refused, naming the ten dimensions own prompts cannot have
    model = df[df["item_id"] == "*"].set_index(["model_tag", "metric"])
    for d in CUSTOM_INPUT_DIMENSIONS:
        assert model.loc[(NOISE, metric_name(d)), "value"] == pytest.approx(value[(NOISE, metric_name(d))])
    for name in AGGREGATES:
        row = model.loc[(STILL, metric_name(name))]
        assert row["status"] == "failed" and "missing dimension(s)" in row["error"]
        assert all(d in row["error"] for d in NOT_ON_OWN_PROMPTS)
    # nothing at all for the refused dimensions
    assert not df["metric"].isin([metric_name(d) for d in NOT_ON_OWN_PROMPTS]).any()


def test_rescoring_skips_what_is_done(custom_run, vbench_env, weights):
    run, _, _ = custom_run
    cache, thome = weights
    rep, refused = score_run_vbench_t2v(run, list(DIMENSION_KEYS), env_path=vbench_env.path, cache_dir=cache, torch_home=thome)
    assert rep.skipped == {d: 2 for d in CUSTOM_INPUT_DIMENSIONS} and not rep.scored and not rep.logs  # no vbench process
    assert set(refused) == set(NOT_ON_OWN_PROMPTS)


def test_vbench_check_reports_the_t2v_dimensions(vbench_env, weights, capsys):
    """`stepeval vbench check --dims t2v-custom,color`: every chosen dimension's weights, and a cost for
    those benchmarks/vbench_dims.py measured (color's is not measured: listed without one)."""
    cache, thome = weights
    capsys.readouterr()
    code = main(["vbench", "check", "--path", str(vbench_env.path), "--dims", "t2v-custom,color", "--json",
                 "--cache-dir", str(cache), "--torch-home", str(thome)])
    report = json.loads(capsys.readouterr().out)["dimensions"]
    assert list(report) == [*CUSTOM_INPUT_DIMENSIONS, "color"]
    assert all(report[d]["weights"] == "random-weights" and "cost" in report[d] for d in CUSTOM_INPUT_DIMENSIONS)
    assert report["color"]["weights"] == "missing" and "cost" not in report["color"]  # no GRiT weights here
    assert code == 1  # a chosen dimension misses a file


def test_report_shows_the_vbench_t2v_table(custom_run):
    run, _, base = custom_run
    out = base / "report"
    assert main(["report", str(run.root), "--out", str(out), "--media", "none"]) == 0
    table = pd.read_csv(out / "tables" / "vbench-t2v.csv").set_index("dimension")
    assert list(table.index) == [*DIMENSION_KEYS, *AGGREGATES]
    assert table.at["subject_consistency", STILL] == pytest.approx(1.0, abs=1e-6)
    assert table.loc[["total", "color", "temporal_flickering"], STILL].isna().all()
    md = (out / "tables" / "vbench-t2v.md").read_text(encoding="utf-8").replace("\\_", "_")
    assert f"{STILL}: Quality Score, Semantic Score, Total Score not computed: missing temporal_flickering, object_class" in md
    assert "own prompts (VBench's custom-input mode)" in md and "1 sample(s) per prompt; VBench's protocol is 5" in md
    assert "VBench (text-to-video) scores per model tag" in (out / "index.html").read_text(encoding="utf-8")


# -- the real thing: VBench's standard suite, against vbench's own entry point ------------------------

# Four prompts in VBench's format: two of them get videos on temporal_flickering and dynamic_degree
# (cheap enough to run twice here), one asks for a colour (GRiT: no weights here), one gets no video.
SUITE = [
    {"prompt_en": "In a still frame, a stop sign", "dimension": ["temporal_flickering"]},
    {"prompt_en": "a cat drinking water", "dimension": ["subject_consistency", "dynamic_degree", "motion_smoothness"]},
    {"prompt_en": "a red car", "dimension": ["color"], "auxiliary_info": {"color": {"color": "red"}}},
    {"prompt_en": "a toilet, frozen in time", "dimension": ["temporal_flickering"]},
]
SUITE_IDS = "temporal_flickering/001,subject_consistency/001,color/001"
DIMS = ["temporal_flickering", "dynamic_degree"]


@pytest.fixture(scope="module")
def suite_run(vbench_env, weights, tmp_path_factory):
    cache, thome = weights
    base = tmp_path_factory.mktemp("vbench-t2v-suite")
    full_info = base / "VBench_full_info.json"
    full_info.write_text(json.dumps(SUITE, indent=4), encoding="utf-8")
    run = _generate(full_info, base / "run", "--ids", SUITE_IDS, "--model", "noise", "--num-samples", "2")
    code = main(["score", str(run.root), "--metrics", "vbench_t2v:" + ",".join([*DIMS, "color"]), *_weights(cache, thome)])
    # vbench's own entry point on the same videos, named as its standard mode looks for them
    named = base / "named"
    named.mkdir()
    items = {"temporal_flickering/001": SUITE[0]["prompt_en"], "subject_consistency/001": SUITE[1]["prompt_en"]}
    for item, prompt in items.items():
        for k in range(2):
            os.symlink(run.video_path(NOISE, item, k), named / f"{prompt}-{k}.mp4")
    job = {"device": "cpu", "cache_dir": str(cache), "torch_home": str(thome), "threads": os.cpu_count(), "full_info": str(full_info),
           "videos_path": str(named), "name": "reference", "output_dir": str(base / "reference"), "dimensions": DIMS}
    (base / "job.json").write_text(json.dumps(job), encoding="utf-8")
    res = subprocess.run([str(vbench_env.python), str(DRIVER), "evaluate-t2v", str(base / "job.json")], capture_output=True, text=True,
                         env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}, cwd=base)
    assert res.returncode == 0, res.stderr[-3000:]
    reference = json.loads((base / "reference" / "reference_eval_results.json").read_text(encoding="utf-8"))
    return run, code, reference, items


def test_the_suite_equals_vbench_own_entry_point(suite_run):
    run, code, reference, items = suite_run
    assert code == 1  # color failed: its weights are not here
    df = run.scores.latest(KEYS)
    for dim in DIMS:
        rows = df[(df["metric"] == metric_name(dim)) & (df["item_id"] != "*")]
        assert (rows["status"] == "ok").all(), rows
        ours = {f"{items[r.item_id]}-{r.sample}.mp4": r.value for r in rows.itertuples()}
        theirs = {Path(r["video_path"]).name: float(r["video_results"]) * PER_VIDEO_SCALE.get(dim, 1.0) for r in reference[dim][1]}
        assert ours.keys() == theirs.keys() and len(ours) == 2, dim  # only the prompts VBench scores on dim
        for name, value in theirs.items():
            assert ours[name] == pytest.approx(value, abs=1e-6), (dim, name)
        model = df[(df["metric"] == metric_name(dim)) & (df["item_id"] == "*")].iloc[0]
        assert model["value"] == pytest.approx(float(reference[dim][0]), abs=1e-6), dim
    # the files were named as VBench names them (human_action reads the action from that name)
    details = json.loads(df[(df["metric"] == metric_name("dynamic_degree")) & (df["sample"] == 1)].iloc[0]["details"])
    assert details["video_name"] == "a cat drinking water-1.mp4" and details["mode"] == "standard suite"


def test_the_suite_scores_a_prompt_only_on_its_dimensions_and_names_missing_weights(suite_run):
    run, _, _, _ = suite_run
    df = run.scores.latest(KEYS)
    per_video = df[df["item_id"] != "*"]
    scored = {(r.item_id, r.metric) for r in per_video.itertuples()}
    assert scored == {("temporal_flickering/001", metric_name("temporal_flickering")),
                      ("subject_consistency/001", metric_name("dynamic_degree")), ("color/001", metric_name("color"))}
    color = per_video[per_video["metric"] == metric_name("color")]
    assert (color["status"] == "failed").all()
    assert color["error"].str.contains("missing VBench weights for color").all()
    assert color["error"].str.contains("grit_model/grit_b_densecap_objectdet.pth").all()
    total = df[(df["item_id"] == "*") & (df["metric"] == metric_name("total"))].iloc[0]
    departures = json.loads(total["details"])["protocol_departures"]
    assert departures == ["1 of the suite's 4 prompts have no video (e.g. temporal_flickering/002)",
                          "2 sample(s) per prompt; VBench's protocol is 5"]

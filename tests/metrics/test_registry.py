"""The metric registry: one name per metric on the command line, in configs and in scores.parquet;
`stepeval score` dispatching through it; a user's own metric added in-process or by an entry point."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from stepeval import pipeline_run
from stepeval.benchmark import synthetic as world
from stepeval.cli.main import main
from stepeval.errors import UserError
from stepeval.metrics import registry
from stepeval.metrics.synthetic import IMAGE_METRICS, SYNTHETIC_METRICS, _benchmark_dir
from stepeval.metrics.testing import make_toy_run
from stepeval.runs import Run

KEYS = ["model_tag", "item_id", "sample", "metric"]
BUILTIN = ("motion_score", "synthetic", "vbench_i2v", "vbench_t2v")
MODELS = [{"name": n, "tag": n, "params": {"height": 64, "width": 64, "num_frames": 17, "fps": 8}} for n in ("static", "camera")]

# A user's package: one metric writing the frame count of every video (times a setting).
PLUGIN_SOURCE = textwrap.dedent('''
    from stepeval.metrics.common import RowBuffer, run_videos, score_row
    from stepeval.metrics.registry import Metric, ScoreReport
    from stepeval.video import probe


    class Mine(Metric):
        name = "mine"
        description = "frames per video, from a user's package"
        columns = ("mine/frames",)
        settings = {"scale": "multiply the count"}

        def score(self, run, *, settings=None, model_tags=None, item_ids=None, rescore=False, log=None, progress=None):
            scale = float((settings or {}).get("scale", 1.0))
            report = ScoreReport(self.name)
            with RowBuffer(run) as buf:
                for v in run_videos(run, model_tags=model_tags, item_ids=item_ids):
                    buf.add(score_row(v, "mine/frames", probe(v.path).frames * scale))
                    report.scored += 1
            return report
''')


def _latest(run_dir: Path):
    return Run.open(run_dir).scores.latest(tuple(KEYS))


@pytest.fixture(scope="module")
def pipeline_run_dir(tmp_path_factory):
    """A run made by `stepeval run` with a smoke-like config (synthetic world, baselines, synthetic metric)."""
    tmp = tmp_path_factory.mktemp("piperun")
    cfg = {"name": "t", "benchmark": {"synthetic": {"n": 4}}, "seed": 0, "device": "cpu", "vbench_view": False,
           "models": MODELS, "metrics": {"synthetic": {}}, "report": {"bootstrap": 20, "formats": ["json"]}}
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    run_dir = tmp / "runs" / "t"
    assert main(["run", str(path), "--run-dir", str(run_dir), "--no-progress"]) == 0
    return run_dir


@pytest.fixture
def toy_run(tmp_path):
    """Toy videos (17 frames, so the motion score applies) on a 4-scene synthetic benchmark."""
    bench = world.write_smoke_benchmark(tmp_path / "bench", n=4)
    return make_toy_run(tmp_path / "run", bench, [f"s{i:03d}" for i in range(4)], frames=17)


def _values(df):
    return {tuple(k): v for k, v in zip(df[KEYS].itertuples(index=False), df["value"].round(9))}


def test_score_synthetic_writes_the_rows_stepeval_run_writes(pipeline_run_dir, capsys):
    by_run = _latest(pipeline_run_dir)
    by_run = by_run[by_run["metric"].isin(SYNTHETIC_METRICS)]
    assert len(by_run[by_run["item_id"] != "*"]) == 2 * 4 * len(IMAGE_METRICS)
    # Already scored by the run: nothing to do, exit 0.
    assert main(["score", str(pipeline_run_dir), "--metrics", "synthetic"]) == 0
    assert "synthetic" in capsys.readouterr().out
    rows_before = len(Run.open(pipeline_run_dir).scores.read())
    assert main(["score", str(pipeline_run_dir), "--metrics", "synthetic", "--rescore"]) == 0
    assert len(Run.open(pipeline_run_dir).scores.read()) > rows_before  # recomputed, appended
    again = _latest(pipeline_run_dir)
    again = again[again["metric"].isin(SYNTHETIC_METRICS)]
    assert _values(again) == _values(by_run)
    assert set(again["status"]) == {"ok"}


def test_deprecated_aliases_still_work_and_record_the_canonical_name(toy_run, capsys):
    assert main(["score", str(toy_run.root), "--metrics", "motion"]) == 0
    captured = capsys.readouterr()
    assert "'motion' is deprecated" in captured.err.replace("\n", " ") and "'motion_score'" in captured.err
    df = _latest(toy_run.root)
    assert set(df["metric"]) == {"motion_score"} and (df["status"] == "ok").all()
    spec = registry.parse_spec("vbench-i2v:dynamic_degree,i2v_subject")
    assert (spec.name, spec.settings, spec.alias) == ("vbench_i2v", {"dimensions": "dynamic_degree,i2v_subject"}, "vbench-i2v")
    assert registry.get("vbench-i2v").name == "vbench_i2v"


def test_synthetic_finds_the_benchmark_in_run_yaml(toy_run, tmp_path):
    assert _benchmark_dir(toy_run).resolve() == (tmp_path / "bench").resolve()
    assert main(["score", str(toy_run.root), "--metrics", "synthetic", "motion_score"]) == 0
    df = _latest(toy_run.root)
    per_video = df[df["item_id"] != "*"]
    assert len(per_video[per_video["metric"] == "synthetic/direction_match"]) == 8
    # The toy "static" clip is the input image throughout.
    static = per_video[(per_video["model_tag"] == "static") & (per_video["metric"] == "synthetic/first_frame_psnr")]
    assert (static["value"] > 35).all()


def test_unknown_metric_exits_2_and_lists_the_known_ones(toy_run, capsys):
    assert main(["score", str(toy_run.root), "--metrics", "sharpness"]) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert "unknown metric 'sharpness'" in err
    for name in BUILTIN:
        assert name in err
    assert _latest(toy_run.root).empty


@pytest.mark.parametrize("args,words", [
    (["--metrics", "motion_score", "--set", "motion_score.speed=3"], ["'motion_score'", "'speed'", "every", "top_fraction", "workers"]),
    (["--metrics", "synthetic", "--set", "synthetic.dims=3"], ["'synthetic'", "'dims'", "benchmark"]),
    (["--metrics", "motion_score:fast"], ["motion_score", "takes no", "selector"]),
    (["--metrics", "motion_score", "--set", "synthetic.benchmark=x"], ["not chosen", "synthetic"]),
    (["--metrics", "motion_score", "--set", "every=3"], ["METRIC.KEY=VALUE"]),
    (["--metrics", "motion_score", "--set", "motion_score.every=0"], ["every must be >= 1"]),
])
def test_bad_settings_exit_2_before_anything_is_scored(toy_run, capsys, args, words):
    assert main(["score", str(toy_run.root), *args]) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    for word in words:
        assert word in err, (word, err)
    assert _latest(toy_run.root).empty


def test_settings_reach_the_metric(toy_run):
    assert main(["score", str(toy_run.root), "--metrics", "motion_score", "--set", "motion_score.every=4"]) == 0
    import json

    details = json.loads(_latest(toy_run.root).query("item_id != '*'")["details"].iloc[0])
    assert details["settings"]["every"] == 4


def test_config_metrics_are_checked_by_the_registry(tmp_path):
    def config(metrics):
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump({"benchmark": str(tmp_path), "models": MODELS, "metrics": metrics}), encoding="utf-8")
        return path

    with pytest.raises(UserError, match="'motion_score' has no setting") as info:
        pipeline_run.load_config(config({"motion_score": {"speed": 3}}))
    assert "every" in str(info.value) and str(tmp_path / "c.yaml") in str(info.value)
    with pytest.raises(UserError, match="unknown metric") as info:
        pipeline_run.load_config(config({"motion": {}}))
    assert "motion -> motion_score" in str(info.value)
    cfg = pipeline_run.load_config(config({"motion_score": {"every": 6, "rescore": True}, "vbench_i2v": {"dimensions": "ci"}}))
    assert set(cfg.metrics) == {"motion_score", "vbench_i2v"}


def test_list_metrics_describes_what_each_writes_and_needs(capsys):
    assert main(["score", "--list-metrics"]) == 0
    out = capsys.readouterr().out
    for text in (*BUILTIN, "motion_score", "synthetic/direction_match", "synthetic/temporal_smoothness",
                 "vbench_i2v/dynamic_degree", "vbench_i2v/total", "labels.json", "VBench venv", "stepeval vbench prefetch",
                 "motion -> motion_score", "vbench-i2v -> vbench_i2v"):
        assert text in out, text


def test_every_builtin_metric_has_one_name_and_declares_its_columns():
    assert set(BUILTIN) <= set(registry.available())
    for name in BUILTIN:
        metric = registry.get(name)
        assert metric.name == name and metric.description and metric.columns
        assert all(c == name or c.startswith(name + "/") for c in metric.columns), name


# -- a user's own metric ----------------------------------------------------------------------------


def _write_package(root: Path, module: str) -> Path:
    (root / module).mkdir(parents=True)
    (root / module / "__init__.py").write_text(PLUGIN_SOURCE, encoding="utf-8")
    return root / module / "__init__.py"


def _install_dist(site: Path, module: str, entry_point: str) -> None:
    """What pip writes for a package declaring `[project.entry-points."stepeval.metrics"] ENTRY_POINT`:
    the package, plus a .dist-info with METADATA and entry_points.txt, found on sys.path."""
    _write_package(site, module)
    info = site / f"{module}-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[stepeval.metrics]\n{entry_point}\n", encoding="utf-8")


def _check_mine(run: Run, capsys, scale: float) -> None:
    assert main(["score", "--list-metrics"]) == 0
    out = capsys.readouterr().out
    assert "mine/frames" in out and "from a user's package" in out
    assert main(["score", str(run.root), "--metrics", "mine", "--set", f"mine.scale={scale}"]) == 0
    df = _latest(run.root)
    assert set(df["metric"]) == {"mine/frames"} and len(df) == 8
    assert (df["value"] == 17 * scale).all()
    assert main(["score", str(run.root), "--metrics", "mine", "--set", "mine.colour=red"]) == 2
    assert "'colour'" in capsys.readouterr().err


def test_a_metric_registered_in_process(toy_run, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("inproc_metric", _write_package(tmp_path / "src", "inproc_metric"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    registry.register(module.Mine)
    try:
        _check_mine(toy_run, capsys, 2.0)
    finally:
        registry.unregister("mine")
    assert "mine" not in registry.available()


def test_a_metric_from_an_installed_distribution(toy_run, tmp_path, monkeypatch, capsys):
    """What pip writes for a package whose pyproject.toml declares
    `[project.entry-points."stepeval.metrics"] mine = "mine_metric:Mine"`: the package, plus a
    .dist-info with METADATA and entry_points.txt, found by importlib.metadata on sys.path."""
    site = tmp_path / "site"
    _install_dist(site, "mine_metric", "mine = mine_metric:Mine")
    assert "mine" not in registry.available()
    monkeypatch.syspath_prepend(str(site))
    registry.refresh()
    try:
        assert "mine" in registry.available()
        _check_mine(toy_run, capsys, 3.0)
    finally:
        monkeypatch.undo()
        sys.modules.pop("mine_metric", None)
        registry.refresh()
    assert "mine" not in registry.available()


def test_an_entry_point_whose_metric_has_another_name_is_refused(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _install_dist(site, "renamed_metric", "not-mine = renamed_metric:Mine")
    monkeypatch.syspath_prepend(str(site))
    registry.refresh()
    try:
        with pytest.raises(UserError, match="one name"):
            registry.get("not-mine")
    finally:
        monkeypatch.undo()
        sys.modules.pop("renamed_metric", None)
        registry.refresh()

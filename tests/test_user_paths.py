"""The README's user paths as CLI tests: each command reads what the one before it wrote.

For runs made by each writer of run.yaml (`stepeval generate`, `stepeval generate import`,
`stepeval run`) the walk is the tour's: generate -> `stepeval score` -> `stepeval annotate
create-study` (from another working directory, with a relative run path, in its own process) -> the
annotation app (Streamlit AppTest: sign in with the printed token, judge two items) -> `stepeval
annotate export` -> `stepeval annotate import` (a fresh store, and a study with A and B the other way
round) -> `stepeval report --annotations --labels`. The assertions are what a user would check: the
run's prompts in index.html, the run's item count (not the benchmark's), Table 2 equal to the
judgments made, the motion scores per model, run.yaml at schema_version 2.

No file that one command writes for another is written by hand here: run.yaml, the videos, the
scores, the study, the tokens and the judgments all come from the earlier commands of the same walk
(only what a user writes is: the run config, the engine's folder of videos, the label file).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml

from stepeval.cli.main import main
from stepeval.human import DIMENSION_NAMES, AnnotationStore
from stepeval.human.dimensions import to_screen

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "annotation_app" / "app.py")
SMALL_PARAMS = {"height": 64, "width": 64, "num_frames": 17, "fps": 8}

# The two judgments entered in the app, in model terms (A = the study's model A). Per dimension,
# from A's side: instruction_adherence W1 T1 L0, consistency W1 T0 L1, physical_laws W2 T0 L0.
JUDGMENTS = [
    {"instruction_adherence": "A", "consistency": "A", "physical_laws": "A"},
    {"instruction_adherence": "tie", "consistency": "B", "physical_laws": "A"},
]


def expected_wtl() -> dict[str, tuple[int, int, int]]:
    out = {}
    for dim in DIMENSION_NAMES:
        got = [j[dim] for j in JUDGMENTS]
        out[dim] = (got.count("A"), got.count("tie"), got.count("B"))
    return out


def stepeval(*args, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """The installed console script, in its own process (its own working directory)."""
    exe = shutil.which("stepeval")
    cmd = [exe] if exe else [sys.executable, "-m", "stepeval.cli.main"]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


def printed_tokens(out: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(\S+): (\S{40,})$", out, flags=re.M))


@dataclass
class Made:
    """A run one writer made, and what the test knows about it independently of run.yaml."""

    writer: str
    root: Path
    work: Path
    items: list[str]
    prompts: dict[str, str]
    model_a: str
    model_b: str
    tags: list[str] = field(default_factory=list)


# -- the three writers ----------------------------------------------------------------------------


def _step_eval_prompts(step_eval_root: Path, ids: list[str]) -> dict[str, str]:
    from stepeval.benchmark import load_benchmark

    by_id = {it.id: it.prompt for it in load_benchmark(step_eval_root, "step-video-ti2v-eval", verify=False).items}
    return {i: by_id[i] for i in ids}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("user-paths")


@pytest.fixture(scope="module")
def made_by_generate(work, step_eval_root) -> Made:
    """`stepeval generate BENCH --model static --model camera --present-only --sample 6 --name quick`,
    run from `work`: the run lands in work/runs/quick."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        code = main(["generate", str(step_eval_root), "--model", "static", "--model", "camera", "--present-only", "--sample", "6",
                     "--name", "quick", "--set", "height=64", "--set", "width=96", "--set", "num_frames=17", "--set", "fps=8"])
    assert code == 0
    root = work / "runs" / "quick"
    tags = sorted(p.name for p in (root / "videos").iterdir())
    assert [t.split("@")[0] for t in tags] == ["camera", "static"]
    ids = sorted(p.relative_to(root / "videos" / tags[0]).with_suffix("").as_posix() for p in (root / "videos" / tags[0]).rglob("*.mp4"))
    assert len(ids) == 6
    return Made("generate", root, work, ids, _step_eval_prompts(step_eval_root, ids), model_a=tags[0], model_b=tags[1], tags=tags)


@pytest.fixture(scope="module")
def made_by_import(work, made_by_generate, step_eval_root) -> Made:
    """Two engines' videos (copies of what `generate` wrote) imported with `--ids` into a new run, in
    batches of three items, as an engine delivers them. The run's items are the union of what the
    invocations selected (run.yaml `items`), not one invocation's `--ids`."""
    src = made_by_generate
    ids = src.items
    run_dir = work / "runs" / "imported"
    for engine, tag, batches in (("kling-1.6", src.tags[0], [ids[:3], ids[3:]]), ("hailuo-02", src.tags[1], [ids[3:], ids[:3]])):
        folder = work / "engine-out" / engine
        for item_id in ids:
            dst = folder / f"{item_id}.mp4"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src.root / "videos" / tag / f"{item_id}.mp4", dst)
        for batch in batches:
            code = main(["generate", "import", str(step_eval_root), str(folder), "--engine", engine, "--ids", ",".join(batch),
                         "--date", "2025-03-01", "--run-dir", str(run_dir)])
            assert code == 0
    return Made("import", run_dir, work, ids, src.prompts, model_a="kling-1.6", model_b="hailuo-02", tags=["kling-1.6", "hailuo-02"])


@pytest.fixture(scope="module")
def made_by_run(work) -> Made:
    """`stepeval run CONFIG --run-dir runs/pipeline` on the synthetic world (4 scenes, three baselines)."""
    cfg = {
        "name": "pipeline", "benchmark": {"synthetic": {"n": 4}}, "seed": 0, "device": "cpu", "vbench_view": False,
        "models": [{"name": m, "tag": m, "params": SMALL_PARAMS} for m in ("camera", "static", "noise")],
        "metrics": {"motion_score": {}}, "report": {"bootstrap": 20, "formats": ["html", "json", "csv"]},
    }
    (work / "configs").mkdir(exist_ok=True)
    path = work / "configs" / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        assert main(["run", "configs/pipeline.yaml", "--run-dir", "runs/pipeline", "--no-progress"]) == 0
    root = work / "runs" / "pipeline"
    # The synthetic world is written as NAME.png + NAME.txt: read the prompts from the files themselves.
    prompts = {p.stem: p.read_text(encoding="utf-8") for p in sorted((root / "benchmark").glob("*.txt"))}
    assert len(prompts) == 4
    return Made("run", root, work, sorted(prompts), prompts, model_a="camera", model_b="static", tags=["camera", "static", "noise"])


WRITERS = {"generate": "made_by_generate", "import": "made_by_import", "run": "made_by_run"}


@pytest.fixture(params=list(WRITERS))
def made(request) -> Made:
    return request.getfixturevalue(WRITERS[request.param])


# -- the app -----------------------------------------------------------------------------------------


@pytest.fixture
def restore_main_module():
    """AppTest runs the app as `__main__` and leaves it in sys.modules; put the real one back (later
    tests that spawn worker processes would re-run the app)."""
    saved = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = saved


def judge_in_app(run_root: Path, token: str, study_id: str, monkeypatch) -> list[str]:
    """Sign in with `token` and judge the first two items on all three dimensions as JUDGMENTS says.
    Returns the item ids judged, in order."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("STEPEVAL_ANNOTATE_RUN", str(run_root.resolve()))  # what `stepeval annotate serve` passes
    monkeypatch.delenv("STEPEVAL_ANNOTATE_DB", raising=False)
    store = AnnotationStore.open(run_root=run_root)
    ident = store.authenticate(token)
    queue = store.queue(ident.annotator_id)

    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="token_input").input(token)
    at = at.button(key="signin").click().run()
    at = at.button(key="tutorial_done").click().run()
    judged = []
    for n, wanted in enumerate(JUDGMENTS):
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        caption = next(str(c.value) for c in at.caption if str(c.value).startswith("Item "))
        assert caption.startswith(f"Item {n + 1} of {len(queue)}")
        task = queue[n]
        # The page shows the item's image, both videos and the prompt the run's benchmark has.
        assert len(at.get("video")) == 2 and len(at.get("image")) == 1
        prompt = store.item(study_id, task.item_id).prompt.strip()
        assert prompt in "\n".join(str(m.value) for m in at.markdown)
        for dim in DIMENSION_NAMES:
            radio = next(r for r in at.radio if r.key.startswith(f"{dim}:"))
            radio.set_value(to_screen(wanted[dim], task.swapped).capitalize())
        at = at.run().button(key="submit").click().run()
        judged.append(task.item_id)
    assert not at.exception
    store.close()
    return judged


# -- reading a report as a user would ---------------------------------------------------------------


def report_facts(report: Path) -> dict[str, str]:
    text = (report / "index.html").read_text(encoding="utf-8")
    return {k: html.unescape(v) for k, v in re.findall(r"<dt>([^<]*)</dt>\s*<dd>([^<]*)</dd>", text)}


def table2_from_a(report: Path, model_a: str, model_b: str) -> dict[str, tuple[int, int, int]]:
    """Table 2 (tables/table2.csv) summed over domains, per dimension, as W/T/L; a report of one
    study reads it from the study's model A's side."""
    t2 = pd.read_csv(report / "tables" / "table2.csv", keep_default_na=False)
    pair = t2[(t2["focal"] == model_a) & (t2["opponent"] == model_b)]
    assert len(pair), f"no Table 2 row with {model_a} as focal against {model_b}: {t2[['focal', 'opponent']].drop_duplicates().values.tolist()}"
    return {dim: (int(rows["wins"].sum()), int(rows["ties"].sum()), int(rows["losses"].sum())) for dim, rows in pair.groupby("dimension")}


def expected_table2() -> dict[str, tuple[int, int, int]]:
    per_dim = expected_wtl()
    total = tuple(sum(v[k] for v in per_dim.values()) for k in range(3))
    return {**per_dim, "total": total}


# -- the walk ------------------------------------------------------------------------------------------


def test_walk_generate_score_study_app_export_import_report(made: Made, monkeypatch, restore_main_module, capsys):
    root, n = made.root, len(made.items)

    # run.yaml: the one contract, at version 2, with the run's own items.
    record = yaml.safe_load((root / "run.yaml").read_text(encoding="utf-8"))
    assert record["schema_version"] == 2
    assert sorted(record["items"]) == made.items

    # stepeval score
    assert main(["score", str(root), "--metrics", "motion_score"]) == 0
    scores = pd.read_parquet(root / "scores.parquet")
    motion = scores[(scores["metric"] == "motion_score") & (scores["item_id"] != "*")]
    for tag in made.tags:
        assert sorted(motion.loc[motion["model_tag"] == tag, "item_id"].unique()) == made.items, tag
    capsys.readouterr()

    # stepeval annotate create-study, from another working directory, with a relative run path
    elsewhere = made.work / f"elsewhere-{made.writer}"
    elsewhere.mkdir(exist_ok=True)
    rel = os.path.relpath(root, elsewhere)
    study_id = f"study-{made.writer}"
    res = stepeval("annotate", "create-study", rel, "--model-a", made.model_a, "--model-b", made.model_b, "--study-id", study_id,
                   "--annotator", "alice", cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    assert f"{n} items" in res.stdout, res.stdout
    tokens = printed_tokens(res.stdout)
    assert set(tokens) == {"admin", "alice"}, res.stdout
    assert (root / "annotations.sqlite").is_file() and not any(elsewhere.iterdir())  # nothing lands in the working directory

    # the app: sign in with the printed token, judge two items on all three dimensions
    judged = judge_in_app(root, tokens["alice"], study_id, monkeypatch)
    assert len(set(judged)) == 2 and set(judged) <= set(made.items)

    # stepeval annotate export
    jfile = made.work / f"judgments-{made.writer}.jsonl"
    assert main(["annotate", "export", str(root), str(jfile)]) == 0
    rows = [json.loads(line) for line in jfile.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2 * len(DIMENSION_NAMES)
    got = {(r["item_id"], r["dimension"]): r["outcome"] for r in rows}
    assert got == {(item, dim): JUDGMENTS[k][dim] for k, item in enumerate(judged) for dim in DIMENSION_NAMES}
    assert {(r["model_a"], r["model_b"], r["annotator"], r["study_id"]) for r in rows} == {(made.model_a, made.model_b, "alice", study_id)}

    # stepeval annotate import: into a fresh store; again into the run's own store (adds nothing);
    # into a study that compares the same models the other way round (outcomes flip to its side)
    capsys.readouterr()
    fresh = made.work / f"fresh-{made.writer}.sqlite"
    assert main(["annotate", "import", str(root), str(jfile), "--db", str(fresh)]) == 0
    assert f"imported {len(judged)} judgment(s), 0 already stored" in capsys.readouterr().out  # a judgment: one item, three labels
    assert main(["annotate", "import", str(root), str(jfile)]) == 0
    assert f"imported 0 judgment(s), {len(judged)} already stored" in capsys.readouterr().out
    reverse = made.work / f"reverse-{made.writer}.sqlite"
    assert main(["annotate", "create-study", str(root), "--model-a", made.model_b, "--model-b", made.model_a, "--study-id", "reverse",
                 "--db", str(reverse)]) == 0
    assert main(["annotate", "import", str(root), str(jfile), "--study", "reverse", "--db", str(reverse)]) == 0
    flipped = made.work / f"reverse-{made.writer}.jsonl"
    assert main(["annotate", "export", str(root), str(flipped), "--study", "reverse", "--db", str(reverse)]) == 0
    back = {(r["item_id"], r["dimension"]): r["outcome"] for r in map(json.loads, flipped.read_text(encoding="utf-8").splitlines())}
    assert back == {k: {"A": "B", "B": "A"}.get(v, v) for k, v in got.items()}

    # stepeval report RUN --annotations judgments.jsonl --labels labels.csv (categories of the report's
    # Table 1; both domains have these two)
    labels = made.work / f"labels-{made.writer}.csv"
    categories = {item: ("I2V Subject" if k % 2 == 0 else "I2V Background") for k, item in enumerate(made.items)}
    labels.write_text("item_id,category\n" + "".join(f"{i},{c}\n" for i, c in categories.items()), encoding="utf-8")
    capsys.readouterr()
    assert main(["report", str(root), "--annotations", str(jfile), "--labels", str(labels), "--bootstrap", "20"]) == 0
    report = root / "report"
    index = html.unescape((report / "index.html").read_text(encoding="utf-8"))
    missing_prompts = [i for i, p in made.prompts.items() if p.strip() not in index]
    assert not missing_prompts, f"prompts of {missing_prompts} are not in the report"
    facts = report_facts(report)
    assert facts["items"] == str(n), facts
    assert facts["human judgments"] == str(len(rows))
    data = json.loads((report / "report.json").read_text(encoding="utf-8"))
    tables = {t["key"]: t for t in data["tables"]}
    assert sorted(r["item_id"] for r in tables["run-items"]["rows"]) == made.items
    assert table2_from_a(report, made.model_a, made.model_b) == expected_table2()
    # the motion score of every model, as scores.parquet has it
    by_domain = pd.read_csv(report / "tables" / "scores-by-domain.csv")
    ms = by_domain[by_domain["metric"] == "motion_score"]
    for tag in made.tags:
        rows_t = ms[ms["model_tag"] == tag]
        assert int(rows_t["videos"].sum()) == n, tag
        mean = float((rows_t["mean"] * rows_t["videos"]).sum() / n)
        assert mean == pytest.approx(float(motion.loc[motion["model_tag"] == tag, "value"].mean()), rel=1e-6), tag
    # the labels: a per-category breakdown with the categories given
    by_category = [t for k, t in tables.items() if k.endswith("by-category")]
    assert by_category, sorted(tables)
    assert {"I2V Subject", "I2V Background"} <= {str(v) for t in by_category for r in t["rows"] for v in r.values()}

    # the same report from the fresh store the judgments were imported into
    again = made.work / f"report-from-store-{made.writer}"
    assert main(["report", str(root), "--annotations", str(fresh), "--bootstrap", "0", "--format", "csv", "--out", str(again)]) == 0
    assert table2_from_a(again, made.model_a, made.model_b) == expected_table2()


# -- run.yaml read back by the commands that take a config ----------------------------------------------


def test_run_yaml_is_a_config_that_generate_and_config_check_read(made_by_generate, made_by_run, monkeypatch, capsys):
    """The tour's `stepeval generate --config runs/quick/run.yaml`: the run.yaml `stepeval generate`
    wrote is the config of that same run, so reading it back resumes it and makes nothing new."""
    root = made_by_generate.root
    assert main(["config", "check", str(root / "run.yaml")]) == 0
    assert "ok (2 model setting(s)" in capsys.readouterr().err
    assert main(["config", "check", str(made_by_run.root / "run.yaml")]) == 0
    before = yaml.safe_load((root / "run.yaml").read_text(encoding="utf-8"))
    monkeypatch.chdir(made_by_generate.work)
    assert main(["generate", "--config", "runs/quick/run.yaml"]) == 0
    assert not (made_by_generate.work / "runs" / "step-video-ti2v-eval").exists()  # not a new run named after the benchmark
    summary = json.loads((root / "summary.json").read_text(encoding="utf-8"))["generation"]
    assert summary["this_invocation"] == {"ok": 0, "failed": 0, "refused": 0, "already_done": 12}
    after = yaml.safe_load((root / "run.yaml").read_text(encoding="utf-8"))
    assert after["items"] == before["items"] and len(after["invocations"]) == len(before["invocations"]) + 1
    assert after["config"]["benchmark"] == before["config"]["benchmark"]


# -- stepeval annotate serve -----------------------------------------------------------------------------


def test_annotate_serve_from_another_directory_answers_on_localhost(made_by_generate, tmp_path, capsys):
    """`stepeval annotate serve RUN` (relative path, another working directory) on 127.0.0.1: healthy,
    serves the app page, stops on SIGTERM. A run without a study is refused with the fix."""
    from tests.human.helpers import serving

    made = made_by_generate
    db = tmp_path / "serve.sqlite"
    assert main(["annotate", "serve", str(made.root), "--db", str(db)]) == 2
    assert "no study" in capsys.readouterr().err
    assert main(["annotate", "create-study", str(made.root), "--model-a", made.model_a, "--model-b", made.model_b,
                 "--annotator", "alice", "--db", str(db)]) == 0
    capsys.readouterr()

    cwd = tmp_path / "somewhere"
    cwd.mkdir()
    printed: list[str] = []
    with serving(os.path.relpath(made.root, cwd), db=str(db), timeout_s=90, cwd=cwd, output=printed) as (base, _):
        with urllib.request.urlopen(base, timeout=10) as r:
            assert r.status == 200 and "<html" in r.read().decode("utf-8", errors="replace").lower()
    assert base in printed[0] and "?view=admin" in printed[0]

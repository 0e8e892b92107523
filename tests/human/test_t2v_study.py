"""A human study of text-to-video videos, walked with the real commands: `stepeval generate` (still
and noise on text-only items of Step-Video-T2V-Eval) -> `stepeval annotate create-study` (the t2v
template by default) -> the Streamlit app (prompt and two videos, no image, four questions) ->
`stepeval annotate export` -> `stepeval report` (the four T2V dimensions, rows per category)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from stepeval.benchmark.items import T2V, TI2V
from stepeval.cli.main import main
from stepeval.human import PROTOCOLS, AnnotationStore, create_study_from_run, dimension_label, import_judgments, to_outcome
from stepeval.runs import Run
from tests.conftest import SHARED
from tests.human.test_app import APP, _item_caption, _restore_main_module, _sign_in, _texts  # noqa: F401  (fixture)

T2V_EVAL = SHARED / "benchmark" / "Step-Video-T2V-Eval"
SMALL = ["--set", "height=32", "--set", "width=48", "--set", "num_frames=5", "--set", "fps=8"]
SETTINGS = "@fps=8,height=32,num_frames=5,width=48"
STILL, NOISE = f"still{SETTINGS}", f"noise{SETTINGS}"
T2V_NAMES = PROTOCOLS[T2V].dimension_names
SCREEN = ("left", "tie", "right")


def said(capsys) -> str:
    captured = capsys.readouterr()
    return " ".join((captured.out + captured.err).split())  # rich wraps long lines


@pytest.fixture(scope="module")
def t2v_run(tmp_path_factory) -> Path:
    """A run `stepeval generate` wrote: still and noise on 6 prompts, one per category (stratified)."""
    if not (T2V_EVAL / "Step-Video-T2V-Eval").is_file():
        pytest.skip(f"shared Step-Video-T2V-Eval copy not found at {T2V_EVAL} (set STEPEVAL_SHARED); CI always has it")
    run = tmp_path_factory.mktemp("t2v-study") / "t2v-run"
    rc = main(["generate", str(T2V_EVAL), "--model", "still", "--model", "noise", *SMALL, "--sample", "6", "--seed", "0",
               "--run-dir", str(run)])
    assert rc == 0
    return run


@pytest.fixture
def run_dir(t2v_run, tmp_path) -> Path:
    dst = tmp_path / t2v_run.name
    shutil.copytree(t2v_run, dst)
    return dst


def _categories(run_dir: Path) -> dict[str, str]:
    return {it.id: it.domain for it in Run.open(run_dir).load_items().items}


def test_a_t2v_run_gets_the_t2v_template_by_default(run_dir, capsys):
    rc = main(["annotate", "create-study", str(run_dir), "--model-a", STILL, "--model-b", NOISE, "--study-id", "t"])
    assert rc == 0, said(capsys)
    assert "protocol t2v: Instruction following, Motion smoothness, Physical plausibility, Aesthetic appeal" in said(capsys)
    store = AnnotationStore.open(run_root=run_dir)
    info = store.study("t")
    assert info.protocol is PROTOCOLS[T2V] and tuple(d.name for d in info.dimensions) == T2V_NAMES
    assert info.benchmark["protocol"] == T2V and info.benchmark["task"] == T2V
    categories = _categories(run_dir)
    assert set(info.item_ids) == set(categories) and len(set(categories.values())) == 6
    for item_id in info.item_ids:
        item = store.item("t", item_id)
        assert item.image_path is None and item.prompt and item.domain == categories[item_id]
    assert main(["annotate", "status", str(run_dir), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["protocol"] == T2V and tuple(status["dimensions"]) == T2V_NAMES


def test_the_ti2v_template_still_refuses_items_without_an_image(run_dir, capsys):
    rc = main(["annotate", "create-study", str(run_dir), "--model-a", STILL, "--model-b", NOISE, "--protocol", "ti2v"])
    assert rc == 2
    text = said(capsys)
    assert "6 item(s) have no input image, which the ti2v protocol shows" in text
    assert "--protocol t2v" in text  # the fix names the template that fits
    assert AnnotationStore.open(run_root=run_dir).study_ids() == []
    # Left out item by item, nothing is left.
    assert main(["annotate", "create-study", str(run_dir), "--model-a", STILL, "--model-b", NOISE, "--protocol", "ti2v",
                 "--exclude-missing"]) == 2
    text = said(capsys)
    assert "no item has both videos and an image" in text and "--protocol t2v" in text


def test_an_unknown_protocol_is_one_clear_error_naming_the_choices(run_dir, capsys):
    rc = main(["annotate", "create-study", str(run_dir), "--model-a", STILL, "--model-b", NOISE, "--protocol", "i2v"])
    assert rc == 2
    text = said(capsys)
    assert "unknown study protocol 'i2v'" in text and "ti2v" in text and "t2v" in text
    assert "Traceback" not in text
    assert not (run_dir / "annotations.sqlite").exists() or AnnotationStore.open(run_root=run_dir).study_ids() == []


def test_judge_in_the_app_export_and_report(run_dir, tmp_path, capsys, monkeypatch):
    """The user's path: four questions and no image in the app; the export names the four
    dimensions; the report has them as headings and one row per category."""
    assert main(["annotate", "create-study", str(run_dir), "--model-a", STILL, "--model-b", NOISE, "--study-id", "t",
                 "--study-seed", "3"]) == 0
    capsys.readouterr()
    store = AnnotationStore.open(run_root=run_dir)
    token = store.add_annotator("t", "alice")
    ident = store.authenticate(token)
    queue = store.queue(ident.annotator_id)
    assert len(queue) == 6
    monkeypatch.setenv("STEPEVAL_ANNOTATE_RUN", str(run_dir))
    monkeypatch.delenv("STEPEVAL_ANNOTATE_DB", raising=False)

    at = _sign_in(AppTest.from_file(APP, default_timeout=60).run(), token)
    tutorial = _texts(at)
    assert "The four questions" in tutorial and "There is no input image" in tutorial
    for name in T2V_NAMES:  # every question with its guideline, worded once in dimensions.py
        dim = next(d for d in PROTOCOLS[T2V].dimensions if d.name == name)
        assert dim.title in tutorial and dim.guideline in tutorial
    at = at.button(key="tutorial_done").click().run()
    assert not at.exception

    expected: dict[tuple[str, str], str] = {}  # (item, dimension) -> outcome from model A's side
    for n in range(len(queue)):
        assert _item_caption(at).startswith(f"Item {n + 1} of 6")
        task = queue[n]
        assert len(at.get("video")) == 2 and len(at.get("image")) == 0  # no image panel
        assert not any("input image" in w.value for w in at.warning)
        assert store.item("t", task.item_id).prompt.strip() in _texts(at)
        radios = [r for r in at.radio if r.key.endswith(f":{task.id}")]
        assert [r.key.split(":")[0] for r in radios] == list(T2V_NAMES)
        for k, radio in enumerate(radios):
            label = SCREEN[(n + k) % 3]
            radio.set_value(label.capitalize())
            expected[(task.item_id, radio.key.split(":")[0])] = to_outcome(label, task.swapped)
        at = at.run().button(key="submit").click().run()
        assert not at.exception
    assert "All done" in _texts(at)

    frame = store.judgments_frame("t")
    assert len(frame) == 6 * 4 and set(frame["dimension"]) == set(T2V_NAMES)
    assert {(r.item_id, r.dimension): r.outcome for r in frame.itertuples()} == expected

    export = tmp_path / "judgments.jsonl"
    assert main(["annotate", "export", str(run_dir), str(export)]) == 0
    rows = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 24 and {r["dimension"] for r in rows} == set(T2V_NAMES)
    categories = _categories(run_dir)
    assert all(r["domain"] == categories[r["item_id"]] and r["aspect"] == "" for r in rows)

    out = tmp_path / "report"
    rc = main(["report", str(run_dir), "--annotations", str(export), "--out", str(out), "--format", "md,csv",
               "--media", "none", "--bootstrap", "20"])
    assert rc == 0, said(capsys)
    labels = [dimension_label(n) for n in T2V_NAMES]
    assert labels == ["Instruction Following", "Motion Smoothness", "Physical Plausibility", "Aesthetic Appeal"]
    table2 = (out / "tables" / "table2.md").read_text(encoding="utf-8")
    positions = [table2.index(f"| {label} |") for label in labels]
    assert positions == sorted(positions)  # in the template's order
    for ti2v_label in (dimension_label(n) for n in PROTOCOLS[TI2V].dimension_names):
        assert f"| {ti2v_label} |" not in table2

    # Per category: every (dimension, category) cell counts that category's one item, from still's side.
    by_category = pd.read_csv(out / "tables" / "pairwise-by-domain.csv", keep_default_na=False)
    assert list(dict.fromkeys(by_category["dimension"])) == list(T2V_NAMES)
    assert set(by_category["group"]) == set(categories.values())
    assert set(by_category["opponent"]) == {NOISE}
    words = {"A": "wins", "tie": "ties", "B": "losses"}
    for (item_id, dim), outcome in expected.items():
        row = by_category[(by_category["dimension"] == dim) & (by_category["group"] == categories[item_id])].iloc[0]
        assert row["n"] == 1 and row[words[outcome]] == 1
    # Text-to-video items have no aspect: no breakdown of nothing but "(none)".
    assert not (out / "tables" / "pairwise-by-aspect.csv").exists()
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "per-item W-T-L by domain" in report and all(label in report for label in labels)


def test_an_export_of_a_t2v_study_imports_as_a_t2v_study(run_dir, tmp_path):
    store = AnnotationStore.open(run_root=run_dir)
    create_study_from_run(store, Run.open(run_dir), STILL, NOISE, study_id="t")
    token = store.add_annotator("t", "bob")
    ident = store.authenticate(token)
    for n, task in enumerate(store.queue(ident.annotator_id)):
        store.submit(task.id, annotator_id=ident.annotator_id, submission_id=f"b{n}",
                     labels={d: SCREEN[(n + k) % 3] for k, d in enumerate(T2V_NAMES)})
    export = tmp_path / "j.csv"
    assert main(["annotate", "export", str(run_dir), str(export), "--view", "model"]) == 0
    fresh = AnnotationStore.open(db=str(tmp_path / "fresh.sqlite"))
    report = import_judgments(fresh, export)
    assert report.judgments == 6 and report.partial == 0
    info = fresh.study("t")
    assert info.protocol is PROTOCOLS[T2V] and tuple(d.name for d in info.dimensions) == T2V_NAMES
    pd.testing.assert_frame_equal(
        fresh.judgments_frame("t")[["item_id", "dimension", "outcome"]].sort_values(["item_id", "dimension"]).reset_index(drop=True),
        store.judgments_frame("t")[["item_id", "dimension", "outcome"]].sort_values(["item_id", "dimension"]).reset_index(drop=True),
    )


def test_a_ti2v_run_can_be_judged_with_the_t2v_questions(run_copy):
    """On purpose: the t2v template on a TI2V run asks about the prompt and the videos only, so the
    study keeps no image and the app shows none."""
    run, ids = run_copy
    store = AnnotationStore.open(run_root=run.root)
    from tests.human.helpers import MODEL_A, MODEL_B

    create_study_from_run(store, run, MODEL_A, MODEL_B, study_id="default")
    assert store.study("default").protocol is PROTOCOLS[TI2V]
    assert all(store.item("default", i).image_path for i in ids)  # the TI2V path as before
    create_study_from_run(store, run, MODEL_A, MODEL_B, study_id="asked", protocol="T2V")
    info = store.study("asked")
    assert info.protocol is PROTOCOLS[T2V] and tuple(d.name for d in info.dimensions) == T2V_NAMES
    assert all(store.item("asked", i).image_path is None for i in ids)


def test_studies_stored_before_templates_read_back_with_their_questions(tmp_path):
    """Databases written before templates existed record no template (benchmark info None, or without
    the key): they read back as the template their stored dimensions belong to."""
    from stepeval.human import ItemInfo

    store = AnnotationStore.open(db=str(tmp_path / "old.sqlite"))
    items = [ItemInfo("001", "sports", "", "a prompt", None)]
    store.create_study("old", run_name="r", model_a="a", model_b="b", items=items)  # as the old code wrote it
    store.create_study("old-meta", run_name="r", model_a="a", model_b="b", items=items, benchmark={"name": "x"})
    store.create_study("t2v-dims", run_name="r", model_a="a", model_b="b", items=items,
                       dimensions=PROTOCOLS[T2V].dimensions, benchmark={"name": "x"})
    store.close()
    again = AnnotationStore.open(db=str(tmp_path / "old.sqlite"))
    assert again.study("old").benchmark is None and again.study("old").protocol is PROTOCOLS[TI2V]
    assert again.study("old-meta").protocol is PROTOCOLS[TI2V]
    assert again.study("t2v-dims").protocol is PROTOCOLS[T2V]
    assert again.item("old", "001").image_path is None


@pytest.mark.browser
def test_a_fourth_dimension_is_answered_by_keyboard_in_chromium(run_dir):
    """Keys 1-9 answer the first three questions, Q W E the fourth (a T2V study's aesthetic appeal)."""
    from tests.browser import chromium_page
    from tests.human.helpers import serving

    store = AnnotationStore.open(run_root=run_dir)
    create_study_from_run(store, Run.open(run_dir), STILL, NOISE, study_id="t")
    token = store.add_annotator("t", "alice")
    first = store.queue(store.authenticate(token).annotator_id)[0]
    four_ready = ("() => window.__stepevalSync === true && "
                  "document.querySelectorAll('[data-testid=\"stRadio\"]').length === 4")
    with serving(run_dir) as (base, _), chromium_page() as page:
        page.set_viewport_size({"width": 1280, "height": 1600})
        page.goto(base)
        page.get_by_label("Access token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Start").click()
        page.wait_for_function(four_ready, timeout=60_000)
        assert page.locator('[data-testid="stImage"]').count() == 0
        page.evaluate("document.activeElement && document.activeElement.blur()")
        for key in ("1", "5", "9", "w"):
            page.keyboard.press(key)
        page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stRadio\"] input:checked').length === 4",
                               timeout=20_000)
        page.keyboard.press("Enter")
        page.get_by_text("Item 2 of").wait_for(timeout=20_000)
    stored = store.judgments_frame("t").set_index("dimension")
    assert set(stored["task_id"]) == {first.id}
    assert stored["screen_label"].to_dict() == dict(zip(T2V_NAMES, ("left", "tie", "right", "tie")))

"""`annotate import`'s one validator: a judgments file is imported exactly or refused whole.

One test per way an import could flip or lose judgments, each failing on the import as it was, then a
property-based test: random files (JSONL and CSV, shuffled, rows in every view, models either way
round, fields missing, conflicting or malformed) are either imported exactly (what export gives back
is what the file said) or refused whole, naming the file and the line, with the store unchanged.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import sqlite3
import uuid
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from stepeval.cli.main import main
from stepeval.errors import UserError
from stepeval.human import DIMENSION_NAMES, AnnotationStore, ItemInfo, export_judgments, import_judgments, to_screen
from stepeval.human.io import ImportRefused
from tests.human.helpers import MODEL_A, MODEL_B

DIMS = list(DIMENSION_NAMES)
FLIP = {"A": "B", "B": "A", "tie": "tie", None: None}


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _db_state(store: AnnotationStore) -> tuple[dict, str]:
    """Row counts per table and a hash of every row of every table."""
    from stepeval.human.db import sqlite_path

    con = sqlite3.connect(sqlite_path(store.url))
    try:
        tables = [t for (t,) in con.execute("select name from sqlite_master where type='table' order by name")]
        counts, h = {}, hashlib.sha256()
        for t in tables:
            rows = sorted(repr(r) for r in con.execute(f'select * from "{t}"'))
            counts[t] = len(rows)
            h.update(f"{t}:{len(rows)}\n".encode())
            for r in rows:
                h.update(r.encode() + b"\n")
    finally:
        con.close()
    return counts, h.hexdigest()


def _vendor_rows(item: str, annotator: str = "v1", **extra) -> list[dict]:
    return [{"item_id": item, "annotator": annotator, "dimension": d, "outcome": o, "model_a": MODEL_A, "model_b": MODEL_B,
             "created_at": "2025-01-02T03:04:05+00:00", **extra} for d, o in zip(DIMS, ["A", "tie", "B"])]


# -- one test per finding --------------------------------------------------------------------------


def test_rows_of_one_task_that_disagree_on_swapped_are_refused(study, tmp_path):
    """Three rows that all say model A won, two of them from a swapped screen: the old import took the
    first row's swapped for the task and mapped the others' screen labels with it (A/B/B)."""
    store = study["store"]
    before = _db_state(store)
    item = study["ids"][0]
    rows = [{"item_id": item, "annotator": "v1", "dimension": d, "screen_label": s, "swapped": w, "created_at": "2025-01-02T03:04:05+00:00"}
            for d, s, w in zip(DIMS, ["left", "right", "right"], [False, True, True])]
    path = _write_jsonl(tmp_path / "sides.jsonl", rows)
    with pytest.raises(ImportRefused, match=r"sides.jsonl: line 2: rows of one task .*disagree on swapped") as exc:
        import_judgments(store, path, study_id=study["study_id"])
    assert exc.value.problems[0][0] == 2 and "lines 2, 3: true; line 1: false" in exc.value.problems[0][1]
    assert _db_state(store) == before
    # said consistently, they import, and every row keeps its outcome A
    rows[0].update(screen_label="right", swapped=True)
    import_judgments(store, _write_jsonl(path, rows), study_id=study["study_id"])
    got = store.judgments_frame(study["study_id"]).query("annotator == 'v1'")
    assert list(got["outcome"]) == ["A", "A", "A"] and list(got["screen_label"]) == ["right"] * 3


def test_a_study_judged_on_fewer_dimensions_imports(study, tmp_path):
    store = study["store"]
    a, b = study["ids"][:2]
    rows = _vendor_rows(a) + _vendor_rows(b)[:1]  # item b: instruction adherence only
    path = _write_jsonl(tmp_path / "fewer.jsonl", rows)
    report = import_judgments(store, path, study_id=study["study_id"])
    assert (report.judgments, report.rows, report.partial) == (2, 4, 1)
    got = store.judgments_frame(study["study_id"]).query("annotator == 'v1'")
    assert sorted(zip(got["item_id"], got["dimension"], got["outcome"])) == sorted(
        (r["item_id"], r["dimension"], r["outcome"]) for r in rows)
    # and round-trips: exported and imported again, nothing is added
    out = tmp_path / "back.jsonl"
    export_judgments(store, out, study_id=study["study_id"])
    again = import_judgments(store, out)
    assert again.judgments == 0 and again.duplicate_rows == len(store.judgments_frame(study["study_id"]))


def test_items_that_are_not_in_the_run_are_refused(study, tmp_path):
    store = study["store"]
    before = _db_state(store)
    rows = _vendor_rows(study["ids"][0]) + _vendor_rows("real/H/999", annotator="v2")
    path = _write_jsonl(tmp_path / "items.jsonl", rows)
    with pytest.raises(ImportRefused) as exc:  # the run is the one the study was made from
        import_judgments(store, path, study_id=study["study_id"])
    assert [n for n, _ in exc.value.problems] == [4, 5, 6]
    assert all("item 'real/H/999' is not an item of the run" in reason for _, reason in exc.value.problems)
    assert _db_state(store) == before
    # given explicitly (the CLI passes the run's items), also into a fresh store
    fresh = AnnotationStore(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    with pytest.raises(ImportRefused, match="not an item of the run"):
        import_judgments(fresh, path, study_id="new", run_items=study["ids"])
    assert fresh.study_ids() == []


def test_a_misspelled_study_id_is_refused_not_made_a_new_study(study, tmp_path):
    store = study["store"]
    before = _db_state(store)
    path = _write_jsonl(tmp_path / "typo.jsonl", _vendor_rows(study["ids"][0], study_id="s1x"))
    with pytest.raises(ImportRefused, match=r"typo.jsonl: line 1: no study 's1x' in .*holds s1\)\n  fix: .*--study.*--new-study") as exc:
        import_judgments(store, path)
    assert len(exc.value.problems) == 1
    assert _db_state(store) == before and store.study_ids() == ["s1"]
    # on purpose: --new-study
    report = import_judgments(store, path, new_study=True)
    assert report.judgments == 1 and store.study_ids() == ["s1", "s1x"]


def test_import_refuses_the_model_tags_generate_import_refuses(tmp_path):
    store = AnnotationStore(f"sqlite:///{tmp_path / 'a.sqlite'}")
    rows = [{**r, "model_a": "<script>", "study_id": "s"} for r in _vendor_rows("real/H/001")]
    with pytest.raises(ImportRefused, match=r"line 1: invalid model tag '<script>'") as exc:
        import_judgments(store, _write_jsonl(tmp_path / "tags.jsonl", rows))
    assert [n for n, _ in exc.value.problems] == [1, 2, 3]
    assert store.study_ids() == []


def test_import_and_export_count_judgments_and_rows_alike(study, tmp_path, capsys):
    store, root = study["store"], str(study["run"].root)
    for name, tok in study["tokens"].items():
        ident = store.authenticate(tok)
        for n, task in enumerate(store.queue(ident.annotator_id)):
            store.submit(task.id, annotator_id=ident.annotator_id, labels={d: "left" for d in DIMS}, submission_id=f"{name}-{n}")
    judgments = store.count_judgments(study["study_id"])
    out = tmp_path / "j.jsonl"
    capsys.readouterr()
    assert main(["annotate", "export", root, str(out)]) == 0
    rows = len(out.read_text(encoding="utf-8").splitlines())
    assert rows == 3 * judgments
    assert f"wrote {rows} rows ({judgments} judgment(s); one row per judgment and dimension)" in capsys.readouterr().out
    assert main(["annotate", "import", root, str(out), "--db", str(tmp_path / "other.sqlite")]) == 0
    assert f"imported {judgments} judgment(s), 0 already stored ({rows} row(s) imported, 0 already stored;" in capsys.readouterr().out
    assert main(["annotate", "import", root, str(out)]) == 0
    assert f"imported 0 judgment(s), {judgments} already stored (0 row(s) imported, {rows} already stored;" in capsys.readouterr().out


def test_cli_refuses_an_unknown_study_and_items_outside_the_run(study, tmp_path, capsys):
    root = str(study["run"].root)
    path = _write_jsonl(tmp_path / "t.jsonl", _vendor_rows(study["ids"][0], study_id="s2") + _vendor_rows("real/H/999", annotator="v2", study_id="s2"))
    assert main(["annotate", "import", root, str(path), "--new-study"]) == 2
    err = capsys.readouterr().err
    assert "t.jsonl: line 4: item 'real/H/999' is not an item of the run" in err and "nothing was imported" in err
    path = _write_jsonl(path, _vendor_rows(study["ids"][0], study_id="s2"))
    assert main(["annotate", "import", root, str(path)]) == 2
    assert "no study 's2'" in capsys.readouterr().err
    assert main(["annotate", "import", root, str(path), "--new-study"]) == 0
    assert AnnotationStore.open(run_root=study["run"].root).study_ids() == ["s1", "s2"]


def test_every_problem_is_listed_with_its_line(study, tmp_path):
    store = study["store"]
    good = _vendor_rows(study["ids"][0])
    rows = [good[0], {**good[1], "outcome": "maybe"}, {**good[2], "seconds": "soon"}, {**good[0], "annotator": ""}, good[0]]
    path = tmp_path / "many.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    with pytest.raises(ImportRefused) as exc:
        import_judgments(store, path, study_id=study["study_id"])
    assert [n for n, _ in exc.value.problems] == [3, 4, 5, 6]  # the CSV header is line 1
    text = str(exc.value)
    assert text.startswith(f"{path}: 4 problems; nothing was imported")
    assert f"{path}: line 6: a second instruction_adherence answer" in text


def test_a_clash_with_the_store_leaves_nothing_written(study, tmp_path):
    """The old import wrote task by task: judgments before the clashing one stayed."""
    store = study["store"]
    ident = store.authenticate(study["tokens"]["alice"])
    task = next(t for t in store.queue(ident.annotator_id) if not t.is_gold)
    before = _db_state(store)
    rows = _vendor_rows(study["ids"][1], annotator="v1") + [
        {"item_id": task.item_id, "annotator": "alice", "dimension": d, "screen_label": "left", "swapped": not task.swapped,
         "created_at": "2025-01-03T00:00:00+00:00"} for d in DIMS]
    path = _write_jsonl(tmp_path / "clash.jsonl", rows)
    with pytest.raises(ImportRefused, match=r"clash.jsonl: line 4: annotator 'alice'.*the stored task says"):
        import_judgments(store, path, study_id=study["study_id"])
    assert _db_state(store) == before


# -- property: imported exactly, or refused whole ---------------------------------------------------

ITEMS = {"real/H/001": ("real", "H"), "real/V/002": ("real", "V"), "anime/H/003": ("anime", "H"), "anime/V/004": ("anime", "V")}
BASE = ("base", ("m-a@motion=5", "m-b"))
GEN = ("gen", ("g-a", "g-b@x=1"))
REPS = ("both", "model", "screen", "both_noswap")
BAD = ("no_field", "bad_outcome", "bad_bool", "bad_tag", "foreign_item", "bad_seconds", "swapped_clash", "duplicate",
       "other_study", "seconds_clash", "no_label", "bad_dimension", "malformed", "label_clash")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A store holding study `base` with an earlier import, copied for every example."""
    root = tmp_path_factory.mktemp("import-template")
    store = AnnotationStore(f"sqlite:///{root / 'template.sqlite'}")
    store.create_study("base", run_name="r", model_a=BASE[1][0], model_b=BASE[1][1],
                       items=[ItemInfo(i, d, a, "", None) for i, (d, a) in ITEMS.items()], with_admin_token=False)
    old = [{"study_id": "base", "item_id": i, "annotator": "old", "dimension": d, "outcome": "A", "created_at": "2024-01-01T00:00:00+00:00"}
           for i in ITEMS for d in DIMS]
    import_judgments(store, _write_jsonl(root / "old.jsonl", old), run_items=list(ITEMS))
    store.close()
    assert not (root / "template.sqlite-wal").exists() or (root / "template.sqlite-wal").stat().st_size == 0
    return root / "template.sqlite"


@st.composite
def cases(draw):
    """A truth (tasks, their judgments), the file's rows rendering it, and at most a few bad edits."""
    target, models = draw(st.sampled_from([BASE, GEN]))
    keys = draw(st.lists(st.tuples(st.sampled_from(["ann0", "ann1", "ann2"]), st.sampled_from(sorted(ITEMS)),
                                   st.sampled_from([False, False, False, True])), min_size=1, max_size=4, unique=True))
    truth = []  # one dict per row
    tasks = []
    for k, (ann, item, gold) in enumerate(keys):
        swapped = False if gold else draw(st.booleans())
        task_id = draw(st.sampled_from([None, f"task-{k}"]))
        tasks.append({"key": (ann, item, gold), "swapped": swapped, "rows": []})
        previous = None
        for rev in range(draw(st.integers(1, 2))):
            dims = draw(st.lists(st.sampled_from(DIMS), min_size=1, max_size=3, unique=True))
            cannot = draw(st.sampled_from([False] * 5 + [True]))
            labels = {d: draw(st.sampled_from(["A", "tie", "B"] + ([None] if cannot else []))) for d in dims}
            if (labels, cannot) == previous:
                continue  # the same answer again is no new judgment
            previous = (labels, cannot)
            seconds = draw(st.one_of(st.none(), st.integers(0, 10**5).map(lambda v: v / 1000)))
            source = draw(st.sampled_from([None, "app", "import", "auto"]))
            created = f"2025-01-01T00:{k:02d}:{rev:02d}+00:00"
            for d in dims:
                outcome = labels[d]
                if gold and outcome is not None:  # a gold item's outcome is the clicked side read as left=A
                    outcome = {"left": "A", "tie": "tie", "right": "B"}[to_screen(outcome, False)]
                row = {"ann": ann, "item": item, "gold": gold, "dim": d, "outcome": outcome, "swapped": swapped, "cannot": cannot,
                       "seconds": seconds, "source": source, "created": created, "task_id": task_id, "task": k,
                       "rep": draw(st.sampled_from(REPS)), "models": draw(st.sampled_from([True, True, False])), "flip": False,
                       "domain": draw(st.booleans()), "keep_seconds": draw(st.sampled_from([True, True, False]))}
                row["flip"] = row["models"] and draw(st.booleans())
                truth.append(row)
                tasks[-1]["rows"].append(row)
    order = draw(st.permutations(range(len(truth))))
    truth = [truth[i] for i in order]
    # A row without model columns is read in the study's order of the models: for a new study, that
    # of the first row naming them.
    first = next((t for t in truth if t["models"]), None)
    study_flipped = target == "gen" and first is not None and first["flip"]
    for t in truth:
        if not t["models"]:
            t["flip"] = study_flipped
    fmt = draw(st.sampled_from(["jsonl", "csv"]))
    bad = draw(st.lists(st.sampled_from(BAD), max_size=2)) if draw(st.booleans()) else []
    picks = [draw(st.integers(0, 10**6)) for _ in bad]
    return {"target": target, "models": models, "truth": truth, "fmt": fmt, "bad": bad, "picks": picks}


def _render(t: dict, target: str, models: tuple[str, str]) -> dict:
    """One truth row as a file row (in the file's own order of the models when flipped)."""
    rec = {"study_id": target, "item_id": t["item"], "annotator": t["ann"], "dimension": t["dim"], "created_at": t["created"]}
    flip = t["flip"] and not t["gold"]
    outcome = FLIP[t["outcome"]] if flip else t["outcome"]
    swapped = (not t["swapped"]) if flip else t["swapped"]
    screen = to_screen(t["outcome"], t["swapped"]) if t["outcome"] else None
    rep = t["rep"]
    if outcome is not None and rep in ("both", "model", "both_noswap"):
        rec["outcome"] = outcome
    if screen is not None and rep in ("both", "screen", "both_noswap"):
        rec["screen_label"] = screen
    if rep in ("both", "screen"):
        rec["swapped"] = swapped
    if t["models"]:
        rec["model_a"], rec["model_b"] = (models[1], models[0]) if t["flip"] else models
    if t["gold"]:
        rec["is_gold"] = True
    if t["cannot"]:
        rec["cannot_judge"] = True
    if t["seconds"] is not None and t["keep_seconds"]:
        rec["seconds"] = t["seconds"]
    if t["source"]:
        rec["source"] = t["source"]
    if t["task_id"]:
        rec["task_id"] = t["task_id"]
    if t["domain"]:
        rec["domain"], rec["aspect"] = ITEMS[t["item"]]
    return rec


def _spoil(case: dict, recs: list[dict]) -> tuple[list[dict], set[int], list[int]]:
    """Apply the case's bad edits; returns the records, the indexes the problems may be found at, and
    indexes of records to write as malformed lines."""
    truth, touched, malformed = case["truth"], set(), []
    for kind, pick in zip(case["bad"], case["picks"]):
        i = pick % len(recs)
        t = truth[i] if i < len(truth) else None
        same_task = [j for j, u in enumerate(truth) if t and u["task"] == t["task"]]
        same_judgment = [j for j in same_task if truth[j]["created"] == t["created"]]
        if kind == "swapped_clash" and (len(same_task) < 2 or t["gold"]):
            kind = "bad_bool"
        if kind == "seconds_clash" and len(same_judgment) < 2:
            kind = "bad_seconds"
        if kind == "no_label" and recs[i].get("cannot_judge"):
            kind = "bad_dimension"
        rec = recs[i]
        touched.add(i)
        if kind == "no_field":
            rec.pop(["item_id", "annotator", "dimension"][pick % 3], None)
        elif kind == "bad_outcome":
            rec["outcome"] = "maybe"
        elif kind == "bad_bool":
            rec["swapped"] = "perhaps"
        elif kind == "bad_tag":
            rec["model_a"], rec["model_b"] = "<script>", "m-b"
        elif kind == "foreign_item":
            rec["item_id"] = "zz/Z/999"
        elif kind == "bad_seconds":
            rec["seconds"] = "soon"
        elif kind == "swapped_clash":  # two rows of one task, each consistent in itself, on different sides
            j = next(j for j in same_task if j != i)
            for k, side in ((i, not t["swapped"]), (j, t["swapped"])):
                u = truth[k]
                recs[k].pop("model_a", None), recs[k].pop("model_b", None)
                recs[k]["swapped"] = side
                recs[k].pop("screen_label", None)
                if u["outcome"] is not None:
                    recs[k]["outcome"] = u["outcome"]
                    recs[k]["screen_label"] = to_screen(u["outcome"], side)
            touched.update(same_task)
        elif kind == "duplicate":
            recs.append(dict(rec))
            touched.add(len(recs) - 1)
        elif kind == "other_study":
            rec["study_id"] = case["target"] + "x"
            touched.update(range(len(recs)))
        elif kind == "seconds_clash":
            for k, v in zip(same_judgment[:2], (1.5, 2.5)):
                recs[k]["seconds"] = v
            touched.update(same_judgment)
        elif kind == "no_label":
            rec.pop("screen_label", None), rec.pop("outcome", None)
        elif kind == "bad_dimension":
            rec["dimension"] = "motion"
        elif kind == "malformed":
            malformed.append(i)
        elif kind == "label_clash":
            rec["screen_label"], rec["outcome"] = "tie", "A"
    return recs, touched, malformed


def _write_case(path: Path, fmt: str, recs: list[dict], malformed: list[int]) -> list[int]:
    """Write the file; returns each record's line number."""
    if fmt == "jsonl":
        lines = ["{not json" if i in malformed else json.dumps(r) for i, r in enumerate(recs)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return [i + 1 for i in range(len(recs))]
    columns = sorted({k for r in recs for k in r})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for i, r in enumerate(recs):
        w.writerow({k: (str(v) if v is not None else "") for k, v in r.items()})
    lines = buf.getvalue().splitlines()
    for i in malformed:
        lines[i + 1] += ",extra"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [i + 2 for i in range(len(recs))]


def _expected(case: dict, recs: list[dict]) -> set[tuple]:
    """What export must give back for the file's rows, in the truth's order of the models."""
    truth, target = case["truth"], case["target"]
    side_known = {}
    for t in truth:
        said = t["rep"] in ("both", "screen") or (t["rep"] == "both_noswap" and t["outcome"] not in (None, "tie"))
        side_known[t["task"]] = side_known.get(t["task"], False) or said
    first = next((t for t in truth if t["models"]), None)
    reversed_ = target == "gen" and first is not None and first["flip"]
    out = set()
    for t in truth:
        group = [u for u in truth if u["task"] == t["task"] and u["created"] == t["created"]]
        seconds = next((u["seconds"] for u in group if u["seconds"] is not None and u["keep_seconds"]), None)
        if t["gold"]:
            swapped = reversed_  # stored unswapped, read back in the truth's order
            screen = to_screen(t["outcome"], False) if t["outcome"] else None
        else:
            swapped = t["swapped"] if side_known[t["task"]] else reversed_
            screen = to_screen(t["outcome"], swapped) if t["outcome"] else None
        out.add((t["ann"], t["item"], t["gold"], t["dim"], t["created"], t["outcome"], screen, swapped, t["cannot"], seconds,
                 "auto" if t["source"] == "auto" else "import"))
    return out


def _exported(store: AnnotationStore, path: Path, study: str, truth_models: tuple[str, str]) -> set[tuple]:
    export_judgments(store, path, study_id=study, include_superseded=True)
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["annotator"] == "old":
            continue
        outcome, swapped = r["outcome"], r["swapped"]
        if (r["model_a"], r["model_b"]) != truth_models and not r["is_gold"]:
            outcome, swapped = FLIP[outcome], not swapped
        elif (r["model_a"], r["model_b"]) != truth_models:
            swapped = not swapped
        out.add((r["annotator"], r["item_id"], r["is_gold"], r["dimension"], r["created_at"], outcome, r["screen_label"], swapped,
                 r["cannot_judge"], r["seconds"], r["source"]))
    return out


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=cases())
def test_import_is_exact_or_refused_whole(template, case):
    work = template.parent / uuid.uuid4().hex
    work.mkdir()
    store = None
    try:
        shutil.copy(template, work / "s.sqlite")
        store = AnnotationStore(f"sqlite:///{work / 's.sqlite'}")
        recs = [_render(t, case["target"], case["models"]) for t in case["truth"]]
        recs, touched, malformed = _spoil(case, recs)
        path = work / f"j.{case['fmt']}"
        line_of = _write_case(path, case["fmt"], recs, malformed)
        before = _db_state(store)
        names_models = any("model_a" in r for r in recs)
        must_refuse = bool(case["bad"]) or (case["target"] == "gen" and not names_models)
        try:
            report = import_judgments(store, path, run_items=list(ITEMS), new_study=case["target"] == "gen")
        except UserError as exc:
            assert must_refuse, f"refused a good file: {exc}"
            assert str(exc).startswith(str(path)), str(exc)
            assert _db_state(store) == before, "a refused import changed the store"
            event(f"refused: {'+'.join(case['bad']) or 'no model named'}")
            assert isinstance(exc, ImportRefused), str(exc)
            if case["bad"]:
                lines = {line_of[i] for i in touched}
                if "other_study" in case["bad"]:  # the file's study may then be a new one that lacks its models
                    lines.add(None)
                assert any(n in lines for n, _ in exc.problems), (exc.problems, lines)
                assert all(n is None or 1 <= n <= max(line_of) for n, _ in exc.problems)
            return
        assert not must_refuse, f"imported a bad file ({case['bad']})"
        event(f"imported ({case['fmt']}, {case['target']})")
        truth_models = case["models"]
        assert _exported(store, work / "out.jsonl", case["target"], truth_models) == _expected(case, recs)
        judgments = {(t["task"], t["created"]) for t in case["truth"]}
        assert (report.judgments, report.rows, report.duplicates) == (len(judgments), len(recs), 0)
        after = _db_state(store)
        again = import_judgments(store, path, run_items=list(ITEMS))
        assert (again.judgments, again.duplicates, again.duplicate_rows) == (0, len(judgments), len(recs))
        assert _db_state(store) == after
    finally:
        if store is not None:
            store.close()
        shutil.rmtree(work, ignore_errors=True)

"""The annotation store on real SQLite (and PostgreSQL when CI provides one)."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from stepeval.errors import UserError
from stepeval.human import (
    DIMENSION_NAMES,
    FRAME_COLUMNS,
    AnnotationStore,
    AuthError,
    ItemInfo,
    create_study_from_run,
    to_outcome,
    to_screen,
)
from stepeval.human.assignment import balance, is_swapped
from tests.human.helpers import MODEL_A, MODEL_B, make_run

REPO = Path(__file__).resolve().parents[2]
ALL_LEFT = {d: "left" for d in DIMENSION_NAMES}


def _contract_columns() -> list[str]:
    """The column names of the human judgments table in docs/data-contracts.md."""
    text = (REPO / "docs" / "data-contracts.md").read_text(encoding="utf-8")
    section = text.split("## Human judgments frame", 1)[1]
    names: list[str] = []
    for line in section.splitlines():
        m = re.match(r"^\| ([a-z_, ]+) \|", line)
        if m and m.group(1).strip() != "column":
            names += [n.strip() for n in m.group(1).split(",")]
    return names


def _plain_study(store: AnnotationStore, n_items: int, annotators: list[str], overlap: int, gold: int = 0, seed: int = 0) -> dict[str, str]:
    items = [ItemInfo(f"real/H/{i:03d}", "real", "H", f"提示 {i}", None) for i in range(1, n_items + 1)]
    store.create_study("s", run_name="r", model_a="ma", model_b="mb", items=items, overlap=overlap, gold_per_annotator=gold, seed=seed)
    return {a: store.add_annotator("s", a) for a in annotators}


def test_frame_columns_are_the_contract():
    assert FRAME_COLUMNS == _contract_columns()


def test_screen_and_model_views_map_both_ways():
    assert to_outcome("left", False) == "A" and to_outcome("left", True) == "B"
    assert to_outcome("right", False) == "B" and to_outcome("right", True) == "A"
    assert to_outcome("tie", True) == "tie"
    for label in ("left", "tie", "right"):
        for swapped in (False, True):
            assert to_screen(to_outcome(label, swapped), swapped) == label


def test_swaps_are_seeded_and_both_sides_occur():
    items = [f"real/H/{i:03d}" for i in range(40)]
    first = [is_swapped(3, i, "alice") for i in items]
    assert first == [is_swapped(3, i, "alice") for i in items]
    assert 10 < sum(first) < 30
    assert first != [is_swapped(4, i, "alice") for i in items]


def test_overlap_balance_and_gold(tmp_path):
    store = AnnotationStore(f"sqlite:///{tmp_path / 'a.sqlite'}")
    tokens = _plain_study(store, 10, ["a", "b", "c"], overlap=2, gold=2, seed=5)
    coverage: Counter = Counter()
    loads = {}
    for name, tok in tokens.items():
        queue = store.queue(store.authenticate(tok).annotator_id)
        regular = [t for t in queue if not t.is_gold]
        gold = [t for t in queue if t.is_gold]
        assert len({t.item_id for t in regular}) == len(regular)  # never the same item twice
        coverage.update(t.item_id for t in regular)
        loads[name] = len(regular)
        assert len(gold) == 2 and all(t.left_tag == t.right_tag for t in gold)
        for t in regular:
            assert (t.left_tag, t.right_tag) == (("mb", "ma") if t.swapped else ("ma", "mb"))
    assert set(coverage.values()) == {2} and len(coverage) == 10
    assert max(loads.values()) - min(loads.values()) <= 1


def test_balance_keeps_started_tasks_when_someone_joins():
    items = [f"i{n}" for n in range(6)]
    first = balance(items, ["a", "b"], 2, 0, {})
    assert all(v == {"a", "b"} for v in first.values())
    started = {i: {"a": True, "b": i == "i0"} for i in items}
    second = balance(items, ["a", "b", "c"], 2, 0, started)
    assert all("a" in v and len(v) == 2 for v in second.values())  # a's judged tasks stay
    assert "b" in second["i0"]
    assert sum("c" in v for v in second.values()) >= 2  # the newcomer gets a share of the rest


def test_submit_is_idempotent_and_reanswers_supersede(db_url):
    store = AnnotationStore(db_url)
    tokens = _plain_study(store, 3, ["alice"], overlap=1)
    ident = store.authenticate(tokens["alice"])
    task = store.queue(ident.annotator_id)[0]
    first = store.submit(task.id, annotator_id=ident.annotator_id, labels=ALL_LEFT, submission_id="sub-1", seconds=4.0)
    again = store.submit(task.id, annotator_id=ident.annotator_id, labels=ALL_LEFT, submission_id="sub-1", seconds=4.0)
    other_tab = store.submit(task.id, annotator_id=ident.annotator_id, labels=ALL_LEFT, submission_id="sub-2", seconds=5.0)
    assert first.created and not again.created and not other_tab.created
    assert again.judgment_id == other_tab.judgment_id == first.judgment_id
    changed = {**ALL_LEFT, "physical_laws": "tie"}
    second = store.submit(task.id, annotator_id=ident.annotator_id, labels=changed, submission_id="sub-3", seconds=2.0)
    assert second.created and second.revision == 2
    assert store.count_judgments("s") == 2 and store.count_judgments("s", include_superseded=False) == 1
    frame = store.judgments_frame("s")
    assert len(frame) == 3 and list(frame.columns) == FRAME_COLUMNS
    row = frame.set_index("dimension").loc["physical_laws"]
    assert row.screen_label == "tie" and row.outcome == "tie"
    expected_a = "B" if task.swapped else "A"
    assert (frame.loc[frame.dimension != "physical_laws", "outcome"] == expected_a).all()
    history = store.judgments_frame("s", include_superseded=True)
    assert len(history) == 6 and history["superseded"].sum() == 3
    assert store.queue(ident.annotator_id)[0].answer["labels"] == changed
    with pytest.raises(UserError, match="no answer for"):
        store.submit(task.id, annotator_id=ident.annotator_id, labels={"consistency": "left"}, submission_id="sub-4")
    broken = store.submit(store.queue(ident.annotator_id)[1].id, annotator_id=ident.annotator_id, labels={}, submission_id="sub-5", cannot_judge=True)
    assert broken.created
    flagged = store.judgments_frame("s").query("cannot_judge")
    assert len(flagged) == 3 and flagged["outcome"].isna().all()
    store.close()


def test_tokens_hashed_unknown_revoked_and_roles(study):
    store, sid = study["store"], study["study_id"]
    alice = study["tokens"]["alice"]
    db_bytes = (study["run"].root / "annotations.sqlite").read_bytes()
    assert alice.encode() not in db_bytes and study["admin"].encode() not in db_bytes
    assert store.authenticate(alice).role == "annotator"
    assert store.authenticate(study["admin"]).role == "admin"
    with pytest.raises(AuthError, match="unknown token"):
        store.authenticate("not-a-token")
    with pytest.raises(AuthError, match="admin token"):
        store.authenticate(alice, role="admin")
    ident = store.authenticate(alice)
    task = next(t for t in store.queue(ident.annotator_id) if not t.is_gold)
    store.submit(task.id, annotator_id=ident.annotator_id, labels=ALL_LEFT, submission_id="x")
    before = store.judgments_frame(sid)
    moved = store.revoke_annotator(sid, "alice")
    assert moved >= 1
    with pytest.raises(AuthError, match="revoked"):
        store.authenticate(alice)
    with pytest.raises(AuthError, match="revoked"):
        store.submit(task.id, annotator_id=ident.annotator_id, labels={**ALL_LEFT, "consistency": "tie"}, submission_id="y")
    after = store.judgments_frame(sid)
    assert after.equals(before)  # revoking keeps what alice judged
    remaining = [t for t in store.queue(ident.annotator_id) if not t.is_gold]
    assert [t.id for t in remaining] == [task.id]  # her unstarted tasks went to bob


def test_missing_videos_are_refused_with_the_list(tmp_path, step_eval_root):
    run, ids = make_run(tmp_path, step_eval_root, n_items=3, skip={MODEL_B: None} if False else {MODEL_B: ["anime/H/015"]})
    store = AnnotationStore.open(run_root=run.root)
    with pytest.raises(UserError) as err:
        create_study_from_run(store, run, MODEL_A, MODEL_B, study_id="s")
    msg = str(err.value)
    assert "anime/H/015" in msg and MODEL_B in msg and "1 of 3" in msg and "--exclude-missing" in msg
    with pytest.raises(UserError, match="no videos/nosuchmodel/ folder"):
        create_study_from_run(store, run, MODEL_A, "nosuchmodel", study_id="s")
    assert store.study_ids() == []  # nothing half-created
    sid, _ = create_study_from_run(store, run, MODEL_A, MODEL_B, study_id="s", exclude_missing=True)
    info = store.study(sid)
    assert "anime/H/015" not in info.item_ids and len(info.item_ids) == 2
    assert info.benchmark["excluded_items"] == ["anime/H/015"]


def test_locked_database_is_a_clear_error_and_loses_nothing(tmp_path):
    path = tmp_path / "a.sqlite"
    store = AnnotationStore(f"sqlite:///{path}")
    tokens = _plain_study(store, 2, ["alice"], overlap=1)
    ident = store.authenticate(tokens["alice"])
    tasks = store.queue(ident.annotator_id)
    store.submit(tasks[0].id, annotator_id=ident.annotator_id, labels=ALL_LEFT, submission_id="a")
    impatient = AnnotationStore(f"sqlite:///{path}", busy_timeout_s=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(UserError, match="locked by another process") as err:
            impatient.submit(tasks[1].id, annotator_id=ident.annotator_id, labels=ALL_LEFT, submission_id="b")
        assert str(path) in str(err.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert impatient.submit(tasks[1].id, annotator_id=ident.annotator_id, labels=ALL_LEFT, submission_id="b").created
    assert store.count_judgments() == 2


def test_read_only_database_is_a_clear_error_and_still_exports(tmp_path):
    path = tmp_path / "a.sqlite"
    store = AnnotationStore(f"sqlite:///{path}")
    tokens = _plain_study(store, 2, ["alice"], overlap=1)
    ident = store.authenticate(tokens["alice"])
    tasks = store.queue(ident.annotator_id)
    store.submit(tasks[0].id, annotator_id=ident.annotator_id, labels=ALL_LEFT, submission_id="a")
    store.close()
    # A read-only open, as for a file on a read-only mount (chmod does not stop root, who runs CI).
    ro = AnnotationStore(f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(UserError, match="read-only") as err:
        ro.submit(tasks[1].id, annotator_id=ident.annotator_id, labels=ALL_LEFT, submission_id="b")
    assert "chmod" in str(err.value)
    assert len(ro.judgments_frame("s")) == 3
    ro.close()
    assert AnnotationStore(f"sqlite:///{path}").count_judgments() == 1

"""The Streamlit app in-process (streamlit.testing AppTest) against a real run and store."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from stepeval.human import DIMENSION_NAMES

APP = str(Path(__file__).resolve().parents[2] / "annotation_app" / "app.py")


@pytest.fixture
def app_env(study, monkeypatch):
    monkeypatch.setenv("STEPEVAL_ANNOTATE_RUN", str(study["run"].root))
    monkeypatch.delenv("STEPEVAL_ANNOTATE_DB", raising=False)
    return study


@pytest.fixture(autouse=True)
def _restore_main_module():
    """AppTest runs the app as `__main__` and leaves it in sys.modules; multiprocessing's spawn
    start method re-imports `__main__` in every child, so later tests in this process that spawn
    workers would re-run the Streamlit app. Put the real `__main__` back after each test."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def _app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def _sign_in(at: AppTest, token: str) -> AppTest:
    at.text_input(key="token_input").input(token)
    return at.button(key="signin").click().run()


def _texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "error", "warning", "success", "header", "subheader", "title") for e in getattr(at, kind)]
    return "\n".join(map(str, parts))


def _item_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if str(c.value).startswith("Item "))


def _current_task(store, ident, at: AppTest):
    n = int(_item_caption(at).split()[1]) - 1
    return store.queue(ident.annotator_id)[n]


def _radio(at: AppTest, dim: str):
    return next(r for r in at.radio if r.key.startswith(f"{dim}:"))


def _judge(at: AppTest, labels: list[str]) -> AppTest:
    for dim, label in zip(DIMENSION_NAMES, labels):
        _radio(at, dim).set_value(label.capitalize())
    return at.run()


def test_wrong_token_is_refused(app_env):
    at = _sign_in(_app(), "definitely-not-a-token")
    assert not at.exception
    assert any("unknown token" in e.value for e in at.error)
    assert at.text_input(key="token_input") is not None
    assert not at.get("video")


def test_annotator_flow_judge_submit_next_back_reanswer_resume(app_env):
    store, token = app_env["store"], app_env["tokens"]["alice"]
    ident = store.authenticate(token)
    at = _sign_in(_app(), token)
    assert "Welcome" in _texts(at)  # first sign-in: the tutorial
    at = at.button(key="tutorial_done").click().run()
    assert not at.exception
    assert _item_caption(at).startswith("Item 1 of")
    assert len(at.get("video")) == 2 and len(at.get("image")) == 1
    first = _current_task(store, ident, at)
    item = store.item(first.study_id, first.item_id)
    assert item.prompt.strip() in _texts(at)  # the Chinese prompt is on the page

    # judge three dimensions and submit
    at = _judge(at, ["left", "tie", "right"])
    assert _radio(at, "instruction_adherence").value == "Left"
    at = at.button(key="submit").click().run()
    assert _item_caption(at).startswith("Item 2 of")
    frame = store.judgments_frame(app_env["study_id"]).set_index("dimension")
    assert set(frame["task_id"]) == {first.id}
    a_on_left = not first.swapped
    assert frame.loc["instruction_adherence", "outcome"] == ("A" if a_on_left else "B")
    assert frame.loc["physical_laws", "outcome"] == ("B" if a_on_left else "A")
    assert frame.loc["consistency", "outcome"] == "tie"
    assert frame["seconds"].iloc[0] > 0

    # an incomplete answer is not stored
    _radio(at, "consistency").set_value("Left")
    at = at.run().button(key="submit").click().run()
    assert any("Choose Left, Tie or Right" in w.value for w in at.warning)
    assert store.count_judgments() == 1

    # back: the earlier answer is shown; re-answer supersedes
    at = at.button(key="back").click().run()
    assert _item_caption(at).startswith("Item 1 of")
    assert _radio(at, "physical_laws").value == "Right"  # the stored answer is shown
    _radio(at, "physical_laws").set_value("Tie")
    at = at.run().button(key="submit").click().run()
    assert "earlier one is kept" in _texts(at)
    assert store.count_judgments() == 2 and store.count_judgments(include_superseded=False) == 1
    now = store.judgments_frame(app_env["study_id"]).set_index("dimension")
    assert now.loc["physical_laws", "outcome"] == "tie"

    # answer item 2, then sign in again in a new session: resume at item 3, no tutorial
    at = _judge(at, ["tie", "tie", "tie"]).button(key="submit").click().run()
    assert _item_caption(at).startswith("Item 3 of")
    again = _sign_in(_app(), token)
    assert "Welcome" not in _texts(again)
    assert _item_caption(again).startswith("Item 3 of")
    assert "2 of" in again.get("progress")[0].proto.text


def test_submit_twice_stores_one_judgment(app_env):
    store, token = app_env["store"], app_env["tokens"]["bob"]
    at = _sign_in(_app(), token).button(key="tutorial_done").click().run()
    at = _judge(at, ["left", "left", "left"])
    subs = dict(at.session_state["submission"])  # the id made with this form
    at = at.button(key="submit").click().run()
    assert store.count_judgments() == 1
    # The same form sent again (a second click that reached the server, a rerun cut short after
    # storing): the same submission id, now with a different comment so only the id protects it.
    at.session_state["submission"] = subs
    at.session_state["idx"] = 0
    at = at.run()
    at.text_input(key=f"comment:{next(iter(subs))}").input("second click")
    at = at.button(key="submit").click().run()
    assert store.count_judgments() == 1


def test_admin_page_refused_to_annotators_and_shown_to_admin(app_env):
    store = app_env["store"]
    # an annotator token at the admin sign-in
    at = _sign_in(_app({"view": "admin"}), app_env["tokens"]["alice"])
    assert any("admin token" in e.value for e in at.error)
    # an annotator signed in who opens ?view=admin
    at = _sign_in(_app(), app_env["tokens"]["alice"])
    at.query_params["view"] = "admin"
    at = at.run()
    assert any("needs the study admin token" in e.value for e in at.error)
    assert not at.get("download_button")
    # the admin: progress, agreement, gold, exports
    bob = store.authenticate(app_env["tokens"]["bob"])
    alice = store.authenticate(app_env["tokens"]["alice"])
    for ident in (alice, bob):
        for n, task in enumerate(store.queue(ident.annotator_id)):
            store.submit(task.id, annotator_id=ident.annotator_id, labels={d: "tie" if task.is_gold else ("left", "right")[n % 2] for d in DIMENSION_NAMES}, submission_id=f"{ident.name}{n}", seconds=2.0)
    at = _sign_in(_app({"view": "admin"}), app_env["admin"])
    assert not at.exception
    text = _texts(at)
    assert "zebragen@motion_score=5" in text and "Agreement" in text
    frames = [df.value for df in at.dataframe]
    agreement = next(f for f in frames if "alpha (ordinal)" in f.columns)
    assert len(agreement) == 3 and agreement["items with 2+ annotators"].eq(len(app_env["ids"])).all()
    gold = next(f for f in frames if "accuracy" in f.columns)
    assert set(gold["annotator"]) == {"alice", "bob"} and (gold["accuracy"] == 1.0).all()
    assert len(at.get("download_button")) == 3


def test_revoked_token_is_refused_even_mid_session(app_env):
    store = app_env["store"]
    at = _sign_in(_app(), app_env["tokens"]["alice"]).button(key="tutorial_done").click().run()
    store.revoke_annotator(app_env["study_id"], "alice")
    _radio(at, "instruction_adherence").set_value("Left")
    at = at.run()  # the next interaction
    assert any("revoked" in e.value for e in at.error)
    assert at.text_input(key="token_input") is not None and not at.get("video")
    assert store.count_judgments() == 0
    at = _sign_in(_app(), app_env["tokens"]["alice"])
    assert any("revoked" in e.value for e in at.error)

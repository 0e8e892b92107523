"""What a page turn (Submit & next) asks of the store and of Streamlit: a bounded number of store
statements whatever the queue's length, the queue read once per tab yet following what changed
elsewhere, and on a real server a submit that reruns the item panel alone, still checking the
sign-in."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from stepeval.human import DIMENSION_NAMES, AnnotationStore, create_study_from_run
from tests.human.helpers import MODEL_A, MODEL_B, serving
from tests.human.streamlit_client import Session, choice, trigger
from tests.human.streamlit_client import text as typed
from tests.human.test_app import _app, _item_caption, _radio, _restore_main_module, _sign_in  # noqa: F401  (fixture)
from tests.human.test_app import app_env  # noqa: F401  (fixture)


@contextmanager
def statements():
    """Every SQL statement any engine of this process sends, as sent (the app's own store included)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def _submit(at, labels=("Left", "Tie", "Right")):
    """Answer and submit in one script run, as the browser sends them (the answers do not rerun)."""
    for dim, label in zip(DIMENSION_NAMES, labels):
        _radio(at, dim).set_value(label)
    return at.button(key="submit").click().run()


def _progress(at) -> str:
    return at.get("progress")[0].proto.text


def test_a_page_turn_asks_the_store_a_bounded_number_of_questions(app_env):  # noqa: F811
    store, token = app_env["store"], app_env["tokens"]["alice"]
    ident = store.authenticate(token)
    queue = store.queue(ident.annotator_id)
    at = _sign_in(_app(), token).button(key="tutorial_done").click().run()
    per_turn = []
    for n in range(len(queue) - 1):
        with statements() as seen:
            at = _submit(at)
        assert _item_caption(at).startswith(f"Item {n + 2} of {len(queue)}")
        per_turn.append(seen)
    assert store.count_judgments() == len(queue) - 1
    for seen in per_turn:
        queries = [s for s in seen if not s.startswith("BEGIN")]
        # The sign-in (1), the queue's version (1), the submit (the submission id, the task, the
        # annotator, the study, the task's current answer, the judgment and its labels: 7). Before
        # the tab kept its queue, a page turn sent 16 in 5 transactions, among them every task of the
        # queue with its answers.
        assert len(queries) <= 9, queries
        assert sum(s.startswith("BEGIN") for s in seen) == 3, seen  # three short transactions
        assert not any("FROM tasks" in s and "ORDER BY tasks.position" in s for s in queries), "the whole queue was read again"
        assert not any(s.startswith("SELECT studies.") and "study_items" in s for s in queries)


def test_the_queue_kept_by_the_tab_follows_answers_and_rebalances_made_elsewhere(app_env):  # noqa: F811
    store, sid, token = app_env["store"], app_env["study_id"], app_env["tokens"]["alice"]
    ident = store.authenticate(token)
    queue = store.queue(ident.annotator_id)
    at = _sign_in(_app(), token).button(key="tutorial_done").click().run()
    assert _progress(at).startswith(f"0 of {len(queue)}")

    # Another tab of the same annotator answers item 2 while this one shows item 1.
    store.submit(queue[1].id, annotator_id=ident.annotator_id, labels=dict.fromkeys(DIMENSION_NAMES, "right"), submission_id="other-tab")
    at = _submit(at)
    assert _item_caption(at).startswith(f"Item 2 of {len(queue)} · answered before")
    assert [_radio(at, d).value for d in DIMENSION_NAMES] == ["Right"] * 3  # the other tab's answer, not a stale empty form
    assert _progress(at).startswith(f"2 of {len(queue)}")

    # This tab changes that answer: stored as a new revision, and shown when the annotator comes back.
    at = _submit(at, ("Tie", "Tie", "Tie"))
    assert "earlier one is kept" in " ".join(s.value for s in at.success)
    at = at.button(key="back").click().run()
    assert _item_caption(at).startswith(f"Item 2 of {len(queue)}")
    assert [_radio(at, d).value for d in DIMENSION_NAMES] == ["Tie"] * 3

    # A third annotator joins: alice's unstarted tasks are shared out, and the next page turn shows
    # the queue as the store has it now.
    store.add_annotator(sid, "carol")
    now = store.queue(ident.annotator_id)
    assert len(now) < len(queue)
    at = at.button(key="back").click().run()
    assert _item_caption(at).startswith(f"Item 1 of {len(now)}")
    assert _progress(at).startswith(f"2 of {len(now)}")


def _sign_out_elsewhere(url: str, annotator_id: int) -> None:
    """What a sign-out in another tab of the same browser (same sign-in key) does to the record."""
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("UPDATE sign_ins SET ended_at = '2000-01-01T00:00:00.000+00:00' WHERE annotator_id = :a"), {"a": annotator_id})
    engine.dispose()


def test_a_submit_reruns_only_the_item_panel_and_still_checks_the_sign_in(run_copy):
    run, _ids = run_copy
    store = AnnotationStore.open(run_root=run.root)
    sid, _admin = create_study_from_run(store, run, MODEL_A, MODEL_B, study_id="s1", overlap=2, seed=7)
    tokens = [store.add_annotator(sid, name) for name in ("alice", "bob")]

    async def sign_in(base: str, token: str):
        tab = Session(base)
        page = await tab.connect()
        page, _, _ = await tab.rerun([typed(page.widget("text_input", "Access token"), token), trigger(page.widget("button", "Sign in"))])
        page, _, _ = await tab.rerun([trigger(page.widget("button", "Start"))])
        return tab, page

    async def submit(tab: Session, page, watch: str):
        answers = [choice(r, 0) for r in page.radios()]
        button = page.widget("button", "Submit & next")
        return (await tab.rerun(answers + [trigger(button)], watch=watch, fragment=page.fragment_of(button)))

    async def flow(base: str):
        alice, page = await sign_in(base, tokens[0])
        assert page.status == "FINISHED_SUCCESSFULLY" and page.widget("button", "Sign out")
        assert page.fragment_of(page.widget("button", "Submit & next")), "the item panel is not a fragment"
        page, seen, _ = await submit(alice, page, "Item 2 of")
        # The next item came from a run of the item panel alone: the sidebar was not drawn again.
        assert seen is not None and page.status == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"
        assert "Sign out" not in [el.label for _kind, el in page.widgets]
        assert len(page.radios()) == 3 and len(page.media) == 2

        # Two tabs of two annotators: each gets its own queue.
        bob, bob_page = await sign_in(base, tokens[1])
        bob_page, seen, _ = await submit(bob, bob_page, "Item 2 of")
        assert seen is not None

        # Alice's sign-in ends elsewhere: her next page turn, a run of the panel alone, finds out
        # and the whole page turns into the sign-in form.
        _sign_out_elsewhere(store.url, store.authenticate(tokens[0]).annotator_id)
        back = page.widget("button", "Back")
        page, _, _ = await alice.rerun([trigger(back)], fragment=page.fragment_of(back))
        assert page.status == "FINISHED_SUCCESSFULLY" and page.widget("text_input", "Access token")
        assert any("signed out" in a for a in page.alerts), page.alerts
        await alice.close()
        await bob.close()

    with serving(run.root) as (base, _):
        asyncio.run(flow(base))
    stored = store.judgments_frame(sid).drop_duplicates("task_id").set_index("annotator")["task_id"].to_dict()
    firsts = {name: store.queue(store.authenticate(t).annotator_id)[0].id for name, t in zip(("alice", "bob"), tokens)}
    assert stored == firsts  # each answer on the first item of its own annotator's queue
    store.close()

"""A real Chromium against `stepeval annotate serve`: sign in, play, judge by keyboard, blinding,
keys pressed while the page turns to the next item, staying signed in across a reload."""

from __future__ import annotations

import pytest

from stepeval.human import AnnotationStore, create_study_from_run
from tests.browser import chromium_page
from tests.human.helpers import MODEL_A, MODEL_B, serving
from tests.human.test_app_concurrency_browser import NOTES, SETTLED

pytestmark = pytest.mark.browser

# The key handler is installed by the page's script, which mounts after the videos.
KEYS_READY = "() => window.__stepevalSync === true && document.querySelectorAll('[data-testid=\"stRadio\"]').length === 3"
JUDGED = "() => document.querySelectorAll('[data-testid=\"stRadio\"] input:checked').length === 3"
VIDEOS_READY = "() => { const v = [...document.querySelectorAll('video')]; return v.length === 2 && v.every((x) => x.readyState >= 2); }"
# The checked option (0 Left, 1 Tie, 2 Right, -1 none) of each answer on the page.
CHECKED = "() => [...document.querySelectorAll('[data-testid=\"stRadio\"]')].map((g) => [...g.querySelectorAll('input')].findIndex((i) => i.checked))"
LABELS = {"1": "left", "2": "tie", "3": "right", "4": "left", "5": "tie", "6": "right", "7": "left", "8": "tie", "9": "right"}
DIMS = ("instruction_adherence", "consistency", "physical_laws")


def test_sign_in_judge_by_keyboard_and_blinding(run_copy, artifacts_dir):
    run, ids = run_copy
    store = AnnotationStore.open(run_root=run.root)
    sid, _admin = create_study_from_run(store, run, MODEL_A, MODEL_B, study_id="s1", overlap=1, seed=7)
    token = store.add_annotator(sid, "alice")
    ident = store.authenticate(token)
    first = store.queue(ident.annotator_id)[0]
    prompt = store.item(sid, first.item_id).prompt.strip()

    urls: list[str] = []
    frames: list[bytes] = []
    documents: list[str] = []
    with serving(run.root) as (base, _), chromium_page() as page:
        page.set_viewport_size({"width": 1280, "height": 1800})
        page.on("request", lambda r: urls.append(r.url))
        page.on("response", lambda r: documents.append(r.text()) if r.request.resource_type == "document" else None)
        page.on("websocket", lambda ws: ws.on("framereceived", lambda p: frames.append(p if isinstance(p, bytes) else p.encode())))
        page.goto(base)
        page.get_by_label("Access token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Start").click()
        page.wait_for_function(VIDEOS_READY, timeout=60_000)
        # The Chinese prompt is rendered as text. Waited for, not read once: on a loaded machine a
        # Streamlit rerun can be re-mounting the elements at the instant the videos become ready
        # (seen once in CI: the body text lacked the prompt, four reruns of the test passed).
        page.get_by_text(prompt).wait_for(timeout=20_000)
        assert prompt in page.inner_text("body")
        page.wait_for_function(KEYS_READY, timeout=60_000)
        page.evaluate("document.activeElement && document.activeElement.blur()")
        # Left on instruction adherence, Tie on consistency, Right on physical laws; then Enter.
        for key in ("1", "5", "9"):  # as fast as a person who knows the keys
            page.keyboard.press(key)
        page.wait_for_function(JUDGED, timeout=20_000)
        page.screenshot(path=str(artifacts_dir / "annotation_app_judged.png"))
        first_srcs = page.evaluate("() => [...document.querySelectorAll('video')].map((v) => v.currentSrc)")
        page.keyboard.press("Enter")
        page.get_by_text("Item 2 of").wait_for(timeout=20_000)
        page.wait_for_function(
            "(old) => { const v = [...document.querySelectorAll('video')]; return v.length === 2 && v.every((x) => x.readyState >= 2 && !old.includes(x.currentSrc)); }",
            arg=first_srcs, timeout=60_000,
        )
        html = page.content()

    frame = store.judgments_frame(sid).set_index("dimension")
    assert len(frame) == 3 and set(frame["task_id"]) == {first.id}
    assert frame.loc["instruction_adherence", "screen_label"] == "left"
    assert frame.loc["consistency", "screen_label"] == "tie"
    assert frame.loc["physical_laws", "screen_label"] == "right"
    # A/B mapping: left is model A unless this (item, annotator) was swapped
    left_is = "B" if first.swapped else "A"
    right_is = "A" if first.swapped else "B"
    assert frame.loc["instruction_adherence", "outcome"] == left_is
    assert frame.loc["physical_laws", "outcome"] == right_is
    assert frame.loc["consistency", "outcome"] == "tie"
    assert bool(frame["swapped"].iloc[0]) == first.swapped

    # Blinding: nothing the browser got names a model, a tag or a path of the run.
    secrets = {MODEL_A, MODEL_B, "zebragen", "yakbaseline", "motion_score", run.name, str(run.root), "videos/"}
    secrets |= {str(p) for p in (run.root.parent,)}
    media = [u for u in urls if "/media/" in u]
    assert len({u.split("?")[0] for u in media if u.split("?")[0].endswith(".mp4")}) >= 4  # two items, two videos each
    for text_blob, what in ((html, "page HTML"), ("\n".join(documents), "HTML documents"), ("\n".join(urls), "request URLs")):
        for s in secrets:
            assert s not in text_blob, f"{what} contains {s!r}"
    received = b"".join(frames)
    assert received, "no websocket traffic captured"
    for s in secrets:
        assert s.encode() not in received, f"websocket messages contain {s!r}"


def _study(run, name: str = "alice"):
    store = AnnotationStore.open(run_root=run.root)
    sid, _admin = create_study_from_run(store, run, MODEL_A, MODEL_B, study_id="s1", overlap=1, seed=7)
    token = store.add_annotator(sid, name)
    return store, sid, token, store.queue(store.authenticate(token).annotator_id)


def _sign_in(page, base: str, token: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.goto(base)
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Start").click()


def _stored(store, sid: str, task_id: str) -> dict[str, str]:
    frame = store.judgments_frame(sid)
    return frame[frame["task_id"] == task_id].set_index("dimension")["screen_label"].to_dict()


def _outcome(page, predicate: str, arg, failure: str, shot) -> str:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return page.wait_for_function(predicate, arg=arg, timeout=30_000).json_value()
    except PlaywrightTimeout:
        page.screenshot(path=str(shot))
        pytest.fail(failure)


def _answer_and_submit(page, keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)
    want = [(int(k) - 1) % 3 for k in keys]
    page.wait_for_function(f"() => ({CHECKED})().join() === {want!r}.join()", timeout=30_000)
    page.keyboard.press("Enter")


def test_keys_pressed_while_the_page_turns_land_on_the_item_shown_or_are_reported(run_copy, artifacts_dir):
    """Streamlit draws the next item's caption and videos before its answers, while the previous
    item's answers stay on screen; a key pressed then must act on the item whose caption is shown or
    the page must say it was not recorded. It must never change the item before."""
    run, _ids = run_copy
    store, sid, token, queue = _study(run)
    with serving(run.root) as (base, _), chromium_page() as page:
        _sign_in(page, base, token)
        page.get_by_text("Item 1 of").wait_for(timeout=60_000)
        page.wait_for_function(KEYS_READY, timeout=60_000)
        page.wait_for_function(SETTLED, timeout=30_000)
        _answer_and_submit(page, "159")

        # (a) A key the moment the next caption appears, before its answers are drawn.
        page.get_by_text("Item 2 of").wait_for(timeout=60_000)
        page.keyboard.press("3")
        outcome = _outcome(
            page, f"""() => {{ if (({NOTES})() > 0) return "told";
                              return ({SETTLED})() && ({CHECKED})().length === 3 && ({CHECKED})()[0] === 2 ? "applied" : false; }}""", None,
            "key 3, pressed as item 2's caption appeared, was neither applied to item 2 nor reported as not recorded",
            artifacts_dir / "annotation_app_key_lost.png",
        )
        page.screenshot(path=str(artifacts_dir / f"annotation_app_key_as_item_appears_{outcome}.png"))
        page.wait_for_function(SETTLED, timeout=30_000)
        if outcome == "told":
            assert page.evaluate(CHECKED) == [-1, -1, -1], "a key reported as not recorded was applied anyway"
            page.keyboard.press("3")
        _answer_and_submit(page, "348")
        page.get_by_text("Item 3 of").wait_for(timeout=60_000)

        # (b) A key right after Enter, while the item just submitted is still on screen.
        page.wait_for_function(SETTLED, timeout=30_000)
        notes = page.evaluate(NOTES)
        _answer_and_submit(page, "167")
        page.keyboard.press("2")
        late = _outcome(
            page, f"""(notes) => {{ if (({NOTES})() > notes) return "told";
                                   const caption = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')].map((e) => e.innerText).join();
                                   return ({SETTLED})() && caption.includes("Item 4 of") && ({CHECKED})()[0] === 1 ? "applied to item 4" : false; }}""", notes,
            "key 2, pressed right after Enter on item 3, was neither reported as not recorded nor applied to item 4",
            artifacts_dir / "annotation_app_key_lost.png",
        )
        note = page.get_by_test_id("stepevalNotRecorded")
        if late == "told":
            assert note.is_visible() and "Not recorded" in note.inner_text()
            page.screenshot(path=str(artifacts_dir / "annotation_app_key_after_submit_not_recorded.png"))
        page.get_by_text("Item 4 of").wait_for(timeout=60_000)
        page.wait_for_function(SETTLED, timeout=30_000)
        if late == "told":
            assert page.evaluate(CHECKED) == [-1, -1, -1]

    # Each item holds exactly what was pressed while it was on screen, once.
    for task, keys in ((queue[0], "159"), (queue[1], "348"), (queue[2], "167")):
        assert _stored(store, sid, task.id) == {d: LABELS[k] for d, k in zip(DIMS, keys)}
    assert store.count_judgments(sid) == 3  # no re-answer row: the late key changed nothing


def test_reload_keeps_the_annotator_signed_in_until_sign_out(run_copy, artifacts_dir):
    run, _ids = run_copy
    store, sid, token, queue = _study(run)
    with serving(run.root) as (base, _), chromium_page() as page:
        _sign_in(page, base, token)
        page.get_by_text("Item 1 of").wait_for(timeout=60_000)
        page.wait_for_function(KEYS_READY, timeout=60_000)
        page.wait_for_function(SETTLED, timeout=30_000)
        _answer_and_submit(page, "159")
        page.get_by_text("Item 2 of").wait_for(timeout=60_000)
        page.wait_for_function(SETTLED, timeout=30_000)

        page.reload()
        page.get_by_text("Item 2 of").wait_for(timeout=60_000)  # resumed on the next open item, no token asked
        page.wait_for_function(SETTLED, timeout=30_000)  # drawn whole (the progress bar's text comes with its lazily loaded part)
        assert page.get_by_label("Access token").count() == 0
        # waited for, not read once: the progress bar's text is drawn with its lazily loaded part
        page.get_by_text("1 of 4 judged").wait_for(timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "annotation_app_after_reload.png"))
        cookies = page.context.cookies()
        assert all(token not in c["value"] for c in cookies) and token not in page.url  # the token stays with the annotator
        for c in cookies:
            for secret in (MODEL_A, MODEL_B, "zebragen", "yakbaseline", run.name, str(run.root)):
                assert secret not in c["name"] + c["value"]

        page.get_by_test_id("stExpandSidebarButton").click()
        page.get_by_role("button", name="Sign out").click()
        page.get_by_label("Access token").wait_for(timeout=30_000)
        page.reload()
        page.get_by_label("Access token").wait_for(timeout=60_000)
        assert "Item " not in page.inner_text("body")
        page.screenshot(path=str(artifacts_dir / "annotation_app_reload_after_sign_out.png"))

        # A copy of the cookie taken before the sign-out signs no one in: sign-out ended it on the server.
        other = page.context.browser.new_context()
        try:
            other.add_cookies([c for c in cookies if c["name"].startswith("stepeval_signin_")])
            again = other.new_page()
            again.goto(base)
            again.get_by_label("Access token").wait_for(timeout=60_000)
            assert "Item " not in again.inner_text("body")
        finally:
            other.close()
    assert _stored(store, sid, queue[0].id) == {"instruction_adherence": "left", "consistency": "tie", "physical_laws": "right"}

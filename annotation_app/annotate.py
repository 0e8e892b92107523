"""The annotator's page: the prompt (and the input image, when the study's template shows one), two
blinded videos, one Left/Tie/Right answer per dimension of the study."""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from annotation_app import media, page_queue, signin, state
from annotation_app.tutorial import SHORTCUTS, render_tutorial
from stepeval.errors import UserError
from stepeval.human import AnnotationStore, AuthError, Identity, StudyInfo, TaskInfo
from stepeval.runs.run import video_path

LABELS = (("left", "Left"), ("tie", "Tie"), ("right", "Right"))
VALUES = [v for v, _ in LABELS]
TEXT_TO_VALUE = {text: v for v, text in LABELS}


def _video_path(study: StudyInfo, run_root: Path | None, task: TaskInfo, tag: str) -> Path:
    return video_path(run_root or Path(study.run_root or "."), tag, task.item_id)


def _show_prompt(prompt: str) -> None:
    st.markdown("**Prompt**")
    st.markdown(f"<div lang='zh' style='font-size:1.35rem;line-height:1.6'>{_escape(prompt)}</div>", unsafe_allow_html=True)


def _show_video(path: Path) -> None:
    try:
        st.video(media.video_bytes(path), format="video/mp4", loop=True, muted=True)
    except OSError:
        # Never show the path: it names the model. The annotator can flag the pair instead.
        st.error("This video could not be loaded. Tick 'cannot judge' below and submit.")


def render(store: AnnotationStore, ident: Identity, run_root: Path | None) -> None:
    # First, so that its key handler is in the page before the first item's caption (a key
    # pressed then would otherwise reach nothing); it installs itself once per browser tab.
    st.html(media.PAGE_JS, unsafe_allow_javascript=True)
    study = state.study(store, ident.study_id)
    if not ident.tutorial_done and not st.session_state.get("tutorial_seen"):
        if render_tutorial(study.dimensions, study.protocol):
            store.mark_tutorial_done(ident.annotator_id)
            st.session_state["tutorial_seen"] = True
            st.rerun()
        return
    _item_panel(store, study, run_root)


@st.fragment
def _item_panel(store: AnnotationStore, study: StudyInfo, run_root: Path | None) -> None:
    """Everything a page turn changes. A fragment: Submit & next and Back run this part of the
    script alone, not the page around it (the sidebar, the key handler), which stays as it is."""
    if state.identity() is None:  # the submit was refused for the sign-in (a revoked token): sign the page out
        st.rerun(scope="app")
    ident = state.identity() if state.take_confirmed() else signin.confirm(store)
    queue = page_queue.current(store, ident.annotator_id)
    if not queue.tasks:
        st.info("No items are assigned to you yet. Ask the study admin.")
        return
    if "idx" not in st.session_state:
        st.session_state["idx"] = queue.first_open()
    idx = min(max(st.session_state["idx"], 0), len(queue))
    done = queue.done()
    st.progress(done / len(queue), text=f"{done} of {len(queue)} judged")
    notice = st.session_state.pop("notice", None)
    if notice:
        st.success(notice)
    problem = st.session_state.pop("problem", None)
    if problem:
        getattr(st, problem[0])(problem[1])

    if idx >= len(queue):
        st.success("All done, thank you! You can go back to review or change an answer.")
        st.button("Back", key="back", on_click=_go_to, args=(len(queue) - 1,))
        return

    task = queue.task(store, idx)
    item = state.item(store, task.study_id, task.item_id)
    if st.session_state.get("shown", (None,))[0] != task.id:
        st.session_state["shown"] = (task.id, time.monotonic())
    submission_id = state.submission_id(task.id)  # made with the form, so every send of it shares it

    # The caption carries the item's marker: Streamlit replaces the page element by element, so the
    # page's script compares it with the answer block before a key may act (media.PAGE_JS).
    caption = f"Item {idx + 1} of {len(queue)}" + (" · answered before: changing it keeps a record of both" if task.answer else "")
    st.caption(caption + media.item_marker(task.id, len(study.dimensions), state.next_render()), unsafe_allow_html=True)
    if study.protocol.shows_image:
        top = st.columns([1, 2])
        with top[0]:
            if item.image_path and Path(item.image_path).is_file():
                st.image(media.image_bytes(Path(item.image_path)), caption="Input image")
            else:
                st.warning("The input image is not available.")
        with top[1]:
            _show_prompt(item.prompt)
    else:  # text-to-video: the prompt is all the videos were made from
        _show_prompt(item.prompt)
    left, right = st.columns(2)
    with left:
        st.markdown("**Left**")
        _show_video(_video_path(study, run_root, task, task.left_tag))
    with right:
        st.markdown("**Right**")
        _show_video(_video_path(study, run_root, task, task.right_tag))

    stored = (task.answer or {}).get("labels") or {}
    answer = task.answer or {}
    # The answers do not rerun the script when chosen ("ignore"): the browser holds them and sends
    # them with the submit click, in one message and one script run. Chosen one rerun each, a
    # key press could land while Streamlit was redrawing the page, and a fast annotator's four
    # reruns per item were most of the server's work. Each widget is keyed to its item's task, so
    # an answer can only ever be stored for the item it was given on.
    for n, dim in enumerate(study.dimensions):
        row = st.columns([3, 2])
        with row[0]:
            keys = " / ".join(SHORTCUTS[n]) if n < len(SHORTCUTS) else ""
            st.markdown(f"**{dim.title}**: {dim.question}" + (f"  \n<span style='color:#888'>keys {keys}</span>" if keys else ""), unsafe_allow_html=True)
            with st.popover("Guideline"):
                st.markdown(dim.guideline)
        with row[1]:
            st.radio(
                dim.title, [text for _, text in LABELS], horizontal=True, label_visibility="collapsed",
                index=VALUES.index(stored[dim.name]) if stored.get(dim.name) in VALUES else None,
                key=f"{dim.name}:{task.id}", on_change="ignore",
            )
    st.text_input("Comment (optional)", value=answer.get("comment") or "", key=f"comment:{task.id}", on_change="ignore")
    st.checkbox("Cannot judge: a video is broken or does not play", value=answer.get("cannot_judge", False), key=f"cannot:{task.id}", on_change="ignore")

    # Enter and B belong to the page's script, which holds them back while the page is being
    # redrawn (media.PAGE_JS), so neither button has a Streamlit shortcut.
    nav = st.columns([1, 1, 4])
    with nav[0]:
        st.button("Back", key="back", disabled=idx == 0, on_click=_go_to, args=(idx - 1,))
    with nav[1]:
        # Storing in the button's callback, before the script runs again, lets that one run
        # render the next item (instead of a run to store and a second run to show the result).
        st.button("Submit & next", key="submit", type="primary", on_click=_submit,
                  args=(store, ident, task.id, [d.name for d in study.dimensions], [d.title for d in study.dimensions], idx, submission_id))
    if study.protocol.shows_image:
        _warm_next(store, queue.upcoming(idx, WARM_AHEAD))


# Items whose input image is made ready while the current one is judged. Two: a fast annotator
# can submit before the next one's decode has finished on a busy server.
WARM_AHEAD = 2


def _warm_next(store: AnnotationStore, upcoming: list[TaskInfo]) -> None:
    """After the page is sent, start the next items' thumbnails so a submit does not wait on them."""
    for task in upcoming:
        path = state.item(store, task.study_id, task.item_id).image_path
        if path:
            media.warm_image(Path(path))


def _go_to(idx: int) -> None:
    st.session_state["idx"] = idx
    st.session_state.pop("shown", None)


def _submit(store: AnnotationStore, ident: Identity, task_id: str, dims: list[str], titles: list[str], idx: int, submission_id: str) -> None:
    ss = st.session_state
    labels = {d: TEXT_TO_VALUE.get(ss.get(f"{d}:{task_id}")) for d in dims}
    cannot = bool(ss.get(f"cannot:{task_id}", False))
    missing = [title for d, title in zip(dims, titles) if labels[d] is None]
    if missing and not cannot:
        ss["problem"] = ("warning", f"Choose Left, Tie or Right for: {', '.join(missing)} (or tick 'cannot judge').")
        return
    seconds = time.monotonic() - ss["shown"][1] if ss.get("shown", (None,))[0] == task_id else None
    try:
        res = store.submit(task_id, annotator_id=ident.annotator_id, labels=labels, submission_id=submission_id,
                           seconds=None if seconds is None else round(seconds, 3), comment=ss.get(f"comment:{task_id}", ""), cannot_judge=cannot)
    except AuthError as exc:
        state.sign_out()
        ss["signin_error"] = str(exc)
        return
    except UserError as exc:
        ss["problem"] = ("error", str(exc))
        return
    state.answer_stored(task_id)
    page_queue.stored(task_id, res)
    ss["idx"] = idx + 1
    if res.created and res.revision > 1:
        ss["notice"] = "Answer changed; the earlier one is kept in the record."


def _escape(text: str) -> str:
    import html

    return html.escape(text)

"""Per-browser-session state, in one place (Streamlit's session_state is a flat dict)."""

from __future__ import annotations

import uuid

import streamlit as st

from stepeval.human import AnnotationStore, Identity, ItemInfo, StudyInfo


def identity() -> Identity | None:
    return st.session_state.get("identity")


def sign_in_key() -> str | None:
    """The key of this browser's sign-in record (the store keeps its hash; the cookie keeps it)."""
    return st.session_state.get("sign_in_key")


def sign_in(ident: Identity, key: str) -> None:
    st.session_state["identity"] = ident
    st.session_state["sign_in_key"] = key
    for name in ("idx", "submission", "shown", "notice", "study", "items", "queue", "confirmed"):
        st.session_state.pop(name, None)


def refresh(ident: Identity) -> None:
    """The identity as the store reads it now (tutorial done, name)."""
    st.session_state["identity"] = ident


def mark_confirmed() -> None:
    """The store confirmed the sign-in in this script run (see `take_confirmed`)."""
    st.session_state["confirmed"] = True


def take_confirmed() -> bool:
    """Whether this run already asked the store about the sign-in. A full run does, before any view;
    a run of the item panel alone does not, and must ask itself. Taken, so it answers once."""
    return bool(st.session_state.pop("confirmed", False))


def study(store: AnnotationStore, study_id: str) -> StudyInfo:
    """The study, read once per tab: its questions, models and run never change once created."""
    cached = st.session_state.get("study")
    if cached is None or cached.id != study_id:
        cached = st.session_state["study"] = store.study(study_id)
    return cached


def item(store: AnnotationStore, study_id: str, item_id: str) -> ItemInfo:
    """An item's prompt and image, from the study's items read once per tab (they never change)."""
    cached = st.session_state.get("items")
    if cached is None or cached[0] != study_id:
        cached = st.session_state["items"] = (study_id, store.items(study_id))
    found = cached[1].get(item_id)
    if found is None:  # added to the study after this tab read it (an import)
        found = cached[1][item_id] = store.item(study_id, item_id)
    return found


def sign_out() -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def next_render() -> int:
    """A number per script run of the annotator's page: the page's script tells a caption drawn by
    the run that answers a submit from the one that was on screen when the submit was sent."""
    n = st.session_state.get("render", 0) + 1
    st.session_state["render"] = n
    return n


def submission_id(task_id: str) -> str:
    """One id per answer being made: a repeated submit of the same answer reuses it, so the store
    keeps one row; it is dropped once stored, so a later re-answer is a new submission."""
    subs = st.session_state.setdefault("submission", {})
    if task_id not in subs:
        subs[task_id] = uuid.uuid4().hex
    return subs[task_id]


def answer_stored(task_id: str) -> None:
    st.session_state.setdefault("submission", {}).pop(task_id, None)
    st.session_state.pop("shown", None)

"""Per-browser-session state, in one place (Streamlit's session_state is a flat dict)."""

from __future__ import annotations

import uuid

import streamlit as st

from stepeval.human import Identity


def identity() -> Identity | None:
    return st.session_state.get("identity")


def sign_in(ident: Identity) -> None:
    st.session_state["identity"] = ident
    for key in ("idx", "submission", "shown", "notice"):
        st.session_state.pop(key, None)


def sign_out() -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]


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

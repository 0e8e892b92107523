"""Streamlit entry point: `stepeval annotate serve RUN` runs this file.

One script, three views: sign-in, the annotator's page and the admin page (`?view=admin`). The
role comes from the token, never from the URL: an annotator who opens `?view=admin` is refused.
A reload keeps the annotator signed in through a sign-in cookie (annotation_app/signin.py).
"""

from __future__ import annotations

import streamlit as st

from annotation_app import admin, annotate, signin, state
from annotation_app.config import from_env
from stepeval.human import AnnotationStore, AuthError
from stepeval.errors import UserError

st.set_page_config(page_title="Video comparison", layout="wide", initial_sidebar_state="collapsed")


@st.cache_resource(show_spinner=False)
def _store(url: str) -> AnnotationStore:
    return AnnotationStore(url)


def _sign_in_form(store: AnnotationStore, want_admin: bool) -> None:
    st.title("Study admin sign-in" if want_admin else "Video comparison: sign in")
    error = st.session_state.pop("signin_error", None)
    if error:
        st.error(error)
    token = st.text_input("Access token", type="password", key="token_input")
    if st.button("Sign in", key="signin", type="primary"):
        try:
            ident = store.authenticate(token, role="admin" if want_admin else None)
        except AuthError as exc:
            st.error(str(exc))
            return
        state.sign_in(ident, store.start_sign_in(ident))
        st.rerun()


def main() -> None:
    config = from_env()
    try:
        store = _store(config.db_url)
    except UserError as exc:
        st.error(str(exc))
        return
    want_admin = st.query_params.get("view") == "admin"
    cookie = signin.cookie_name(store.url)
    ident = signin.resume(store, cookie) if state.identity() is None else signin.confirm(store)
    if ident is None:
        _sign_in_form(store, want_admin)
        signin.forget(cookie)
        return
    state.mark_confirmed()
    with st.sidebar:
        signin.keep(cookie, state.sign_in_key())
        st.caption(f"Signed in as {ident.name}")
        if st.button("Sign out", key="signout"):
            store.end_sign_in(state.sign_in_key())
            state.sign_out()
            st.rerun()
    if want_admin and ident.role != "admin":
        st.error("The admin page needs the study admin token; you are signed in as an annotator.")
        return
    if ident.role == "admin":
        admin.render(store, ident)
    else:
        annotate.render(store, ident, config.run_root)


main()

"""Staying signed in across reloads.

Streamlit's session_state lives as long as one websocket connection, so a reload would otherwise ask
for the token again. On sign-in the store records a sign-in with a random key (only its hash is
stored); the page keeps that key in a cookie, and a new connection that sends the cookie resumes the
annotator. The access token itself never goes into the browser's storage or the URL, and signing
out ends the record, so a copied cookie stops working with it.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from annotation_app import state
from stepeval.human import AnnotationStore, AuthError, Identity
from stepeval.human.store import SIGN_IN_DAYS


def cookie_name(db_url: str) -> str:
    # Cookies are per host, not per port: two annotation servers on one machine must not read or
    # clear each other's sign-in. A hash keeps the database's path out of the browser.
    return "stepeval_signin_" + hashlib.sha256(db_url.encode("utf-8")).hexdigest()[:12]


def _cookie(name: str) -> str | None:
    value = st.context.cookies.get(name)
    return value if isinstance(value, str) and value else None  # a test harness may have no real client


def resume(store: AnnotationStore, name: str) -> Identity | None:
    """The annotator this browser signed in as before a reload, or None."""
    key = _cookie(name)
    if key is None:
        return None
    try:
        ident = store.resume_sign_in(key)
    except AuthError:
        return None  # signed out, expired or revoked: the sign-in page clears the cookie
    state.sign_in(ident, key)
    return ident


def confirm(store: AnnotationStore) -> Identity:
    """The signed-in identity as the store reads it now. Asked on every page turn: a sign-out in
    another tab, an expired sign-in or a token revoked since ends this page's sign-in too, and the
    whole page is run again to show the sign-in form and why."""
    try:
        ident = store.resume_sign_in(state.sign_in_key())
    except AuthError as exc:
        state.sign_out()
        st.session_state["signin_error"] = str(exc)
        st.rerun(scope="app")
    state.refresh(ident)
    return ident


def keep(name: str, key: str) -> None:
    """Store the sign-in key in the browser, unless the connection already came with it."""
    if _cookie(name) == key:
        return
    secure = ' + (location.protocol === "https:" ? "; Secure" : "")'
    st.html(f'<script>document.cookie = "{name}={key}; Path=/; Max-Age={int(SIGN_IN_DAYS * 86400)}; SameSite=Strict"{secure};</script>',
            unsafe_allow_javascript=True)


def forget(name: str) -> None:
    st.html(f'<script>document.cookie = "{name}=; Path=/; Max-Age=0; SameSite=Strict";</script>', unsafe_allow_javascript=True)

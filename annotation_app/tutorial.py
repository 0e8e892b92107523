"""The short tutorial shown on an annotator's first sign-in (and from the sidebar)."""

from __future__ import annotations

import streamlit as st

from stepeval.human import Dimension

# Keys per dimension, in the order Left, Tie, Right (C and R are reserved by Streamlit).
SHORTCUTS = (("1", "2", "3"), ("4", "5", "6"), ("7", "8", "9"))


def shortcuts_markdown(dimensions) -> str:
    lines = ["| action | keys |", "|---|---|"]
    for dim, keys in zip(dimensions, SHORTCUTS):
        lines.append(f"| {dim.title}: Left / Tie / Right | `{keys[0]}` / `{keys[1]}` / `{keys[2]}` |")
    lines += ["| Play / pause both videos | `Space` |", "| Submit and go to the next item | `Enter` |", "| Back to the previous item | `B` |"]
    return "\n".join(lines)


def render_tutorial(dimensions: tuple[Dimension, ...]) -> bool:
    """Returns True when the annotator is ready to start."""
    st.header("Welcome: how this works")
    st.markdown(
        "For each item you see an **input image**, a **prompt** (what should happen), and two videos made "
        "from that image, **Left** and **Right**, by two different methods in a random order. Watch both "
        "(they play in sync and loop), then say for each question which video is better, or **Tie** when "
        "neither is clearly better. Judge each question on its own. If a video is broken, tick "
        "**cannot judge** and submit. You can go back and change an answer at any time; your progress is "
        "saved after every item, so you can stop and come back later with the same token."
    )
    st.subheader("The three questions")
    for dim in dimensions:
        st.markdown(f"**{dim.title}**: {dim.question}  \n{dim.guideline}")
    st.subheader("Keyboard shortcuts")
    st.markdown(shortcuts_markdown(dimensions))
    st.caption("Some items show the same video twice; the right answer there is Tie on every question.")
    return st.button("Start", key="tutorial_done", type="primary", shortcut="Enter")

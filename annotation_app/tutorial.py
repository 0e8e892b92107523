"""The short tutorial shown on an annotator's first sign-in (and from the sidebar)."""

from __future__ import annotations

import streamlit as st

from annotation_app.media import ANSWER_KEYS
from stepeval.human import Dimension, StudyProtocol

# Keys per dimension, in the order Left, Tie, Right (owned by the page's key handler).
SHORTCUTS = ANSWER_KEYS


def shortcuts_markdown(dimensions) -> str:
    lines = ["| action | keys |", "|---|---|"]
    for dim, keys in zip(dimensions, SHORTCUTS):
        lines.append(f"| {dim.title}: Left / Tie / Right | `{keys[0]}` / `{keys[1]}` / `{keys[2]}` |")
    lines += ["| Play / pause both videos | `Space` |", "| Submit and go to the next item | `Enter` |", "| Back to the previous item | `B` |"]
    return "\n".join(lines)


_COUNTS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def _what_you_see(shows_image: bool) -> str:
    if shows_image:
        return ("For each item you see an **input image**, a **prompt** (what should happen), and two videos made "
                "from that image, **Left** and **Right**, by two different methods in a random order.")
    return ("For each item you see a **prompt** (what the video should show) and two videos made from that prompt "
            "alone, **Left** and **Right**, by two different methods in a random order. There is no input image: "
            "judge the videos against the prompt and against each other.")


def render_tutorial(dimensions: tuple[Dimension, ...], protocol: StudyProtocol) -> bool:
    """Returns True when the annotator is ready to start."""
    st.header("Welcome: how this works")
    st.markdown(
        _what_you_see(protocol.shows_image) + " Watch both "
        "(they play in sync and loop), then say for each question which video is better, or **Tie** when "
        "neither is clearly better. Judge each question on its own. If a video is broken, tick "
        "**cannot judge** and submit. You can go back and change an answer at any time; your progress is "
        "saved after every item, so you can stop and come back later with the same token."
    )
    st.subheader(f"The {_COUNTS.get(len(dimensions), len(dimensions))} questions")
    for dim in dimensions:
        st.markdown(f"**{dim.title}**: {dim.question}  \n{dim.guideline}")
    st.subheader("Keyboard shortcuts")
    st.markdown(shortcuts_markdown(dimensions))
    st.caption("Some items show the same video twice; the right answer there is Tie on every question.")
    return st.button("Start", key="tutorial_done", type="primary", shortcut="Enter")

"""A browser tab as Streamlit's server sees it: one websocket speaking Streamlit's own protocol (the
BackMsg / ForwardMsg protobufs of the installed streamlit), without rendering anything.

Used by benchmarks/annotation_server_latency.py (many of them at once, timed) and by tests that check
what the server sends back for a message, e.g. that a submit reruns only the item panel.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

WIDGETS = ("button", "radio", "text_input", "checkbox")
DONE = {"FINISHED_SUCCESSFULLY", "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"}


@dataclass
class Page:
    """What one script run put on the page: widgets by kind, markdown bodies, media URLs."""

    widgets: list[tuple[str, object]] = field(default_factory=list)  # (kind, element proto)
    texts: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)  # st.error / st.warning / st.success bodies
    fragments: dict[str, str] = field(default_factory=dict)  # widget id -> the fragment that drew it
    status: str = ""  # how the run finished: FINISHED_SUCCESSFULLY (the whole page), FINISHED_FRAGMENT_RUN_...

    def fragment_of(self, el) -> str:
        return self.fragments.get(el.id, "")

    def widget(self, kind: str, label: str):
        for k, el in self.widgets:
            if k == kind and el.label == label:
                return el
        raise LookupError(f"no {kind} {label!r} on the page: {[(k, e.label) for k, e in self.widgets]}")

    def radios(self) -> list:
        return [el for k, el in self.widgets if k == "radio"]


class Session:
    """One annotator's tab, as Streamlit's frontend speaks to the server."""

    def __init__(self, base: str):
        self.base = base
        self.url = base.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = None
        self.page_hash = ""
        self.cache: dict[str, ForwardMsg] = {}

    async def connect(self) -> Page:
        # No keepalive pings: a browser sends none, and a starved server must not be hung up on.
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None,
                                           ping_interval=None, open_timeout=120)
        return (await self.rerun([]))[0]

    async def rerun(self, widgets: list[WidgetState], watch: str | None = None, fragment: str = "") -> tuple[Page, float | None, float]:
        """Send one rerun_script; collect the page until the script finished successfully (a
        st.rerun inside the run is followed through). Returns the page, seconds until a markdown
        containing `watch` arrived, and seconds until the end. `fragment`: the fragment of the
        widget that triggered it, which the browser names so that only that fragment runs."""
        msg = BackMsg()
        msg.rerun_script.query_string = ""
        msg.rerun_script.page_script_hash = self.page_hash
        msg.rerun_script.fragment_id = fragment
        msg.rerun_script.widget_states.widgets.extend(widgets)
        page, seen = Page(), None
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await self.ws.recv())
            kind = fwd.WhichOneof("type")
            if kind == "ref_hash":
                fwd = self.cache[fwd.ref_hash]
                kind = fwd.WhichOneof("type")
            elif fwd.hash:
                self.cache[fwd.hash] = fwd
            if kind == "new_session":
                self.page_hash = fwd.new_session.main_script_hash
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                el = fwd.delta.new_element
                which = el.WhichOneof("type")
                if which in WIDGETS:
                    page.widgets.append((which, getattr(el, which)))
                    if fwd.delta.fragment_id:
                        page.fragments[getattr(el, which).id] = fwd.delta.fragment_id
                elif which == "alert":
                    page.alerts.append(el.alert.body)
                elif which == "markdown":
                    page.texts.append(el.markdown.body)
                    if watch and seen is None and watch in el.markdown.body:
                        seen = time.perf_counter() - t0
                elif which in ("video", "imgs"):
                    if which == "video":
                        page.media.append(el.video.url)
            elif kind == "script_finished":
                status = ForwardMsg.ScriptFinishedStatus.Name(fwd.script_finished)
                if status in DONE:
                    page.status = status
                    return page, seen, time.perf_counter() - t0
                page = Page()  # finished early for a rerun: the page that counts comes next

    async def fetch(self, url: str) -> int:
        full = url if url.startswith("http") else self.base + (url if url.startswith("/") else "/" + url)
        return await asyncio.to_thread(lambda: len(urllib.request.urlopen(full, timeout=60).read()))

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def trigger(el) -> WidgetState:
    w = WidgetState(id=el.id)
    w.trigger_value = True
    return w


def text(el, value: str) -> WidgetState:
    return WidgetState(id=el.id, string_value=value)


def choice(el, index: int) -> WidgetState:
    # Radios carry the chosen option's label (string_value), as the frontend sends it.
    return WidgetState(id=el.id, string_value=el.options[index])

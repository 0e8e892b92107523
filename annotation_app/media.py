"""Bytes for the browser. Videos and images are handed to Streamlit as bytes, never as paths:
Streamlit's media file manager then serves them at /media/<content hash>.<ext>, so no URL, file
name or attribute the browser sees carries a model tag, run name or path."""

from __future__ import annotations

import html
import io
import json
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import streamlit as st

from stepeval.images import load_image

IMAGE_MAX_SIDE = 768  # the input image is a reference; a smaller picture keeps page turns fast
# JPEG, not PNG: encoding the reference thumbnail as PNG took 0.6-3 s of CPU per item on the
# 2-core server (JPEG: a few ms) and made a 5x larger download; at quality 90 the reference
# image is visually unchanged.
IMAGE_QUALITY = 90


# A resource cache, not a data cache: st.cache_data hands every caller a fresh unpickled copy, i.e.
# copies each video on every page turn; bytes are immutable, so one copy can serve every session.
@st.cache_resource(max_entries=256, show_spinner=False)
def _file_bytes(path: str, mtime_ns: int) -> bytes:
    return Path(path).read_bytes()


def video_bytes(path: Path) -> bytes:
    return _file_bytes(str(path), path.stat().st_mtime_ns)


def _thumbnail(path: str, mtime_ns: int) -> bytes:
    img = load_image(path)
    img.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=IMAGE_QUALITY)
    return buf.getvalue()


class _Thumbnails:
    """Process-wide thumbnails keyed by (path, mtime), each made once for every session.

    `warm` makes one on a background thread while the annotator looks at the current item, so
    the submit that brings its item up finds it ready: decoding a full-size input image is the
    slowest thing a page turn would otherwise do. `get` waits for a warm-up under way, or makes
    the thumbnail itself when none was asked for."""

    def __init__(self, max_entries: int = 256):
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, int], Future] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stepeval-thumbnails")

    def _entry(self, key: tuple[str, int], background: bool) -> tuple[Future, bool]:
        with self._lock:
            fut = self._entries.get(key)
            if fut is not None:
                self._entries.move_to_end(key)
                return fut, False
            fut = self._pool.submit(_thumbnail, *key) if background else Future()
            self._entries[key] = fut
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return fut, True

    def get(self, path: Path) -> bytes:
        key = (str(path), path.stat().st_mtime_ns)
        fut, mine = self._entry(key, background=False)
        if mine:
            try:
                fut.set_result(_thumbnail(*key))
            except BaseException as exc:
                fut.set_exception(exc)
        try:
            return fut.result()
        except BaseException:
            with self._lock:  # a failure is not cached: the file may be fixed
                if self._entries.get(key) is fut:
                    del self._entries[key]
            raise

    def warm(self, path: Path) -> None:
        try:
            key = (str(path), path.stat().st_mtime_ns)
        except OSError:
            return  # the page that shows it will say the image is missing
        self._entry(key, background=True)


@st.cache_resource(show_spinner=False)
def _thumbnails() -> _Thumbnails:
    return _Thumbnails()


def image_bytes(path: Path) -> bytes:
    """The input image as a JPEG thumbnail (at most IMAGE_MAX_SIDE on its longer side)."""
    return _thumbnails().get(path)


def warm_image(path: Path) -> None:
    """Start making `path`'s thumbnail in the background (no-op if made or under way)."""
    _thumbnails().warm(path)


def item_marker(task_id: str, dimensions: int, render: int) -> str:
    """Hidden attributes for the item caption: which item (the opaque task id, which also ends the
    answer widgets' keys), how many answers it has, and which script run drew it."""
    return f'<span hidden data-stepeval-item="{html.escape(task_id)}" data-stepeval-dims="{dimensions}" data-stepeval-run="{render}"></span>'


# Keys per dimension, in the order Left, Tie, Right: 1-9 for the first three (a TI2V study's), Q W E
# for a fourth (a T2V study's). C and R are reserved by Streamlit, B goes back.
ANSWER_KEYS: tuple[tuple[str, str, str], ...] = (("1", "2", "3"), ("4", "5", "6"), ("7", "8", "9"), ("Q", "W", "E"))

# Runs in the page itself (st.html is not iframed), installed once per page.
#
# Videos: links the two players (play, pause and seek on one apply to the other; Space toggles
# both; it re-attaches as Streamlit replaces the videos on the next item).
#
# Keys: ANSWER_KEYS choose answers (row n: dimension n, Left/Tie/Right, by clicking the radio
# option as a mouse would), Enter submits, B goes back. Streamlit redraws a page element by
# element: after a submit the next item's caption and videos are on screen while the previous
# item's answers are still there, marked stale, for a few hundred milliseconds (seconds under load).
# The script hides answer widgets keyed to another item than the caption's, and a key acts only
# on the item whose caption is on screen: it waits (up to HOLD_MS) until that item's
# answer block is drawn by the same script run, then acts on it. A key that cannot act on the item
# on screen (pressed between a submit and the next item's caption, or whose item took too long)
# is dropped and the page says so, so the annotator presses it again; it is never applied to
# another item. Mouse clicks on a stale answer block are refused the same way.
PAGE_JS = """
<script>
(function () {
  if (window.__stepevalSync) return;
  window.__stepevalSync = true;
  let busy = false;
  const players = () => Array.from(document.querySelectorAll('[data-testid="stVideo"]'));
  function others(v) { return players().filter((o) => o !== v); }
  function attach() {
    for (const v of players()) {
      if (v.dataset.synced) continue;
      v.dataset.synced = "1";
      v.preload = "auto";
      v.addEventListener("play", () => { if (busy) return; busy = true; others(v).forEach((o) => { o.currentTime = v.currentTime; o.play().catch(() => {}); }); busy = false; });
      v.addEventListener("pause", () => { if (busy) return; busy = true; others(v).forEach((o) => o.pause()); busy = false; });
      v.addEventListener("seeked", () => { if (busy) return; busy = true; others(v).forEach((o) => { if (Math.abs(o.currentTime - v.currentTime) > 0.05) o.currentTime = v.currentTime; }); busy = false; });
    }
  }
  setInterval(attach, 300);

  const ANSWER_KEYS = __ANSWER_KEYS__;  // Left, Tie, Right of dimension 1, then of dimension 2, ...
  // The answer a key chooses (-1: none). Keys 1-9 are always taken on an item page, as they always
  // were; a further row only when the item on screen has that many dimensions.
  function answerIndex(key) {
    const k = key.length === 1 ? ANSWER_KEYS.indexOf(key.toUpperCase()) : -1;
    const mark = document.querySelector("[data-stepeval-item]");
    const dims = mark ? Number(mark.dataset.stepevalDims) : 0;
    return k >= 0 && k < 3 * Math.max(dims, 3) ? k : -1;
  }
  const HOLD_MS = 20000;   // how long a key waits for the answers of the item on screen (a loaded server is slow)
  const SENT_MS = 30000;   // a submit the server never answers stops holding keys back
  const queue = [];        // keys waiting for their item's answers: {item, key, at}
  let sent = null;         // the page a submit was sent from: {run, at}

  const holder = (el) => el && el.closest('[data-testid="stElementContainer"]');
  const fresh = (el) => { const c = holder(el); return !!c && c.dataset.stale !== "true"; };
  const keyClass = (el) => { const c = holder(el); return (c && Array.from(c.classList).find((x) => x.startsWith("st-key-"))) || ""; };
  const isItemPage = () => document.querySelector("[data-stepeval-item]") !== null;
  // A widget key as Streamlit writes it into the element's class (st-key-...).
  const asClass = (key) => key.trim().replace(/[^a-zA-Z0-9_-]/g, "-");
  const ownedBy = (el, item) => keyClass(el).endsWith("-" + asClass(item));

  function shown() {
    // The item on screen: the caption drawn by the script run now showing.
    const marks = Array.from(document.querySelectorAll("[data-stepeval-item]")).filter(fresh);
    if (marks.length !== 1) return null;
    const m = marks[0].dataset;
    const view = { item: m.stepevalItem, dims: Number(m.stepevalDims), run: m.stepevalRun };
    if (sent && (sent.run !== view.run || performance.now() - sent.at > SENT_MS)) sent = null;
    view.submitted = sent !== null;
    return view;
  }
  function answers(view) {
    // That item's answer block, every part of it drawn by the same run as the caption.
    const groups = Array.from(document.querySelectorAll('[data-testid="stRadio"]')).filter((g) => fresh(g) && ownedBy(g, view.item));
    const submit = Array.from(document.querySelectorAll(".st-key-submit button")).filter(fresh);
    if (groups.length !== view.dims || submit.length !== 1) return null;
    return { groups: groups, submit: submit[0] };
  }

  function note(keys, why) {
    let el = document.getElementById("stepeval-not-recorded");
    if (!el) {
      el = document.createElement("div");
      el.id = "stepeval-not-recorded";
      el.setAttribute("data-testid", "stepevalNotRecorded");
      el.setAttribute("role", "alert");
      el.style.cssText = "position:fixed;top:4.5rem;left:50%;transform:translateX(-50%);z-index:100000;background:#fff3cd;color:#664d03;border:1px solid #ffcd39;border-radius:.5rem;padding:.6rem 1rem;font:500 1rem sans-serif;box-shadow:0 2px 8px rgba(0,0,0,.15)";
      document.body.appendChild(el);
    }
    el.textContent = "Not recorded: " + keys.join(", ") + " (" + why + "). Check the answers and press again.";
    el.dataset.count = String(Number(el.dataset.count || 0) + keys.length);
    el.style.display = "block";
    clearTimeout(el.hideTimer);
    el.hideTimer = setTimeout(() => { el.style.display = "none"; }, 4000);
  }
  const label = (key) => (key === "Enter" ? "Enter" : "key " + key.toUpperCase());

  function act(a, key) {
    if (key === "Enter") {
      a.submit.click();  // the click guard below records the submit
      return;
    }
    const k = answerIndex(key);
    const group = k >= 0 ? a.groups[Math.floor(k / 3)] : null;
    const option = group && group.querySelectorAll('[data-testid="stRadioOption"] input')[k % 3];
    if (option) option.click();
  }
  function drop(why) { note(queue.splice(0).map((q) => label(q.key)), why); }
  function flush() {
    while (queue.length) {
      const view = shown();
      if (view && view.item !== queue[0].item) return drop("another item came up");
      if (view && view.submitted) return drop("pressed after the submit, before the next item");
      const a = view ? answers(view) : null;
      if (!a) {
        if (performance.now() - queue[0].at > HOLD_MS) drop("the item's answers took too long to appear");
        return;
      }
      act(a, queue.shift().key);
    }
  }
  // The previous item's answers stay in the page until Streamlit replaces them; under the next
  // item's caption they would read as that item's answers, so they are hidden until then.
  const hiding = document.createElement("style");
  // Not `visibility`: Streamlit sets it on widget labels, which would show through. No transition:
  // Streamlit fades stale elements slowly, and the old answers must be gone at once.
  hiding.textContent = "[data-stepeval-other-item] { opacity: 0 !important; transition: none !important; pointer-events: none !important; }";
  document.head.appendChild(hiding);
  function hideOtherItems() {
    const view = shown();
    document.querySelectorAll('[data-testid="stElementContainer"][class*="st-key-"]').forEach((c) => {
      const perItem = /-[0-9a-f]{32}$/.test(keyClass(c));  // keyed to a task: answers, comment, cannot-judge
      if (view && perItem && !ownedBy(c, view.item)) c.setAttribute("data-stepeval-other-item", "");
      else c.removeAttribute("data-stepeval-other-item");
    });
  }
  new MutationObserver(() => { hideOtherItems(); flush(); }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-stale", "class"] });
  setInterval(flush, 250);

  function back() {
    const button = Array.from(document.querySelectorAll(".st-key-back button")).filter(fresh)[0];
    if (!isItemPage()) {  // the "all done" page: nothing there can change under the key
      if (button && !button.disabled) button.click();
      return;
    }
    const view = shown();
    if (view && !view.submitted && button && answers(view)) {
      if (!button.disabled) button.click();
    } else {
      note(["B"], "the page was changing");
    }
  }

  // In the capture phase of the window, before Streamlit's own shortcut handlers: a key this script
  // takes is not seen by a stale button's shortcut (the tutorial's Enter still on screen).
  window.addEventListener("keydown", (e) => {
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (t && ((t.tagName === "INPUT" && t.type !== "radio" && t.type !== "checkbox") || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
    if ((e.key === "b" || e.key === "B") && (isItemPage() || document.querySelector(".st-key-back button"))) {
      e.preventDefault();
      e.stopPropagation();
      if (!e.repeat) back();
      return;
    }
    if ((answerIndex(e.key) >= 0 || e.key === "Enter") && isItemPage()) {
      // Enter on a focused button of this page (a guideline) is that button's; focus left on a
      // button of the page before (the tutorial's Start) or on Back must not turn Enter into it.
      if (e.key === "Enter" && t && t.tagName === "BUTTON" && t.isConnected && fresh(t) && !t.closest(".st-key-submit, .st-key-back")) return;
      e.preventDefault();
      e.stopPropagation();
      if (e.repeat) return;
      const view = shown();
      if (!view) { note([label(e.key)], "the page was changing"); return; }
      if (view.submitted) { note([label(e.key)], "pressed after the submit, before the next item"); return; }
      queue.push({ item: view.item, key: e.key, at: performance.now() });
      flush();
      return;
    }
    if (e.code !== "Space") return;
    const vs = players();
    if (!vs.length) return;
    e.preventDefault();
    if (vs.some((v) => v.paused)) vs.forEach((v) => v.play().catch(() => {})); else vs.forEach((v) => v.pause());
  }, true);

  // A click on an answer block that is not the one of the item on screen would change or submit
  // answers the annotator is not looking at.
  window.addEventListener("click", (e) => {
    const t = e.target instanceof Element ? e.target : null;
    const part = t && t.closest('[data-testid="stRadio"], .st-key-submit');
    if (!part) return;
    const view = shown();
    const isSubmit = part.classList.contains("st-key-submit");
    const ok = view && !view.submitted && fresh(part) && answers(view) && (isSubmit || ownedBy(part, view.item));
    if (ok) {
      if (isSubmit) sent = { run: view.run, at: performance.now() };
      return;
    }
    e.preventDefault();
    e.stopPropagation();
    note(["click"], "the page was changing");
  }, true);
})();
</script>
"""
PAGE_JS = PAGE_JS.replace("__ANSWER_KEYS__", json.dumps("".join("".join(row) for row in ANSWER_KEYS)))

"""Bytes for the browser. Videos and images are handed to Streamlit as bytes, never as paths:
Streamlit's media file manager then serves them at /media/<content hash>.<ext>, so no URL, file
name or attribute the browser sees carries a model tag, run name or path."""

from __future__ import annotations

import io
from pathlib import Path

import streamlit as st

from stepeval.images import load_image

IMAGE_MAX_SIDE = 768  # the input image is a reference; a smaller PNG keeps page turns fast


@st.cache_data(max_entries=256, show_spinner=False)
def _file_bytes(path: str, mtime_ns: int) -> bytes:
    return Path(path).read_bytes()


def video_bytes(path: Path) -> bytes:
    return _file_bytes(str(path), path.stat().st_mtime_ns)


@st.cache_data(max_entries=256, show_spinner=False)
def _image_png(path: str, mtime_ns: int) -> bytes:
    img = load_image(path)
    img.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def image_png(path: Path) -> bytes:
    return _image_png(str(path), path.stat().st_mtime_ns)


# Runs in the page itself (st.html is not iframed), installed once per page. Links the two players
# (play, pause and seek on one apply to the other; Space toggles both; it re-attaches as Streamlit
# replaces the videos on the next item) and maps keys 1-9 to the answers: dimension (k-1)//3,
# option Left/Tie/Right (k-1)%3, by clicking the radio option as a mouse would.
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
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (t && ((t.tagName === "INPUT" && t.type !== "radio" && t.type !== "checkbox") || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (/^[1-9]$/.test(e.key)) {
      const k = Number(e.key) - 1;
      const group = document.querySelectorAll('[data-testid="stRadio"]')[Math.floor(k / 3)];
      const option = group && group.querySelectorAll('[data-testid="stRadioOption"] input')[k % 3];
      if (option) { e.preventDefault(); option.click(); }
      return;
    }
    if (e.code !== "Space") return;
    const vs = players();
    if (!vs.length) return;
    e.preventDefault();
    if (vs.some((v) => v.paused)) vs.forEach((v) => v.play().catch(() => {})); else vs.forEach((v) => v.pause());
  });
})();
</script>
"""

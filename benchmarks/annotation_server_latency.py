"""The annotator's wait, as the server alone causes it: submit -> next item's page sent.

    python benchmarks/annotation_server_latency.py [--items 12] [--sessions 1 8 32] [--think-ms 700]
    python benchmarks/annotation_server_latency.py --browser    # plus one real Chromium session

Lightweight clients instead of browsers: each session is one websocket speaking Streamlit's own
protocol (the BackMsg / ForwardMsg protobufs of the installed streamlit; tests/human/streamlit_client.py),
from one asyncio process. A client signs in with its token, passes the tutorial, then per item sends what the browser sends
on "Submit & next" (one rerun_script carrying the three answers and the submit trigger) and times:
- caption: send -> the next item's caption arrives (the first element that is the next item),
- page: send -> script_finished, i.e. the whole next page has been sent by the server.
It then fetches the page's two videos over HTTP, as a browser would (not timed into the page,
but part of the server's load), and waits `--think-ms` before the next submit.

Why this and not server-side instrumentation or browsers: it drives the real server through its
real protocol and measures the bytes on the wire, so nothing in the app or in Streamlit is
patched; a client costs a few ms of CPU per page (printed: the clients' own CPU time), against the
hundreds a headless Chromium spends laying out and decoding two videos, so 32 sessions fit on
2 cores without the rig dominating. What the client does not do (render, decode video) is what
the single Chromium session (`--browser`, through benchmarks/annotation_browser.py's driver)
adds back for the end-to-end figure. Times are upper bounds of the server's own: they include the
loopback and the client's event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stepeval.human import AnnotationStore, create_study_from_run  # noqa: E402
from tests.human.helpers import MODEL_A, MODEL_B, make_run, serving  # noqa: E402
from tests.human.streamlit_client import Session, choice, text, trigger  # noqa: E402

STEP_EVAL = REPO.parent / "shared" / "benchmark" / "Step-Video-TI2V-Eval"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


async def annotate(base: str, token: str, submits: int, think_ms: float, rng: random.Random,
                   ready: list, gate: asyncio.Event, n_sessions: int, out: dict) -> None:
    s = Session(base)
    try:
        page = await s.connect()
        page, _, _ = await s.rerun([text(page.widget("text_input", "Access token"), token),
                                    trigger(page.widget("button", "Sign in"))])
        page, _, _ = await s.rerun([trigger(page.widget("button", "Start"))])
        for url in page.media:
            await s.fetch(url)
        ready.append(token)
        if len(ready) == n_sessions:
            out["t_gate"] = time.perf_counter()
            out["cpu_gate"] = out["cpu"]()
            gate.set()
        await gate.wait()
        n = tries = 0
        while n < submits:
            await asyncio.sleep(think_ms / 1000 * rng.uniform(0.5, 1.5))
            answers = [choice(r, rng.randrange(3)) for r in page.radios()]
            if len(answers) != 3:
                raise RuntimeError(f"item {n + 1}: expected 3 answer radios, got {len(answers)}")
            submit = page.widget("button", "Submit & next")
            page, caption_s, page_s = await s.rerun(answers + [trigger(submit)], watch=f"Item {n + 2} of",
                                                    fragment=page.fragment_of(submit))
            if caption_s is None:
                # The app refused the submit and said why (e.g. the store was busy past its
                # timeout): an annotator would press again. Counted, not timed.
                out["rejected"].append(page.alerts[0] if page.alerts else "no reason shown")
                tries += 1
                if tries > 5:
                    raise RuntimeError(f"submit {n + 1} refused 5 times: {out['rejected'][-5:]}")
                continue
            n, tries = n + 1, 0
            out["caption"].append(1000 * caption_s)
            out["page"].append(1000 * page_s)
            t0 = time.perf_counter()
            for url in page.media:
                await s.fetch(url)
            out["media"].append(1000 * (time.perf_counter() - t0))
    finally:
        await s.close()


async def measure(base: str, tokens: list[str], submits: int, think_ms: float, seed: int, cpu=lambda: 0.0) -> dict:
    """`cpu` reads the server's CPU seconds: read when every session is on its first item and when
    the last submit is done, so sign-in, tutorial and first views (thumbnails) are not in it."""
    out = {"caption": [], "page": [], "media": [], "rejected": [], "cpu": cpu}
    ready: list[str] = []
    gate = asyncio.Event()
    await asyncio.gather(*(annotate(base, t, submits, think_ms, random.Random(seed + k), ready, gate, len(tokens), out)
                           for k, t in enumerate(tokens)))
    out["cpu_submits"] = cpu() - out["cpu_gate"]
    out["wall_submits"] = time.perf_counter() - out["t_gate"]
    return out


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def server_process(port: int):
    """The process listening on 127.0.0.1:port (streamlit, child of `stepeval annotate serve`)."""
    import psutil

    for proc in psutil.process_iter():
        try:
            if any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in proc.net_connections("tcp")):
                return proc
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
    return None


def proc_cpu_s(proc) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def browser_session(base: str, token: str, submits: int) -> tuple[list[float], list[float]]:
    """One real Chromium through the browser benchmark's own driver (same waits, same keys)."""
    from playwright.async_api import async_playwright

    from benchmarks.annotation_browser import annotate_session
    from tests.browser import ARGS, CHROMIUM

    async def go():
        page_ms, video_ms, ready = [], [], []
        gate = asyncio.Event()
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                await annotate_session(browser, base, token, submits, page_ms, video_ms, ready, gate, 1)
            finally:
                await browser.close()
        return page_ms, video_ms

    return asyncio.run(go())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=12)
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--think-ms", type=float, default=700.0,
                    help="mean pause between a page arriving and the next submit (uniform 0.5x-1.5x)")
    ap.add_argument("--browser", action="store_true", help="also one real Chromium session, alone")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run, ids = make_run(Path(tmp), STEP_EVAL, n_items=args.items)
        store = AnnotationStore.open(run_root=run.root)
        total = sum(args.sessions) + (1 if args.browser else 0)
        sid, _ = create_study_from_run(store, run, MODEL_A, MODEL_B, study_id="bench", overlap=total, seed=1)
        with serving(run.root) as (base, healthy_s):
            print(f"items {len(ids)}; server healthy after {healthy_s:.2f} s; think time {args.think_ms:.0f} ms "
                  "(uniform 0.5x-1.5x); times in ms from the submit sent")
            server = server_process(int(base.rsplit(":", 1)[1]))
            print("| sessions | submits | caption p50 | caption p95 | page sent p50 | page sent p95 | page max |"
                  " media fetch p50 | server CPU per submit | server cores busy | client CPU per page | refused submits |")
            print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for n in args.sessions:
                fresh = [store.add_annotator(sid, f"s{n}-{k}") for k in range(n)]
                submits = min(len(store.queue(store.authenticate(t).annotator_id)) for t in fresh) - 1
                c0 = cpu_s()
                r = asyncio.run(measure(base, fresh, submits, args.think_ms, args.seed, lambda: proc_cpu_s(server)))
                pages = max(1, len(r["page"]))
                per_page = (cpu_s() - c0) / pages * 1000
                server_per_page = r["cpu_submits"] / pages * 1000
                server_share = r["cpu_submits"] / r["wall_submits"]
                print(f"| {n} | {len(r['page'])} | {statistics.median(r['caption']):.0f} | {pct(r['caption'], 0.95):.0f} | "
                      f"{statistics.median(r['page']):.0f} | {pct(r['page'], 0.95):.0f} | {max(r['page']):.0f} | "
                      f"{statistics.median(r['media']):.0f} | {server_per_page:.0f} ms | {server_share:.2f} | {per_page:.1f} ms | "
                      f"{len(r['rejected'])} |")
                for reason in sorted(set(r["rejected"])):
                    print(f"  refused submit ({r['rejected'].count(reason)}x): {reason[:200]}")
            if args.browser:
                token = store.add_annotator(sid, "chromium")
                submits = len(store.queue(store.authenticate(token).annotator_id)) - 1
                page_ms, video_ms = browser_session(base, token, submits)
                print(f"\nOne Chromium session alone ({len(page_ms)} submits): Enter -> next caption on screen "
                      f"p50 {statistics.median(page_ms):.0f} / p95 {pct(page_ms, 0.95):.0f} ms; -> both videos "
                      f"playable p50 {statistics.median(video_ms):.0f} / p95 {pct(video_ms, 0.95):.0f} ms")
        store.close()


if __name__ == "__main__":
    main()

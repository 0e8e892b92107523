"""The annotation app in a real Chromium: start-up time and submit -> next item latency.

    python benchmarks/annotation_browser.py [--items 12] [--sessions 1 8]

Builds a run in a temp folder (videos from the shared benchmark's images), starts
`stepeval annotate serve` on 127.0.0.1, then measures
- start: server process start -> a browser shows the sign-in page ready for input;
- submit -> next: Enter pressed on a judged item (0.7 s after the last answer key, as a person
  would pause; without the pause the time also counts the reruns of the three answers) -> the next item's caption is on screen ("page"),
  and -> both of its videos have readyState >= 2 ("videos");
with 1 and with 8 annotators submitting at once (8 browser contexts of one Chromium).
Reference in the same run: the target, p95 < 300 ms with 8 sessions.

    python benchmarks/annotation_browser.py --keyboard-check [--sessions 8] [--items 12] [--repeats 3]

instead checks that nothing is lost when annotators go as fast as they can: each of 8 annotators
presses an item's three answer keys and Enter the moment its caption appears (the driver of
tests/human/test_app_concurrency_browser.py, which runs a smaller version in CI), on a fresh
server and study per repeat; prints per repeat the tasks answered, label rows, judgment rows,
answers that differ from the keys pressed, and how often the page said a key was not recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stepeval.human import AnnotationStore, create_study_from_run  # noqa: E402
from tests.browser import ARGS, CHROMIUM  # noqa: E402
from tests.human.helpers import MODEL_A, MODEL_B, make_run, serving  # noqa: E402

STEP_EVAL = REPO.parent / "shared" / "benchmark" / "Step-Video-TI2V-Eval"
# The key handler is installed by the page's script, which mounts after the videos.
THINK_MS = 700
KEYS_READY = "() => window.__stepevalSync === true && document.querySelectorAll('[data-testid=\"stRadio\"]').length === 3"
# Checked answers of the item on screen only: the previous item's stay in the page, stale and
# hidden, until Streamlit replaces them.
JUDGED = "() => document.querySelectorAll('[data-testid=\"stElementContainer\"]:not([data-stale=\"true\"]):not([data-stepeval-other-item]) [data-testid=\"stRadio\"] input:checked').length === 3"
READY = "(old) => { const v = [...document.querySelectorAll('video')]; return v.length === 2 && v.every((x) => x.readyState >= 2 && !old.includes(x.currentSrc)); }"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


async def annotate_session(browser, base: str, token: str, submits: int, page_ms: list, video_ms: list, ready: list, gate: asyncio.Event, n_sessions: int):
    ctx = await browser.new_context(viewport={"width": 1280, "height": 1400})
    page = await ctx.new_page()
    await page.goto(base)
    await page.get_by_label("Access token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("button", name="Start").click()
    await page.wait_for_function(READY, arg=[], timeout=60_000)
    ready.append(token)
    if len(ready) == n_sessions:  # every session is on its first item: all start submitting together
        gate.set()
    await gate.wait()
    for n in range(submits):
        await page.wait_for_function(KEYS_READY, timeout=120_000)
        await page.evaluate("document.activeElement && document.activeElement.blur()")
        for key in ("1", "5", "9"):
            await page.keyboard.press(key)
        try:
            await page.wait_for_function(JUDGED, timeout=120_000)
        except Exception:
            await page.screenshot(path="/tmp/bench-fail.png")
            print("checked:", await page.evaluate("() => [...document.querySelectorAll('[data-testid=\"stRadio\"] input')].map((i) => i.checked)"), "item", n)
            raise
        await page.wait_for_timeout(THINK_MS)  # a person pauses before Enter; lets the answer reruns finish
        old = await page.evaluate("() => [...document.querySelectorAll('video')].map((v) => v.currentSrc)")
        t0 = time.perf_counter()
        await page.keyboard.press("Enter")
        await page.get_by_text(f"Item {n + 2} of").wait_for(timeout=120_000)
        page_ms.append(1000 * (time.perf_counter() - t0))
        await page.wait_for_function(READY, arg=old, timeout=120_000)
        video_ms.append(1000 * (time.perf_counter() - t0))
    await ctx.close()


async def measure(browser, base: str, tokens: list[str], submits: int) -> tuple[list[float], list[float]]:
    page_ms: list[float] = []
    video_ms: list[float] = []
    ready: list[str] = []
    gate = asyncio.Event()
    await asyncio.gather(*(annotate_session(browser, base, t, submits, page_ms, video_ms, ready, gate, len(tokens)) for t in tokens))
    return page_ms, video_ms


async def run_all(args) -> None:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as tmp:
        run, ids = make_run(Path(tmp), STEP_EVAL, n_items=args.items)
        store = AnnotationStore.open(run_root=run.root)
        # overlap = every annotator of every setting, so each one gets the whole item list
        sid, _ = create_study_from_run(store, run, MODEL_A, MODEL_B, study_id="bench", overlap=sum(args.sessions), seed=1)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = await browser.new_page()
            t_start = time.perf_counter()  # the browser is already up: this times the server
            with serving(run.root) as (base, healthy_s):
                await page.goto(base)
                await page.get_by_label("Access token").wait_for()
                interactive_s = time.perf_counter() - t_start
                await page.close()
                print(f"items {len(ids)}; server start -> /_stcore/health OK: {healthy_s:.2f} s; -> sign-in page interactive in Chromium: {interactive_s:.2f} s")
                print("| sessions | submits | page p50 ms | page p95 ms | videos ready p50 ms | videos ready p95 ms |")
                print("|---:|---:|---:|---:|---:|---:|")
                for n in args.sessions:
                    # fresh annotators per setting, so every session starts at item 1
                    fresh = [store.add_annotator(sid, f"s{n}-{k}") for k in range(n)]
                    submits = min(len(store.queue(store.authenticate(t).annotator_id)) for t in fresh) - 1
                    page_ms, video_ms = await measure(browser, base, fresh, submits)
                    print(f"| {n} | {len(page_ms)} | {statistics.median(page_ms):.0f} | {pct(page_ms, 0.95):.0f} | {statistics.median(video_ms):.0f} | {pct(video_ms, 0.95):.0f} |")
            await browser.close()


def keyboard_check(args) -> None:
    from tests.human.test_app_concurrency_browser import check_store, judge_all, make_study, plan_keys

    sessions = args.sessions[-1]
    print(f"{sessions} annotators x {args.items} items, keys + Enter pressed as each caption appears; {args.repeats} repeats")
    failed = 0
    for rep in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            store, sid, root, tokens = make_study(Path(tmp), STEP_EVAL, sessions, args.items, seed=rep)
            plans = {name: plan_keys(100 * rep + n, args.items) for n, name in enumerate(tokens)}
            t0 = time.perf_counter()
            try:
                with serving(root) as (base, _):
                    results = asyncio.run(judge_all(base, tokens, plans))
                counts = check_store(store, sid, tokens, results)
                print(f"repeat {rep + 1}: {time.perf_counter() - t0:.0f} s; " + "; ".join(f"{k} {v}" for k, v in counts.items()))
            except Exception as exc:  # a lost answer, or a page that never came: count it, go on
                failed += 1
                print(f"repeat {rep + 1}: FAILED after {time.perf_counter() - t0:.0f} s: {exc}")
            finally:
                store.close()
    if failed:
        raise SystemExit(f"{failed} of {args.repeats} repeats lost or misplaced answers")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=12)
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--keyboard-check", action="store_true", help="check that fast keyboard annotators lose nothing (see above)")
    ap.add_argument("--repeats", type=int, default=3, help="with --keyboard-check: fresh server and study per repeat")
    args = ap.parse_args()
    if args.keyboard_check:
        keyboard_check(args)
    else:
        asyncio.run(run_all(args))


if __name__ == "__main__":
    main()

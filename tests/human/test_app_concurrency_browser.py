"""8 annotators in real Chromium, judging by keyboard as fast as they can, all at once.

Each annotator presses their three answer keys and Enter the moment an item's caption appears, not
waiting for the videos or the answers to be drawn. The page must either act on the item on screen
or say that a key was not recorded (then the annotator looks, presses what is missing, and goes
on, as a person would); a submit refused for missing answers that the page never reported is a
silently dropped key and fails the test. Afterwards the store must hold exactly one judgment per
task with the answers the annotator pressed.

`judge_queue` is also the driver of `benchmarks/annotation_browser.py --keyboard-check`.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stepeval.human import AnnotationStore, create_study_from_run
from tests.browser import ARGS, CHROMIUM
from tests.human.helpers import MODEL_A, MODEL_B, make_run, serving

pytestmark = pytest.mark.browser

ANNOTATORS = 8
ITEMS = 6  # per annotator; `benchmarks/annotation_browser.py --keyboard-check` runs 12, three times
LABEL_OF_KEY = {k: ("left", "tie", "right")[(k - 1) % 3] for k in range(1, 10)}
WAIT_MS = 120_000  # a generous bound for one page on a loaded 2-core machine

# How many presses the page said it did not record.
NOTES = "() => Number((document.querySelector('[data-testid=\"stepevalNotRecorded\"]') || {dataset: {}}).dataset.count || 0)"
# What the annotator sees after a submit: the next item (or the end), a note that a key was not
# recorded, or the server's refusal of an incomplete answer.
OUTCOME = """([next, notes]) => {
  const note = document.querySelector('[data-testid="stepevalNotRecorded"]');
  if (note && Number(note.dataset.count || 0) > notes) return "told";
  const current = (el) => { const c = el.closest('[data-testid="stElementContainer"]'); return !c || c.dataset.stale !== "true"; };
  const texts = Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"], [data-testid="stAlert"]')).filter(current).map((e) => e.innerText);
  if (texts.some((t) => t.startsWith(next))) return "moved";
  if (texts.some((t) => t.includes("Choose Left, Tie or Right"))) return "refused";
  return false;
}"""
# The page is drawn and idle: no script run, nothing stale.
SETTLED = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.dataset.testScriptState === "notRunning" && !document.querySelector('[data-stale="true"]');
}"""
# On a settled page: the item caption and the checked option (0, 1, 2 or -1) of each answer.
SEEN = """() => ({
  caption: (Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"], [data-testid="stAlert"]')).map((e) => e.innerText).find((t) => t.startsWith("Item ") || t.startsWith("All done")) || ""),
  checked: Array.from(document.querySelectorAll('[data-testid="stRadio"]')).map((g) => Array.from(g.querySelectorAll("input")).findIndex((i) => i.checked)),
})"""


@dataclass
class Annotated:
    """What one annotator did: the keys per queue position, and how often the page said no."""

    name: str
    keys: list[str] = field(default_factory=list)
    notes: int = 0
    corrections: int = 0
    told: list[str] = field(default_factory=list)  # what the notes said


def plan_keys(seed: int, items: int) -> list[str]:
    """Three answer keys per item: one of 1-3, one of 4-6, one of 7-9 (Left/Tie/Right per question)."""
    rng = random.Random(seed)
    return ["".join(str(3 * d + rng.randrange(3) + 1) for d in range(3)) for _ in range(items)]


async def sign_in(page, base: str, token: str) -> None:
    await page.goto(base)
    await page.get_by_label("Access token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("button", name="Start").click()


async def judge_queue(browser, base: str, token: str, keys: list[str], out: Annotated, start: asyncio.Barrier | None = None) -> None:
    """Sign in and judge `keys[n]` on item n+1, by keyboard, as fast as the page lets a person."""
    ctx = await browser.new_context(viewport={"width": 1280, "height": 1400})
    ctx.set_default_timeout(WAIT_MS)  # 8 browsers and the server share the machine's cores
    try:
        page = await ctx.new_page()
        await sign_in(page, base, token)
        # Eight browsers start and sign in together: the first page waits for all of them to launch.
        await page.get_by_text("Item 1 of").wait_for(timeout=2 * WAIT_MS)
        if start is not None:
            await start.wait()  # everyone on their first item: from here all submit at once
        for n, item_keys in enumerate(keys):
            await page.get_by_text(f"Item {n + 1} of").wait_for(timeout=WAIT_MS)
            following = f"Item {n + 2} of" if n + 1 < len(keys) else "All done"
            notes = await page.evaluate(NOTES)
            for k in item_keys:
                await page.keyboard.press(k)
            await page.keyboard.press("Enter")
            while True:
                outcome = await (await page.wait_for_function(OUTCOME, arg=[following, notes], polling=50, timeout=WAIT_MS)).json_value()
                if outcome == "moved":
                    break
                if outcome == "refused":
                    raise AssertionError(f"{out.name}, item {n + 1}: keys {item_keys} + Enter were refused as incomplete, and the page never said a key was not recorded")
                # Told a key was not recorded: look at the settled page and press what is missing.
                out.notes = await page.evaluate(NOTES)
                out.told.append(await page.get_by_test_id("stepevalNotRecorded").inner_text())
                await page.wait_for_function(SETTLED, polling=50, timeout=WAIT_MS)
                seen = await page.evaluate(SEEN)
                if seen["caption"].startswith(following):
                    break  # the submit went through; the note was about a key after it
                assert seen["caption"].startswith(f"Item {n + 1} of"), f"{out.name}: expected item {n + 1}, the page shows {seen['caption']!r}"
                for d, k in enumerate(item_keys):
                    if seen["checked"][d] != (int(k) - 1) % 3:
                        await page.keyboard.press(k)
                        out.corrections += 1
                wanted = [(int(k) - 1) % 3 for k in item_keys]
                await page.wait_for_function("(w) => Array.from(document.querySelectorAll('[data-testid=\"stRadio\"]')).map((g) => Array.from(g.querySelectorAll('input')).findIndex((i) => i.checked)).join() === w.join()",
                                             arg=wanted, polling=50, timeout=WAIT_MS)
                notes = await page.evaluate(NOTES)
                await page.keyboard.press("Enter")
            out.keys.append(item_keys)
        out.notes = await page.evaluate(NOTES)
    finally:
        await ctx.close()


async def judge_all(base: str, tokens: dict[str, str], plans: dict[str, list[str]]) -> list[Annotated]:
    from playwright.async_api import async_playwright

    results = [Annotated(name) for name in tokens]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            start = asyncio.Barrier(len(tokens))
            # A task group: the first annotator to fail cancels the others (who would otherwise
            # wait at the start line for ever).
            async with asyncio.TaskGroup() as group:
                for r in results:
                    group.create_task(judge_queue(browser, base, tokens[r.name], plans[r.name], r, start))
        except* AssertionError as failed:
            raise failed.exceptions[0] from None
        finally:
            await browser.close()
    return results


def check_store(store: AnnotationStore, study_id: str, tokens: dict[str, str], results: list[Annotated]) -> dict[str, object]:
    """One judgment per task, none superseded, each with the labels of the keys pressed; returns counts."""
    frame = store.judgments_frame(study_id)
    expected_tasks = 0
    wrong: list[str] = []
    for r in results:
        queue = store.queue(store.authenticate(tokens[r.name]).annotator_id)
        expected_tasks += len(queue)
        assert len(r.keys) == len(queue), f"{r.name} judged {len(r.keys)} of {len(queue)} items"
        for task, keys in zip(queue, r.keys):
            got = frame[frame["task_id"] == task.id].set_index("dimension")["screen_label"].to_dict()
            want = {dim: LABEL_OF_KEY[int(k)] for dim, k in zip(("instruction_adherence", "consistency", "physical_laws"), keys)}
            if got != want:
                wrong.append(f"{r.name} item {task.item_id}: pressed {keys} -> stored {got}")
    counts = {
        "tasks": expected_tasks,
        "tasks answered": int(frame["task_id"].nunique()),
        "label rows": len(frame),
        "judgment rows (incl. superseded)": store.count_judgments(study_id),
        "wrong answers": len(wrong),
        "not-recorded notes": sum(r.notes for r in results),
        "keys pressed again": sum(r.corrections for r in results),
    }
    reasons = sorted({t for r in results for t in r.told})
    if reasons:
        counts["notes said"] = " | ".join(reasons)
    assert not wrong, "\n".join(wrong)
    assert counts["tasks answered"] == expected_tasks and counts["label rows"] == 3 * expected_tasks, counts
    assert counts["judgment rows (incl. superseded)"] == expected_tasks, f"doubled or superseded submits: {counts}"
    return counts


def make_study(root: Path, step_eval_root: Path, annotators: int, items: int, seed: int = 3) -> tuple[AnnotationStore, str, Path, dict[str, str]]:
    run, ids = make_run(root, step_eval_root, n_items=items)
    assert len(ids) == items, f"the shared benchmark copy has only {len(ids)} items with an image"
    store = AnnotationStore.open(run_root=run.root)
    # overlap = every annotator, so each one judges the whole item list
    sid, _ = create_study_from_run(store, run, MODEL_A, MODEL_B, study_id="fast", overlap=annotators, seed=seed)
    tokens = {f"a{n}": store.add_annotator(sid, f"a{n}") for n in range(annotators)}
    return store, sid, run.root, tokens


def test_eight_annotators_judge_by_keyboard_at_once_nothing_lost(tmp_path, step_eval_root, artifacts_dir):
    store, sid, run_root, tokens = make_study(tmp_path, step_eval_root, ANNOTATORS, ITEMS)
    plans = {name: plan_keys(n, ITEMS) for n, name in enumerate(tokens)}
    with serving(run_root) as (base, _):
        results = asyncio.run(judge_all(base, tokens, plans))
    counts = check_store(store, sid, tokens, results)
    print(f"\n{ANNOTATORS} annotators x {ITEMS} items: {counts}")
    store.close()
    shutil.rmtree(run_root, ignore_errors=True)

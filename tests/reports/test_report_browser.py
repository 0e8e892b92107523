"""The HTML report in Chromium from file://: no console errors, sortable tables, charts, and
user-supplied strings (a prompt with a script tag, a model tag with quotes) shown as text."""

import pandas as pd
import pytest

from reports import build_report
from reports.testing import make_run, score_rows, step_eval_items
from tests.browser import chromium_page
from tests.reports.helpers import write_bench

XSS_PROMPT = "<script>alert(1)</script>"
QUOTED = "evil\"tag'<b>x"  # a tag a hand-edited export could carry; run.yaml would refuse it


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    items = step_eval_items(12)
    bench = write_bench(tmp / "bench", items.item_id, lambda n: XSS_PROMPT if n == 0 else f"镜头缓缓拉近 prompt {n}")
    models = ["stepvideo-ti2v@motion_score=2", "stepvideo-ti2v@motion_score=10", "static"]
    run, judgments = make_run(tmp / "xss-run", models, items=items, annotators=2, benchmark=bench)
    # The quoted tag enters through the judgments export and the scores table, which do not check tags.
    extra = judgments[judgments.model_b == "static"].copy()
    extra["model_b"] = QUOTED
    pd.concat([judgments, extra]).to_json(run.root / "judgments.jsonl", orient="records", lines=True, force_ascii=False)
    run.scores.append(score_rows(items, [QUOTED], seed=3))
    paths = build_report(run.root, tmp / "report", annotations=run.root / "judgments.jsonl", bootstrap=100)
    return paths


@pytest.mark.browser
def test_leaderboard_page_in_chromium(report, artifacts_dir):
    with chromium_page() as page:
        errors, dialogs = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(report.index.as_uri())
        page.wait_for_load_state("load")
        assert errors == [] and dialogs == []
        # Charts: the Elo forest plot, the win-fraction heatmap, the motion plot, all inline SVG with legends.
        assert page.locator("figure.chart svg").count() >= 4
        assert page.locator("#chart-heatmap svg rect").count() > 9
        assert page.locator("#chart-motion svg path").count() >= 1
        # The quoted model tag is plain text in tables and charts; the page holds one script: its own.
        assert page.locator("script").count() == 1
        assert page.get_by_text(QUOTED, exact=True).count() >= 1
        # Sorting: click "Rank" twice on the leaderboard, the order flips.
        table = page.locator("#table-leaderboard table")
        header = table.locator("thead th", has_text="Rank")
        header.click()
        ranks = [int(t) for t in table.locator("tbody tr td:first-child").all_inner_texts()]
        assert ranks == sorted(ranks) and len(ranks) == 4
        header.click()
        ranks_desc = [int(t) for t in table.locator("tbody tr td:first-child").all_inner_texts()]
        assert ranks_desc == sorted(ranks, reverse=True)
        assert header.get_attribute("aria-sort") == "descending"
        page.locator("#leaderboard").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "report_index.png"), full_page=False)
        page.screenshot(path=str(artifacts_dir / "report_index_full.png"), full_page=True)
        # The run's items with their prompts, the hostile one as a cell's text.
        items = page.locator("#table-run-items table")
        assert items.locator("tbody tr").count() == 12
        assert items.get_by_role("cell", name=XSS_PROMPT, exact=True).count() == 1
        assert items.get_by_role("cell", name="镜头缓缓拉近 prompt 3", exact=True).count() == 1
        page.locator("#run-items").scroll_into_view_if_needed()
        page.locator("#run-items").screenshot(path=str(artifacts_dir / "report_run_items.png"))
        assert errors == [] and dialogs == []


@pytest.mark.browser
def test_comparison_page_shows_hostile_strings_as_text(report, artifacts_dir):
    page_path = next(p for p in report.pages if "evil" in p.name and "motion-score-2" in p.name)
    with chromium_page() as page:
        errors, dialogs = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        assert page.locator("h1").inner_text() == f"stepvideo-ti2v@motion_score=2 vs {QUOTED}"
        cell = page.get_by_role("cell", name=XSS_PROMPT, exact=True)
        assert cell.count() == 1  # the prompt is a table cell's text...
        assert page.locator("script").count() == 1  # ...and no script element was injected
        assert page.evaluate("typeof window.alert_called") == "undefined"
        # Sort the per-item table by item id, descending on the second click.
        table = page.locator("#items table")
        header = table.locator("thead th", has_text="Item")
        header.click()
        header.click()
        ids = table.locator("tbody tr td:first-child").all_inner_texts()
        assert ids == sorted(ids, reverse=True) and len(ids) == 12
        page.locator("#items").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "report_comparison.png"), full_page=False)
        assert errors == [] and dialogs == []
    raw = page_path.read_text()
    assert "<script>alert(1)" not in raw and "&lt;script&gt;alert(1)&lt;/script&gt;" in raw

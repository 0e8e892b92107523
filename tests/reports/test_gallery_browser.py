"""The gallery in Chromium, on a run made by the commands themselves: `stepeval generate` (three
baselines on six Step-Video-TI2V-Eval items, and the tiny Step-Video at two motion scores on three
of them), `stepeval score`, `stepeval annotate create-study` + two items judged in the annotation
app, `stepeval annotate export`, `stepeval report --labels`.

What a user would check: every preview plays (readyState >= 2); a seek, a play/pause and a frame
step on one item keep all its players within one frame of each other; a filter shows exactly the
items it names; each Table 2 count opens exactly the items behind it; the motion sweep strip shows
the measured score under each video; no console error; the report folder, copied elsewhere, plays
from file:// without reaching outside itself.
"""

from __future__ import annotations

import json
import shutil
import sys
from urllib.parse import parse_qsl

import pytest

from stepeval.cli.main import main
from stepeval.human import DIMENSION_NAMES
from tests.browser import chromium_page
from tests.test_user_paths import JUDGMENTS, judge_in_app, printed_tokens, stepeval

pytestmark = pytest.mark.browser

SIZE = ["--set", "height=64", "--set", "width=96", "--set", "num_frames=17", "--set", "fps=8"]
OUTCOME = {"A": "win", "tie": "tie", "B": "loss"}  # model A's side: the study's focal model


@pytest.fixture(scope="module")
def made(tmp_path_factory, step_eval_root):
    work = tmp_path_factory.mktemp("gallery-run")
    root = work / "runs" / "gallery"
    assert main(["generate", str(step_eval_root), "--model", "static", "--model", "camera", "--model", "noise",
                 "--present-only", "--sample", "6", "--seed", "0", *SIZE, "--run-dir", str(root)]) == 0
    tags = sorted(p.name for p in (root / "videos").iterdir())
    ids = sorted(p.relative_to(root / "videos" / tags[0]).with_suffix("").as_posix()
                 for p in (root / "videos" / tags[0]).rglob("*.mp4"))
    sweep_ids = ids[:3]
    assert main(["generate", str(step_eval_root), "--model", "stepvideo-ti2v-tiny", "--set", "motion_score=2,10",
                 "--set", "steps=4", "--ids", ",".join(sweep_ids), "--run-dir", str(root)]) == 0
    assert main(["score", str(root), "--metrics", "motion_score"]) == 0
    static, camera = (next(t for t in tags if t.startswith(name)) for name in ("static", "camera"))
    res = stepeval("annotate", "create-study", root, "--model-a", static, "--model-b", camera, "--study-id", "look",
                   "--annotator", "alice", cwd=work)
    assert res.returncode == 0, res.stderr
    saved = sys.modules["__main__"]  # the app runs as __main__ in AppTest
    try:
        with pytest.MonkeyPatch.context() as mp:
            judged = judge_in_app(root, printed_tokens(res.stdout)["alice"], "look", mp)
    finally:
        sys.modules["__main__"] = saved
    export = work / "judgments.jsonl"
    assert main(["annotate", "export", str(root), str(export)]) == 0
    labels = work / "labels.csv"  # written by the user: Table 1 categories of the items
    categories = {item: ("I2V Subject" if k % 2 == 0 else "I2V Background") for k, item in enumerate(ids)}
    labels.write_text("item_id,category\n" + "".join(f"{i},{c}\n" for i, c in categories.items()), encoding="utf-8")
    assert main(["report", str(root), "--labels", str(labels), "--bootstrap", "20"]) == 0
    rows = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    return {"root": root, "report": root / "report", "ids": ids, "sweep_ids": sweep_ids, "tags": tags,
            "static": static, "camera": camera, "judged": judged, "judgments": rows, "categories": categories}


def watch(page):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    return errors


def visible_items(page) -> list[str]:
    # The items drawn for the address now in the location bar (a filter change redraws them).
    page.wait_for_function("() => document.getElementById('g-items').getAttribute('data-hash') === location.hash")
    return page.eval_on_selector_all("article.g-item", "els => els.map(e => e.dataset.item)")


def all_ready(page, timeout=90000) -> None:
    """Scroll every item into view (videos load when seen) and wait until each video has a frame."""
    for card in page.locator("article.g-item").all():
        card.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('article.g-item video')).every(v => v.readyState >= 2)", timeout=timeout)


IN_STEP = """([id, ref]) => {
  const card = document.querySelector(`article.g-item[data-item="${id}"]`);
  const vs = Array.from(card.querySelectorAll('video'));
  const t = vs[ref].currentTime;
  return vs.map(v => ({t: v.currentTime, seeking: v.seeking, dt: Math.abs(v.currentTime - t), paused: v.paused}));
}"""


def test_gallery_plays_in_step_filters_and_sorts(made, artifacts_dir):
    gallery = made["report"] / "gallery.html"
    with chromium_page() as page:
        errors = watch(page)
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.goto(gallery.as_uri() + "#size=all")
        assert sorted(visible_items(page)) == made["ids"]
        all_ready(page)
        n_videos = page.locator("article.g-item video").count()
        assert n_videos == 3 * len(made["ids"]) + 2 * len(made["sweep_ids"])

        # Seek one player: every player of the item follows, within one frame (8 fps here).
        item = made["sweep_ids"][0]
        card = page.locator(f'article.g-item[data-item="{item}"]')
        assert card.locator("video").count() == 5
        card.scroll_into_view_if_needed()
        page.evaluate("""(id) => { document.querySelector(`article.g-item[data-item="${id}"]`).querySelectorAll('video')[3].currentTime = 1.3; }""", item)
        page.wait_for_function("""(id) => Array.from(document.querySelector(`article.g-item[data-item="${id}"]`)
            .querySelectorAll('video')).every(v => !v.seeking && Math.abs(v.currentTime - 1.3) <= 1 / 8)""", arg=item)
        state = page.evaluate(IN_STEP, [item, 3])
        assert all(s["dt"] <= 1 / 8 for s in state), state

        # Play all, pause all: they stop on the same frame.
        card.locator(".g-play").click()
        page.wait_for_function("""(id) => Array.from(document.querySelector(`article.g-item[data-item="${id}"]`)
            .querySelectorAll('video')).every(v => !v.paused)""", arg=item)
        page.wait_for_timeout(400)
        card.locator(".g-play").click()
        page.wait_for_function("""(id) => Array.from(document.querySelector(`article.g-item[data-item="${id}"]`)
            .querySelectorAll('video')).every(v => v.paused && !v.seeking)""", arg=item)
        state = page.evaluate(IN_STEP, [item, 0])
        assert all(s["dt"] <= 1 / 8 for s in state), state

        # Frame step with the arrow keys moves every player one frame.
        card.locator(".g-next").click()
        before = page.evaluate(IN_STEP, [item, 0])[0]["t"]
        page.keyboard.press("ArrowRight")
        page.wait_for_function("""([id, t]) => Array.from(document.querySelector(`article.g-item[data-item="${id}"]`)
            .querySelectorAll('video')).every(v => !v.seeking && Math.abs(v.currentTime - t - 1 / 8) < 1e-3)""",
                               arg=[item, before])
        assert card.locator(".g-time").inner_text().startswith("frame ")
        card.screenshot(path=str(artifacts_dir / "gallery_item.png"))
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts_dir / "gallery.png"))

        # Filters: a domain, then a category, show exactly their items.
        page.select_option("select[name=domain]", "real")
        assert sorted(visible_items(page)) == [i for i in made["ids"] if i.startswith("real/")]
        page.select_option("select[name=domain]", "")
        page.select_option("select[name=category]", "I2V Background")
        assert sorted(visible_items(page)) == sorted(i for i, c in made["categories"].items() if c == "I2V Background")
        page.select_option("select[name=category]", "")
        # One model: one video per item.
        page.goto(gallery.as_uri() + "#size=all&model=" + made["static"].replace("@", "%40").replace("=", "%3D").replace(",", "%2C"))
        assert sorted(visible_items(page)) == made["ids"]
        assert page.locator("article.g-item video").count() == len(made["ids"])
        # Sorting by the motion score of one model, best and worst first: highest, lowest, ...
        page.goto(gallery.as_uri() + "#size=all&sort=motion_score&order=ends&model=" + made["camera"].replace("@", "%40").replace("=", "%3D").replace(",", "%2C"))
        visible_items(page)
        values = page.eval_on_selector_all("article.g-item dl.g-metrics div.sorted dd", "els => els.map(e => Number(e.textContent))")
        assert len(values) == len(made["ids"]) and values[0] == max(values) and values[1] == min(values)

        # The motion sweep strip: the family's two settings side by side, the measured score under each.
        page.goto(gallery.as_uri() + "#family=stepvideo-ti2v-tiny%40steps%3D4&size=all")
        visible_items(page)
        first = page.locator("article.g-item").first
        assert first.locator("video").count() == 2
        captions = first.locator(".g-sweep").all_inner_texts()
        assert [c.split()[:2] for c in captions] == [["motion_score", "2"], ["motion_score", "10"]]
        assert all("measured" in c and "n/a" not in c for c in captions)
        all_ready(page)
        first.screenshot(path=str(artifacts_dir / "gallery_sweep_strip.png"))
        assert errors == []


def test_table2_counts_open_exactly_their_items(made, artifacts_dir):
    expected: dict[tuple[str, str, str], set[str]] = {}
    for r in made["judgments"]:
        expected.setdefault((r["dimension"], r["item_id"].split("/")[0], OUTCOME[r["outcome"]]), set()).add(r["item_id"])
    index = made["report"] / "index.html"
    with chromium_page() as page:
        errors = watch(page)
        page.set_viewport_size({"width": 1300, "height": 900})
        page.goto(index.as_uri())
        links = page.eval_on_selector_all("#table-table2 a.to-videos", "els => els.map(a => [a.textContent, a.getAttribute('href')])")
        cells = [(t, h) for t, h in links if "dim=%2A" not in h]
        assert len(cells) >= 3
        opened = 0
        for text, href in cells:
            p = dict(parse_qsl(href.split("#", 1)[1]))
            assert (p["a"], p["b"]) == (made["static"], made["camera"])
            want = expected[(p["dim"], p["domain"], p["outcome"])]
            assert int(text) == len(want)
            page.goto(index.as_uri())
            page.locator(f'#table-table2 a.to-videos[href="{href}"]').first.click()
            page.wait_for_url("**/gallery.html#*")
            assert set(visible_items(page)) == want, href
            # Only the pair's two videos, and the people's label under them.
            assert page.locator("article.g-item").first.locator("video").count() == 2
            assert page.locator("article.g-item table.g-judged td.g-out").count() >= 1
            opened += 1
        assert opened == len(cells)
        page.screenshot(path=str(artifacts_dir / "gallery_from_table2.png"))
        # A leaderboard row opens that model's videos.
        page.goto(index.as_uri())
        page.locator("#table-leaderboard a.to-videos", has_text="camera").first.click()
        assert sorted(visible_items(page)) == made["ids"]
        assert page.locator("article.g-item").first.locator("video").count() == 1
        assert errors == []
    # What was judged in the app is what the report counted.
    assert {r["item_id"] for r in made["judgments"]} == set(made["judged"])
    assert len(made["judgments"]) == len(JUDGMENTS) * len(DIMENSION_NAMES)


def test_report_folder_copied_elsewhere_plays_from_disk(made, tmp_path):
    copy = tmp_path / "elsewhere" / "my-report"
    shutil.copytree(made["report"], copy)
    data = json.loads((copy / "gallery.json").read_text(encoding="utf-8"))
    sources = [v["src"] for it in data["items"] for v in it["videos"] if v and "src" in v]
    assert sources and all(not s.startswith(("/", "..")) and "://" not in s for s in sources)
    with chromium_page() as page:
        errors = watch(page)
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.goto((copy / "gallery.html").as_uri() + "#size=all")
        visible_items(page)
        all_ready(page)
        urls = page.eval_on_selector_all("video, img", "els => els.map(e => e.currentSrc || e.src)")
        prefix = copy.as_uri() + "/"
        assert urls and all(u.startswith(prefix) for u in urls), [u for u in urls if not u.startswith(prefix)][:3]
        # And they play: the first item's clock moves.
        card = page.locator("article.g-item").first
        card.locator(".g-play").click()
        page.wait_for_function("() => document.querySelector('article.g-item video').currentTime > 0.3")
        assert errors == []

"""The gallery without a browser: previews and their cache, the gallery's data, the links from
the report's numbers to the videos behind them, short model names, the human sections' empty state."""

from __future__ import annotations

import html
import json
import os
import re
import time
from pathlib import Path
from urllib.parse import parse_qsl, unquote

import av
import pandas as pd
import pytest

from reports import build_report
from reports.gallery import inline_json
from reports.media import MediaJob, PreviewSettings, build_media, preview_size
from reports.testing import make_run, score_rows, step_eval_items
from stepeval.generation.tags import display_names
from stepeval.video import probe, write_video

MODELS = ["stepvideo-ti2v@motion_score=2", "stepvideo-ti2v@motion_score=10",
          "static@height=144,num_frames=25,width=256"]


# --------------------------------------------------------------------------- names


def test_display_names_keep_only_what_tells_tags_apart():
    names = display_names(["static@height=144,num_frames=25,width=256", "camera@fps=8,height=64",
                           "m@cfg=3,motion_score=2", "m@cfg=3,motion_score=10", "plain"])
    assert names == {"static@height=144,num_frames=25,width=256": "static", "camera@fps=8,height=64": "camera",
                     "m@cfg=3,motion_score=2": "m@motion_score=2", "m@cfg=3,motion_score=10": "m@motion_score=10",
                     "plain": "plain"}
    # A short name that would be another tag's full name, or shared, is not used.
    clash = display_names(["static", "static@height=64"])
    assert clash == {"static": "static", "static@height=64": "static@height=64"}
    both = display_names(["m@a=1,b=1", "m@a=1,b=2", "m@a=2,b=1"])
    assert len(set(both.values())) == 3


# --------------------------------------------------------------------------- media


def _moov_before_mdat(path: Path) -> bool:
    data = path.read_bytes()
    return 0 <= data.find(b"moov") < data.find(b"mdat")


def test_preview_size_scales_down_only_and_keeps_even_sizes():
    assert preview_size(992, 544, 360) == (656, 360)
    assert preview_size(544, 992, 360) == (198, 360)
    assert preview_size(96, 64, 360) == (96, 64)
    assert preview_size(97, 63, 360) == (97, 63)  # the writer pads odd sizes; nothing is resampled
    assert preview_size(1001, 721, 360) == (500, 360)


def test_previews_are_small_h264_with_a_poster_and_are_cached(tmp_path, pattern):
    src = write_video(tmp_path / "run" / "a.mp4", pattern(9, 544, 992), fps=25)
    small = write_video(tmp_path / "run" / "b.mp4", pattern(5, 64, 96), fps=8)
    bad = tmp_path / "run" / "bad.mp4"
    bad.write_bytes(b"not a video" * 50)
    cache = tmp_path / "cache"
    jobs = [MediaJob("video", str(src)), MediaJob("video", str(small)), MediaJob("video", str(bad))]
    first = build_media(jobs, cache, workers=1)
    a = first[jobs[0]]
    assert a.ok and not a.cached
    info = probe(a.files["video"])
    assert (info.width, info.height, info.frames, info.codec, info.pix_fmt) == (656, 360, 9, "h264", "yuv420p")
    assert abs(info.fps - 25) < 1e-6 and _moov_before_mdat(Path(a.files["video"]))
    assert Path(a.files["poster"]).read_bytes()[:2] == b"\xff\xd8"  # JPEG
    b = first[jobs[1]]
    assert (probe(b.files["video"]).width, probe(b.files["video"]).height) == (96, 64)  # never upscaled
    assert first[jobs[2]].error and "bad.mp4" in first[jobs[2]].error
    assert os.path.getsize(a.files["video"]) < os.path.getsize(src)

    # Nothing changed: nothing is made again, the same files come back.
    stamps = {p: os.stat(p).st_mtime_ns for r in first.values() for p in r.files.values()}
    again = build_media(jobs[:2], cache, workers=1)
    assert all(r.cached for r in again.values())
    assert {p: os.stat(p).st_mtime_ns for r in again.values() for p in r.files.values()} == {
        p: t for p, t in stamps.items() if p in {q for r in again.values() for q in r.files.values()}}

    # A changed source (new mtime) or new settings make a new preview.
    later = time.time() + 5
    os.utime(src, (later, later))
    touched = build_media(jobs[:1], cache, workers=1)[jobs[0]]
    assert not touched.cached and touched.key != a.key
    resized = build_media(jobs[:1], cache, workers=1, settings=PreviewSettings(max_height=180))[jobs[0]]
    assert not resized.cached and probe(resized.files["video"]).height == 180


def test_worker_processes_make_the_same_previews(tmp_path, pattern):
    sources = [write_video(tmp_path / f"v{k}.mp4", pattern(5 + k, 64, 96), fps=8) for k in range(3)]
    jobs = [MediaJob("video", str(p)) for p in sources]
    one = build_media(jobs, tmp_path / "c1", workers=1)
    two = build_media(jobs, tmp_path / "c2", workers=2)
    for job in jobs:
        assert two[job].ok and not two[job].cached
        assert two[job].info == one[job].info
        with av.open(two[job].files["video"]) as c:
            assert sum(1 for _ in c.decode(video=0)) == one[job].info["frames"]


# --------------------------------------------------------------------------- data and links


def test_inline_json_cannot_close_its_script_element():
    text = inline_json({"prompt": "</script><script>alert(1)</script> & <!--"})
    assert "<" not in text and ">" not in text and "&" not in text.replace("\\u0026", "")
    assert json.loads(text) == {"prompt": "</script><script>alert(1)</script> & <!--"}


@pytest.fixture(scope="module")
def synthetic_report(tmp_path_factory):
    """A run with judgments by three annotators on 48 items (a refused video among them), no video
    files: the report's tables are built from parquet and judgments alone."""
    tmp = tmp_path_factory.mktemp("gallery")
    items = step_eval_items(48)
    run, judgments = make_run(tmp / "run", MODELS, items=items, annotators=3, refused={MODELS[2]: [items.item_id[3]]})
    paths = build_report(run.root, tmp / "report", annotations=run.root / "judgments.jsonl", bootstrap=0, media="none")
    return paths, judgments, items


def _links(page_html: str, table_key: str) -> list[tuple[str, str]]:
    """(text, href) of the links to videos inside one table block of a page."""
    block = page_html.split(f'id="table-{table_key}"', 1)[1].split('<div class="table-block"', 1)[0]
    return [(html.unescape(t), html.unescape(h)) for h, t in re.findall(r'<a class="to-videos" href="([^"]*)">([^<]*)</a>', block)]


def _select(data: dict, params: list[tuple[str, str]]) -> set[str]:
    """The items a gallery address selects, by the address's documented meaning (reports.gallery)."""
    p = dict(params)
    tags = [m["tag"] for m in data["models"]]
    dims = [d["name"] for d in data["dimensions"]]
    out = set()
    for it in data["items"]:
        if "domain" in p and it["domain"] != p["domain"]:
            continue
        ok = True
        if "outcome" in p or "vote" in p:
            ok = False
            for pair, dim, human, w, t, l, _auto in it["judged"]:
                a, b = (tags[k] for k in data["pairs"][pair])
                sign = 1 if (a, b) == (p["a"], p["b"]) else -1 if (b, a) == (p["a"], p["b"]) else 0
                if not sign or human is None or (p["dim"] != "*" and dims[dim] != p["dim"]):
                    continue
                if "outcome" in p and human * sign == {"win": 1, "tie": 0, "loss": -1}[p["outcome"]]:
                    ok = True
                want = {"win": 1, "tie": 0, "loss": -1}.get(p.get("vote", ""), None)
                if want is not None and (w, t, l)[{1: 0, 0: 1, -1: 2}[want * sign]]:
                    ok = True
        if ok:
            out.add(it["id"])
    return out


def test_every_table2_count_links_to_exactly_its_items(synthetic_report):
    paths, _, items = synthetic_report
    page = paths.index.read_text(encoding="utf-8")
    data = json.loads((paths.out_dir / "gallery.json").read_text(encoding="utf-8"))
    t2 = pd.read_csv(paths.out_dir / "tables" / "table2.csv", keep_default_na=False)
    links = _links(page, "table2")
    assert len(links) > 20
    refused = items.item_id[3]  # static refused it: the pair is in no cell
    for text, href in links:
        assert href.startswith("gallery.html#")
        params = parse_qsl(href.split("#", 1)[1])
        p = dict(params)
        selected = _select(data, params)
        assert not (p["b"] == MODELS[2] and refused in selected)
        if p["dim"] == "*":  # the Total row counts (item, dimension) labels: at least one item per label
            row = t2[(t2.opponent == p["b"]) & (t2.dimension == "total")].iloc[0]
            assert 0 < len(selected) <= int(text)
            continue
        row = t2[(t2.opponent == p["b"]) & (t2.dimension == p["dim"]) & (t2.domain == p.get("domain", ""))].iloc[0]
        assert int(text) == row[{"win": "wins", "tie": "ties", "loss": "losses"}[p["outcome"]]] == len(selected), href
    # The all-votes table links every count to the items where at least one annotator voted so.
    for text, href in _links(page, "table2-votes"):
        params = parse_qsl(href.split("#", 1)[1])
        assert 0 < len(_select(data, params)) <= int(text)


def test_links_names_and_overall_scores_in_the_index(synthetic_report):
    paths, _, _ = synthetic_report
    page = paths.index.read_text(encoding="utf-8")
    long_tag = MODELS[2]
    # The long tag prints as its short name with the full tag on hover; CSV and JSON keep the tag.
    assert f'title="{long_tag}"' in page and ">static<" in page
    assert long_tag in (paths.out_dir / "tables" / "vbench.csv").read_text(encoding="utf-8")
    # A leaderboard row opens that model's videos; a Table 3 value that model's videos by that
    # dimension, best and worst first.
    lb = dict(_links(page, "leaderboard"))
    assert lb["static"] == "gallery.html#model=static%40height%3D144%2Cnum_frames%3D25%2Cwidth%3D256"
    t3 = [h for _, h in _links(page, "vbench")]
    assert any(dict(parse_qsl(h.split("#", 1)[1])) == {"model": MODELS[0], "sort": "vbench_i2v/dynamic_degree", "order": "ends"}
               for h in t3)
    # Every model's overall motion score, as scores.parquet has it.
    overall = pd.read_csv(paths.out_dir / "tables" / "scores-overall.csv")
    scores = pd.DataFrame(score_rows(step_eval_items(48), MODELS))
    motion = scores[scores.metric == "motion_score"].groupby("model_tag")["value"].mean()
    got = overall[overall.metric == "motion_score"].set_index("model_tag")["mean"]
    assert got.to_dict() == pytest.approx(motion.to_dict())
    # The comparison pages link from one folder down.
    cmp = next(p for p in paths.pages)
    assert 'href="../gallery.html#' in cmp.read_text(encoding="utf-8")


def test_no_human_study_is_a_note_not_an_alarm(tmp_path):
    run, _ = make_run(tmp_path / "bare", MODELS[:2], items=step_eval_items(6), judgments=False)
    paths = build_report(run.root, tmp_path / "out", bootstrap=0, media="none")
    page = paths.index.read_text(encoding="utf-8")
    assert not any("human judgments" in w.lower() for w in paths.warnings)
    alerts = re.findall(r'role="alert">([^<]*)<', page)
    assert not any("human judgments" in a.lower() for a in alerts), alerts
    assert "stepeval annotate create-study" in page
    # Judgments that exist but cannot be used still raise the alarm.
    run2, frame = make_run(tmp_path / "gold-only", MODELS[:2], items=step_eval_items(6), annotators=1)
    frame.assign(is_gold=True).to_json(tmp_path / "gold.jsonl", orient="records", lines=True)
    paths2 = build_report(run2.root, tmp_path / "out2", annotations=tmp_path / "gold.jsonl", bootstrap=0, media="none")
    assert any("No usable human judgments" in w for w in paths2.warnings)


# --------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """`stepeval generate` with two baselines on a folder of four image + prompt pairs."""
    from tests.reports.helpers import write_bench
    from stepeval.cli.main import main

    tmp = tmp_path_factory.mktemp("media-modes")
    bench = write_bench(tmp / "bench", [f"real/H/00{k}" for k in range(1, 5)], lambda n: f"prompt {n} <b>")
    assert main(["generate", str(bench), "--model", "static", "--model", "camera", "--set", "height=64", "--set", "width=96",
                 "--set", "num_frames=9", "--set", "fps=8", "--run-dir", str(tmp / "run")]) == 0
    return tmp / "run"


def test_media_modes_from_the_command_line(small_run, tmp_path, capsys):
    from stepeval.cli.main import main

    run = small_run
    # preview: a self-contained folder; the second build makes nothing.
    out = tmp_path / "preview"
    assert main(["report", str(run), "--bootstrap", "0", "--out", str(out), "--media-workers", "1"]) == 0
    assert "(12 media made, 0 from the cache)" in capsys.readouterr().out  # 8 videos + 4 input images
    data = json.loads((out / "gallery.json").read_text(encoding="utf-8"))
    srcs = [v["src"] for it in data["items"] for v in it["videos"]]
    assert len(srcs) == 8 and all((out / s).is_file() and s.startswith("media/") for s in srcs)
    assert main(["report", str(run), "--bootstrap", "0", "--out", str(out)]) == 0
    assert "(0 media made, 12 from the cache)" in capsys.readouterr().out
    # link: the run's own files, relative to the report folder.
    linked = tmp_path / "linked"
    assert main(["report", str(run), "--bootstrap", "0", "--out", str(linked), "--media", "link"]) == 0
    data = json.loads((linked / "gallery.json").read_text(encoding="utf-8"))
    targets = {(linked / unquote(v["src"])).resolve() for it in data["items"] for v in it["videos"]}
    assert targets == {p.resolve() for p in (run / "videos").rglob("*.mp4")}
    assert not (linked / "media").exists()
    # none: no video at all, the rest of the gallery still there.
    bare = tmp_path / "bare"
    assert main(["report", str(run), "--bootstrap", "0", "--out", str(bare), "--media", "none"]) == 0
    data = json.loads((bare / "gallery.json").read_text(encoding="utf-8"))
    assert all("src" not in v for it in data["items"] for v in it["videos"])
    assert not list(bare.rglob("*.mp4")) and len(list((bare / "media" / "inputs").glob("*.jpg"))) == 4
    # The page holds its data as text: a prompt's markup cannot become markup.
    page = (bare / "gallery.html").read_text(encoding="utf-8")
    assert "prompt 0 <b>" not in page and "prompt 0 \\u003cb\\u003e" in page
    capsys.readouterr()
    assert main(["report", str(run), "--out", str(tmp_path / "x"), "--media", "video"]) == 2
    assert "--media" in capsys.readouterr().err
